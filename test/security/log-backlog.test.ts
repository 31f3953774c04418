/**
 * A peer makes the gateway log while the log's reader has stalled: Bun,
 * Deno and Node keep what a pipe cannot take in memory, with no bound of
 * their own. wsgate holds at most 1 MiB of lines for the reader, drops the
 * rest, and says how many once the reader is back. On Deno, whose
 * process.stderr blocks on a full pipe, the gateway must also go on
 * answering meanwhile (its /health below). The lines are a client's own
 * subscribes, each logged whole (a refused upgrade, which costs a peer
 * nothing, is summed once past a few a second: refusal-log-flood.test.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';

const skip = targetAvailable();
const SOCKETS = 20;
const ROUNDS = 20;
// Forty frames in flight a socket, under limits.pending (100).
const PER_ROUND = 20;
const SUBSCRIBES = SOCKETS * ROUNDS * PER_ROUND;
// About 260 characters a line: 8,000 of them are twice the bound.
const CHANNEL = `c${'x'.repeat(190)}`;

describe(`the log's backlog on ${TARGET}`, { skip, timeout: 120_000 }, () => {
  it('drops log lines past its bound while the reader is stalled, stays up, and says how many it dropped', async () => {
    // At info, the stall's only lines are the subscribes (at debug, each join and hook run is one more).
    const server = await startServer({
      args: ['--log-level', 'info'],
      config: { limits: { messagesPerSecond: 100_000, messageBurst: 100_000 }, hosts: { 'a.test': { module: join(FIXTURES, 'hooks.ts'), clientChannels: true } } },
    });
    const clients: Client[] = [];
    try {
      for (let i = 0; i < SOCKETS; i++) clients.push(await connect(server.port, { host: 'a.test', token: `t${i}` }));
      const before = server.logs.length;
      // The reader stalls: the pipe fills (64 KiB) and the rest waits in the gateway.
      server.child.stderr!.pause();
      // Each socket joins and leaves the channel, a round at a time, each answer read: every subscribe is a line.
      await Promise.all(
        clients.map(async (c) => {
          for (let round = 0; round < ROUNDS; round++) {
            for (let i = 0; i < PER_ROUND; i++) {
              c.send(JSON.stringify({ wsgate: 'subscribe', channel: CHANNEL }));
              c.send(JSON.stringify({ wsgate: 'unsubscribe', channel: CHANNEL }));
            }
            for (let i = 0; i < PER_ROUND * 2; i++) assert.match(await c.next(), /"wsgate":"(subscribed","channel":"c[x]+","ok":true|unsubscribed)/);
          }
        }),
      );
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      // The reader is back: what was held comes, then the count of what was not.
      server.child.stderr!.resume();
      const notice = await server.waitForLog(/log lines dropped: \d+/, 20_000);
      const dropped = Number(/log lines dropped: (\d+)/.exec(notice)![1]);
      const subscribeLines = server.logs.slice(before).filter((line) => / INFO  subscribe host=a\.test /.test(line)).length;
      assert.ok(dropped > 0);
      assert.equal(subscribeLines + dropped, SUBSCRIBES, `${subscribeLines} lines came and ${dropped} were dropped, of ${SUBSCRIBES}`);
      // About 1 MiB of ~260-character lines, plus what the pipe held.
      assert.ok(subscribeLines < 5500, `${subscribeLines} subscribes were logged: the backlog was not bounded`);
      // And it logs again.
      clients[0]!.send(JSON.stringify({ wsgate: 'subscribe', channel: 'again' }));
      await server.waitForLog(/ INFO  subscribe host=a\.test \S+ channel=again$/, 5_000);
    } finally {
      // A stop waits for its last lines to be read.
      server.child.stderr!.resume();
      for (const c of clients) c.ws.terminate();
      await server.stop();
    }
  });
});
