/**
 * A peer makes the gateway log (a refused upgrade costs it nothing) while the
 * log's reader has stalled: Bun, Deno and Node keep what a pipe cannot take
 * in memory, with no bound of their own. wsgate holds at most 1 MiB of lines
 * for the reader, drops the rest, and says how many once the reader is back.
 * On Deno, whose process.stderr blocks on a full pipe, the gateway must also
 * go on answering meanwhile (its /health below).
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { describe, it } from 'node:test';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';

const skip = targetAvailable();
const REFUSALS = 8000;

describe(`the log's backlog on ${TARGET}`, { skip, timeout: 120_000 }, () => {
  it('drops log lines past its bound while the reader is stalled, stays up, and says how many it dropped', async () => {
    const server = await startServer({ config: { hosts: { 'a.test': { app: APP } } } });
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    // An upgrade for a host not configured: 403 and a WARN line of about 300 characters (its Origin shown, cut short).
    const refusal = () =>
      new Promise<number>((resolve, reject) => {
        const headers = { host: 'nope.test', origin: `http://${'o'.repeat(300)}.test`, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
        const req = request({ port: server.port, host: '127.0.0.1', path: '/websocket', agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('upgrade', (_res, socket) => {
          socket.destroy();
          resolve(101);
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const before = server.logs.length;
      // The reader stalls: the pipe fills (64 KiB) and the rest waits in the gateway.
      server.child.stderr!.pause();
      for (let sent = 0; sent < REFUSALS; sent += 500) {
        const statuses = await Promise.all(Array.from({ length: 500 }, refusal));
        assert.ok(statuses.every((status) => status === 403), `answers: ${[...new Set(statuses)].join(', ')}`);
      }
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      // The reader is back: what was held comes, then the count of what was not.
      server.child.stderr!.resume();
      const notice = await server.waitForLog(/log lines dropped: \d+/, 20_000);
      const dropped = Number(/log lines dropped: (\d+)/.exec(notice)![1]);
      const refusedLines = server.logs.slice(before).filter((line) => /upgrade refused host=nope\.test/.test(line)).length;
      assert.ok(dropped > 0);
      assert.equal(refusedLines + dropped, REFUSALS, `${refusedLines} lines came and ${dropped} were dropped, of ${REFUSALS}`);
      // About 1 MiB of ~300-character lines, plus what the pipe held.
      assert.ok(refusedLines < 5000, `${refusedLines} refusals were logged: the backlog was not bounded`);
      // And it logs again.
      await fetch(`${server.url}/health`);
      assert.equal(await new Promise((resolve) => refusal().then(resolve)), 403);
      await server.waitForLog(new RegExp(`upgrade refused host=nope\\.test`), 5_000);
    } finally {
      agent.destroy();
      await server.stop();
    }
  });
});
