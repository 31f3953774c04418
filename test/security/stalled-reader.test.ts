/**
 * Attack: a client that stops reading, so that what the gateway writes to it
 * piles up. Past limits.sendBuffer it is dropped (1013) and its place among
 * the sockets is given back at once. The connection must go with it: the
 * client would not read a close frame, let alone answer one, and a runtime
 * that waits for the close handshake keeps the connection, its file
 * descriptor and the kernel's buffers (megabytes) for as long as the client
 * likes, with its place already free for the next one (on Deno, for good).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, stalledClient } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';

const skip = targetAvailable();

/** Rejects when `promise` has not settled within `ms`: the gateway's bound on how long it holds on. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe(`a client that does not read, on ${TARGET}`, { skip }, () => {
  it('loses its connection, not only its place, once its unsent frames pass limits.sendBuffer', async () => {
    const server = await startServer({ config: { limits: { sendBuffer: 256 * 1024, sockets: 2 }, hosts: { 's.test': { module: join(FIXTURES, 'hooks.ts') } } } });
    try {
      const stalled = await stalledClient(server.port, { host: 's.test', token: 'slow' });
      stalled.on('error', () => {});
      const gone = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
      const data = 'z'.repeat(64 * 1024);
      let dropped = false;
      for (let i = 0; i < 400 && !dropped; i++) {
        const res = await fetch(`${server.url}/message`, { method: 'POST', body: JSON.stringify({ host: 's.test', target: 'token:slow', data }) });
        assert.equal(res.status, 200);
        dropped = server.logs.some((l) => /limit host=s\.test .*code=1013/.test(l));
      }
      assert.ok(dropped, 'the stalled client was dropped with 1013');
      // Its place is free: the gateway holds 2 sockets at most, and this one and another get in.
      const next = await connect(server.port, { host: 's.test', token: 'next' });
      const other = await connect(server.port, { host: 's.test', token: 'other' });
      // It reads again (all that was sent before the drop), but never answers a close frame: the connection must end anyway.
      stalled.on('data', () => {});
      stalled.resume();
      await within(gone, 5000, 'the gateway still holds the connection of the client it dropped');
      next.ws.terminate();
      other.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  it('loses its connection when it never answers the close of a limit, within the 30 s Node waits', { timeout: 60_000 }, async () => {
    const server = await startServer({ config: { limits: { messagesPerSecond: 0.001, messageBurst: 5 }, hosts: { 's.test': { module: join(FIXTURES, 'hooks.ts') } } } });
    try {
      const silent = await stalledClient(server.port, { host: 's.test', token: 'silent' });
      silent.on('error', () => {});
      const gone = new Promise<void>((resolve) => silent.once('close', () => resolve()));
      // Reads everything, the close frame too, and answers nothing.
      silent.on('data', () => {});
      silent.resume();
      // Six masked text frames: one over the burst.
      for (let i = 0; i < 6; i++) silent.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x6d, 0x30 + i]));
      await server.waitForLog(/limit host=s\.test .*code=1008/);
      await within(gone, 40_000, 'the gateway still holds a connection it closed 40 s ago');
    } finally {
      await server.stop();
    }
  });
});
