/**
 * Hosts that run one app share its resident pool, so they must agree on its
 * settings. A symlink (or any second path) to the same app is the same pool:
 * `check`, `serve` and a reload compare apps by real path, as the pools key them.
 */
import assert from 'node:assert/strict';
import { copyFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { upgradeStatus } from '../support/client.ts';
import { APP, TARGET, runWsgate, startServer, targetAvailable, tempDir, writeJson } from '../support/server.ts';

const skip = targetAvailable();

describe(`hosts sharing an app by real path must agree on its pool, on ${TARGET}`, { skip }, () => {
  const dir = tempDir();
  const app = join(dir, 'app.php');
  copyFileSync(APP, app);
  const link = join(dir, 'link.php');
  symlinkSync(app, link);
  const disagreeing = { port: 0, hosts: { 'a.test': { app, build: false }, 'b.test': { app: link, build: false, pool: { maxQueue: 5 } } } };
  const problem = /hosts\["b\.test"\]\.pool\.maxQueue: 5 differs from hosts\["a\.test"\]'s 1000; both run \S*app\.php, whose one pool takes one setting/;

  it('check and serve refuse it, naming both hosts and the setting', async () => {
    const file = writeJson(join(dir, 'disagree.json'), disagreeing);
    const checked = await runWsgate(['check', '--config', file]);
    assert.equal(checked.code, 2, `check passed: ${checked.stdout}`);
    assert.match(checked.stderr, problem);
    const served = await runWsgate(['serve', '--config', file]);
    assert.equal(served.code, 2, served.stderr);
    assert.equal(served.stderr.trim(), checked.stderr.trim());
  });

  it('a reload refuses it and keeps serving the config it has', async () => {
    const server = await startServer({ config: { hosts: { 'a.test': { app, build: false } } } });
    try {
      writeFileSync(server.configFile!, JSON.stringify(disagreeing));
      const response = await fetch(`${server.url}/reload`, { method: 'POST' });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { problems: string[] };
      assert.match(body.problems.join('\n'), problem);
      assert.equal(await upgradeStatus(server.port, { host: 'a.test', token: 't' }), 101, 'still serving the old config');
      assert.equal(await upgradeStatus(server.port, { host: 'b.test', token: 't' }), 401, 'the refused host is not served');
    } finally {
      await server.stop();
    }
  });
});
