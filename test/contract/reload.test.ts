/**
 * Reload without dropping sockets: `wsgate reload`, POST /reload and SIGHUP
 * re-read the config and replace every resident worker, while sockets stay.
 */
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, FIXTURES, TARGET, runWsgate, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

describe(`reload on ${TARGET}`, { skip }, () => {
  it('picks up new PHP code and new hosts while sockets stay open', async () => {
    const dir = tempDir();
    const app = join(dir, 'app.php');
    copyFileSync(APP, app);
    writeFileSync(join(dir, 'version.txt'), 'one');
    const config = { hosts: { 'r.test': { app, build: false }, 'gone.test': { app, build: false } } };
    const server = await startServer({ config });
    try {
      const a = await connect(server.port, { host: 'r.test', token: 'stay' });
      const gone = await connect(server.port, { host: 'gone.test', token: 'leave' });
      a.send(JSON.stringify({ cmd: 'version' }));
      assert.equal(await a.next(), 'version one');

      writeFileSync(join(dir, 'version.txt'), 'two');
      a.send(JSON.stringify({ cmd: 'version' }));
      assert.equal(await a.next(), 'version one', 'a resident worker keeps the code it booted with');

      writeFileSync(server.configFile!, JSON.stringify({ hosts: { 'r.test': { app, build: false }, 'new.test': { app, build: false } } }));
      const reload = await runWsgate(['reload', '--url', server.url]);
      assert.equal(reload.code, 0, reload.stderr);
      assert.deepEqual(JSON.parse(reload.stdout), { status: 'ok', hosts: ['r.test', 'new.test'] });

      a.send(JSON.stringify({ cmd: 'version' }));
      assert.equal(await a.next(), 'version two', 'the same socket now runs the new code');
      assert.equal(a.ws.readyState, a.ws.OPEN);
      assert.deepEqual(await gone.closed, { code: 1001, reason: 'host no longer served' });
      assert.equal(await upgradeStatus(server.port, { host: 'new.test', token: 'n' }), 101, 'an added host is served');
      assert.equal(await upgradeStatus(server.port, { host: 'gone.test', token: 'g' }), 401, 'a removed host is not');
      a.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  it('lets a job that waits for a booting worker run after a reload', async () => {
    const server = await startServer({ env: { WSGATE_TEST_BOOT_MS: '500' }, config: { hosts: { 'r.test': { app: APP, build: false } } } });
    try {
      const upgrade = upgradeStatus(server.port, { host: 'r.test', token: 'waiting' });
      await server.waitForLog(/worker starting/);
      assert.equal((await fetch(`${server.url}/reload`, { method: 'POST' })).status, 200);
      assert.equal(await upgrade, 101, 'the auth job ran on a worker of the new generation');
      assert.ok(!server.logs.some((l) => /worker failed to start/.test(l)), 'a worker stopped by the reload is not a failure');
    } finally {
      await server.stop();
    }
  });

  it('keeps the running config when the new one has errors', async () => {
    const server = await startServer({ config: { hosts: { 'r.test': APP } } });
    try {
      writeFileSync(server.configFile!, JSON.stringify({ hosts: { 'r.test': '/nonexistent/app.php' } }));
      const response = await fetch(`${server.url}/reload`, { method: 'POST' });
      assert.equal(response.status, 400);
      const body = await response.json();
      assert.match(body.problems[0], /does not exist/);
      await server.waitForLog(/reload failed problems=/);
      assert.equal(await upgradeStatus(server.port, { host: 'r.test', token: 't' }), 101, 'still serving the old config');
    } finally {
      await server.stop();
    }
  });

  it('reloads on SIGHUP', async () => {
    const server = await startServer({ config: { hosts: { 'r.test': APP } } });
    try {
      writeFileSync(server.configFile!, JSON.stringify({ hosts: { 'r.test': APP, 'hup.test': join(FIXTURES, 'notasks.php') } }));
      server.child.kill('SIGHUP');
      await server.waitForLog(/reloaded hosts=r\.test,hup\.test/);
      await waitFor('hup.test to be served', async () => (await upgradeStatus(server.port, { host: 'hup.test', token: 't' })) === 101 || undefined);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
