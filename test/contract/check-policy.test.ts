/**
 * `wsgate check` passes exactly the configs `serve` would take: the rules
 * that look at more than one field (a public bridge needs a secret) are
 * applied by both, with the same words.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { APP, TARGET, runWsgate, targetAvailable, tempDir, writeJson } from '../support/server.ts';

const skip = targetAvailable();
const SECRET = 'a-secret-of-enough-length';

describe(`check applies serve's policy on ${TARGET}`, { skip }, () => {
  const dir = tempDir();
  // WSGATE_SECRET from the caller's shell would make every case pass: clear it.
  const env = { WSGATE_SECRET: '' };

  it('refuses a non-loopback listen without a secret, as serve does, with the same message', async () => {
    const file = writeJson(join(dir, 'public.json'), { listen: '0.0.0.0', port: 0, hosts: { 'a.test': APP } });
    const [checked, served] = await Promise.all([runWsgate(['check', '--config', file], env), runWsgate(['serve', '--config', file], env)]);
    assert.equal(served.code, 2, served.stderr);
    assert.match(served.stderr, /listening on 0\.0\.0\.0 would let anyone who can reach it cast/);
    assert.equal(checked.code, 2, `check passed what serve refuses: ${checked.stdout}`);
    assert.equal(checked.stderr.trim(), served.stderr.trim());
    assert.equal(checked.stdout, '', 'prints no config it would not serve');
  });

  it('refuses a public bridge address without a secret, and --listen on the command line too', async () => {
    const bridge = writeJson(join(dir, 'bridge.json'), { port: 0, bridge: { listen: '0.0.0.0', port: 0 }, hosts: { 'a.test': APP } });
    const local = writeJson(join(dir, 'local.json'), { port: 0, hosts: { 'a.test': APP } });
    const [viaBridge, viaFlag] = await Promise.all([runWsgate(['check', '--config', bridge], env), runWsgate(['check', '--config', local, '--listen', '0.0.0.0'], env)]);
    assert.equal(viaBridge.code, 2);
    assert.match(viaBridge.stderr, /listening on 0\.0\.0\.0 would let anyone/);
    assert.equal(viaFlag.code, 2);
    assert.match(viaFlag.stderr, /listening on 0\.0\.0\.0 would let anyone/);
  });

  it('passes the same configs once they are safe: a secret, or the bridge on its own loopback address', async () => {
    const withSecret = writeJson(join(dir, 'secret.json'), { listen: '0.0.0.0', port: 0, secret: SECRET, hosts: { 'a.test': APP } });
    const secretFromEnv = writeJson(join(dir, 'env-secret.json'), { listen: '0.0.0.0', port: 0, hosts: { 'a.test': APP } });
    const ownBridge = writeJson(join(dir, 'own-bridge.json'), { listen: '0.0.0.0', port: 0, bridge: { port: 0 }, hosts: { 'a.test': APP } });
    const [checkedSecret, checkedEnvSecret, checked] = await Promise.all([
      runWsgate(['check', '--config', withSecret], env),
      runWsgate(['check', '--config', secretFromEnv], { WSGATE_SECRET: SECRET }),
      runWsgate(['check', '--config', ownBridge], env),
    ]);
    assert.equal(checkedSecret.code, 0);
    assert.ok(!checkedSecret.stdout.includes(SECRET), 'check never prints the secret');
    assert.match(JSON.parse(checkedSecret.stdout).secret, /^sha256:[0-9a-f]+$/);
    assert.equal(checkedEnvSecret.code, 0);
    assert.equal(checked.code, 0, checked.stderr);
  });
});
