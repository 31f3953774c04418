/**
 * Attack: a client that floods control frames (pings, or pongs nobody asked
 * for) instead of messages. Each costs the gateway a read and, for a ping, a
 * pong: they count against the same per-socket rate as messages
 * (limits.messagesPerSecond, limits.messageBurst), and a flood is closed as
 * a message flood is (1008, the `limit` line). A client's keepalive pings,
 * far below that rate, are answered and never close it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, stalledClient } from '../support/client.ts';
import { socketIdOf } from '../support/logs.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

// Deno answers pings inside its WebSocket and tells the program nothing of them (no ping or pong event): wsgate cannot
// count them there. Its keepalive (runtime/deno-keepalive.ts) still drops a flood that does not read (ping-flood.test.ts).
const denoHidesPings = TARGET === 'deno' ? 'Deno answers pings itself and gives no event for them: nothing to count' : undefined;
const skip = targetAvailable() ?? denoHidesPings;

const BURST = 10;

/** Rejects when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe(`control frames against the message rate, on ${TARGET}`, { skip }, () => {
  const hooks = join(FIXTURES, 'hooks.ts');
  const config = {
    closeTimeout: 1,
    limits: { messagesPerSecond: 1, messageBurst: BURST },
    hosts: { 'p.test': { module: hooks }, 'f.test': { module: hooks, tokenFrom: 'message' } },
    pusher: { apps: [{ id: 'ping', key: 'ping-key', secret: 'a-secret-of-some-length-for-pings', limits: { subscriptions: BURST } }] },
  };
  // One server for the cases below but the last: the rate is per socket, and each case has a token of its own.
  let server: Started;
  before(async () => {
    server = await startServer({ config });
  });
  after(() => server?.stop());

  for (const kind of ['ping', 'pong'] as const) {
    it(`closes a client that floods ${kind}s as one that floods messages: 1008, logged as a limit`, async () => {
      const client = await connect(server.port, { host: 'p.test', token: `${kind}-flood` });
      const id = await socketIdOf(server, 'p.test', `${kind}-flood`);
      for (let i = 0; i < BURST * 5; i++) client.ws[kind]();
      const { code, reason } = await within(client.closed, 5000, `not closed for a flood of ${kind}s`);
      assert.equal(code, 1008);
      assert.equal(reason, 'too many messages per second');
      assert.match(await server.waitForLog(new RegExp(` limit host=p\\.test socket=${id} `)), /code=1008 .*too many messages per second/);
    });
  }

  // Its burst is its app's subscriptions and 4 more (pusher/connection.ts): 14 here.
  it('closes a Pusher connection that floods pings as one that floods messages', async () => {
    const client = await connect(server.port, { path: '/app/ping-key?protocol=7&client=js&version=8.4.0' });
    assert.match(await client.next(5000), /pusher:connection_established/);
    for (let i = 0; i < BURST * 5; i++) client.ws.ping();
    const { code, reason } = await within(client.closed, 5000, 'not closed for a flood of pings');
    assert.deepEqual([code, reason], [1008, 'too many messages per second']);
  });

  it('closes a first-frame auth socket that floods pings, before its auth and after it', async () => {
    const early = await connect(server.port, { host: 'f.test' });
    for (let i = 0; i < BURST * 5; i++) early.ws.ping();
    assert.deepEqual(await within(early.closed, 5000, 'not closed for pings before auth'), { code: 1008, reason: 'too many pings before auth finished' });
    const late = await connect(server.port, { host: 'f.test' });
    late.send(JSON.stringify({ type: 'auth', token: 'late' }));
    await socketIdOf(server, 'f.test', 'late');
    for (let i = 0; i < BURST * 5; i++) late.ws.ping();
    assert.deepEqual(await within(late.closed, 5000, 'not closed for pings after auth'), { code: 1008, reason: 'too many messages per second' });
  });

  it('closes a ping flood that reads nothing, and lets go of its connection within closeTimeout', async () => {
    const flood = await stalledClient(server.port, { host: 'p.test', token: 'unread-flood' });
    flood.on('error', () => {});
    const gone = new Promise<void>((resolve) => flood.once('close', () => resolve()));
    const id = await socketIdOf(server, 'p.test', 'unread-flood');
    // 50 masked empty pings; their pongs and the close stay unread.
    flood.write(Buffer.concat(Array.from({ length: BURST * 5 }, () => Buffer.from([0x89, 0x80, 0, 0, 0, 0]))));
    assert.match(await server.waitForLog(new RegExp(` limit host=p\\.test socket=${id} `), 5000), /code=1008/);
    // It reads again, all but answering the close: the gateway ends the connection (closeTimeout 1 s).
    flood.on('data', () => {});
    flood.resume();
    await within(gone, 5000, 'the gateway still holds the connection of a ping flood it closed');
  });

  it("answers a client's keepalive pings within the rate and keeps it", async () => {
    const client = await connect(server.port, { host: 'p.test', token: 'keepalive' });
    const id = await socketIdOf(server, 'p.test', 'keepalive');
    // Up to the burst, each once the previous one is answered.
    for (let i = 0; i < BURST - 1; i++) {
      const pong = new Promise((resolve) => client.ws.once('pong', resolve));
      client.ws.ping();
      await pong;
    }
    // A message after them still gets through, and its answer comes: the socket was never closed.
    client.send('hello');
    assert.equal(await client.next(5000), 'module got hello');
    assert.equal(client.ws.readyState, client.ws.OPEN);
    assert.ok(!server.logs.some((line) => line.includes(` limit host=p.test socket=${id} `)), 'no limit for keepalive pings');
    client.ws.terminate();
  });

  it('keeps a client that pinged after a quiet spell when a reload lowers the rate', async () => {
    const lowered = await startServer({ config: { ...config, limits: { messagesPerSecond: 10, messageBurst: BURST } } });
    try {
      const client = await connect(lowered.port, { host: 'p.test', token: 'reloaded' });
      client.send('hello');
      assert.equal(await client.next(), 'module got hello');
      assert.equal(await client.next(), 'module done');
      // The quiet spell is what is tested: 15 frames' worth at the old rate, one and a half at the new.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const pong = new Promise((resolve) => client.ws.once('pong', resolve));
      client.ws.ping();
      await pong;
      writeFileSync(lowered.configFile!, JSON.stringify({ ...config, limits: { messagesPerSecond: 1, messageBurst: BURST } }));
      assert.equal((await fetch(`${lowered.url}/reload`, { method: 'POST' })).status, 200);
      client.send('again');
      assert.equal(await client.next(5000), 'module got again', 'the message after the reload is taken: no debt from the old rate');
      assert.ok(!lowered.logs.some((line) => line.includes('too many messages per second')));
      client.ws.terminate();
    } finally {
      await lowered.stop();
    }
  });

  it('does not count pings as messages for idleTimeout: a client that only pings is still closed as idle', async () => {
    const idle = await startServer({ config: { ...config, idleTimeout: 1 } });
    try {
      const client = await connect(idle.port, { host: 'p.test', token: 'pinger' });
      let closed = false;
      void client.closed.then(() => (closed = true));
      // A ping each time the last is answered, at the rate: far more often than the idle timeout.
      const pinging = (async () => {
        while (!closed) {
          const answered = new Promise((resolve) => {
            client.ws.once('pong', resolve);
            void client.closed.then(resolve);
          });
          if (client.ws.readyState === client.ws.OPEN) client.ws.ping();
          await answered;
          await new Promise((resolve) => setTimeout(resolve, 1000 / config.limits.messagesPerSecond));
        }
      })();
      // Closed after a second idle, at the next sweep; a client whose pings count is never closed.
      const { code } = await within(client.closed, 10_000, 'a client that only pings was not closed as idle');
      assert.equal(code, 1001);
      await pinging;
    } finally {
      await idle.stop();
    }
  });
});
