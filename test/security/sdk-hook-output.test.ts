/**
 * What PHP prints besides a hook's verdict, against the real server: a
 * warning a client's token trips, or a debug print, must not turn an auth
 * or connect hook's `false` into acceptance (a one-shot hook's verdict is
 * its stdout), and PHP's warnings (paths, code) must not reach the socket.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const HOOKS = join(FIXTURES, 'noisy.php');

describe(`a plain-PHP hook that prints besides its verdict on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    // PHP as it runs without a php.ini (Docker's php images) or with php.ini-development: warnings on stdout.
    const php = join(tempDir(), 'php');
    writeFileSync(php, '#!/bin/sh\nexec php -d display_errors=1 -d error_reporting=-1 -d memory_limit=128M "$@"\n');
    chmodSync(php, 0o755);
    const hosts = { 'oneshot.test': { hooks: HOOKS, build: true }, 'resident.test': { hooks: HOOKS, build: false } };
    server = await startServer({ config: { php, hosts, limits: { hookLine: 4096 } } });
  });
  after(() => server.stop());

  for (const host of ['oneshot.test', 'resident.test']) {
    it(`refuses a token that trips a warning in wsAuth (${host})`, async () => {
      assert.equal(await upgradeStatus(server.port, { host, token: 'x.good' }), 101);
      assert.equal(await upgradeStatus(server.port, { host, token: 'x.bad' }), 401);
      assert.equal(await upgradeStatus(server.port, { host, token: 'no-dot' }), 401, 'the warning made the refusal an acceptance');
    });

    it(`refuses when wsAuth ends PHP with die('forbidden') (${host})`, async () => {
      const status = await upgradeStatus(server.port, { host, token: 'die.good' });
      assert.ok(status >= 400, `answered ${status}`);
    });

    it(`closes a socket wsConnect refused although it printed (${host})`, async () => {
      const c = await connect(server.port, { host, token: 'closeme.good' });
      // Bounded: left open, the socket would never close.
      const code = await Promise.race([c.closed.then((closed) => closed.code), new Promise((resolve) => setTimeout(resolve, 5000, 'still open')).finally(() => {})]);
      c.ws.terminate();
      assert.equal(code, 1008);
    });

    it(`sends the socket what wsReceive printed, not PHP's warnings (${host})`, async () => {
      const c = await connect(server.port, { host, token: 'x.good' });
      c.send('a:b');
      assert.equal(await c.next(), 'got b');
      c.send('no colon');
      assert.equal(await c.next(), 'got ');
      c.send('a:after');
      assert.equal(await c.next(), 'got after', `the socket got ${JSON.stringify(c.received)}`);
      c.ws.terminate();
    });

    it(`sends what wsReceive left in output buffers it did not close, with its job (${host})`, async () => {
      const c = await connect(server.port, { host, token: 'x.good' });
      c.send('unclosed');
      c.send('a:after');
      assert.deepEqual([await c.next(), await c.next(), await c.next()], ['kept 1', 'kept 2', 'got after']);
      c.ws.terminate();
    });

    it(`ends a wsReceive that prints a line without end once it is over limits.hookLine (${host})`, async () => {
      const c = await connect(server.port, { host, token: 'x.good' });
      c.send('endless');
      // Bounded: held to its end, the line takes PHP minutes of copying before its memory runs out.
      const line = await server.waitForLog(new RegExp(`${host}.*(longer than|over the bound|Allowed memory size)`), 20_000);
      assert.match(line, /longer than|over the bound/, 'PHP held the line in memory instead');
      c.ws.terminate();
    });
  }
});
