/**
 * Attack: a client that sends pings as fast as it can and reads nothing, so
 * that the runtime's pongs pile up unread. Where the runtime tells of pings
 * (Bun, Node) they count against the message rate, which closes the flood
 * (ping-rate.test.ts); Deno answers them unseen, and a runtime that answers
 * each ping before it reads the next stops reading from it once its pongs no
 * longer fit, so there the keepalive must find it dead. Either way its place
 * among the sockets goes to the next client, and the connection is let go
 * once the client reads again, though it never answers the close, as for any
 * client that does not read (stalled-reader.test.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, stalledClient } from '../support/client.ts';
import { loggedCloseCode, socketIdOf } from '../support/logs.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';

const skip = targetAvailable();

/** 512 masked pings of 125 bytes each: 64 KiB of pongs to answer. */
const PINGS = (() => {
  const frame = Buffer.alloc(2 + 4 + 125);
  frame[0] = 0x89;
  frame[1] = 0x80 | 125;
  return Buffer.concat(Array.from({ length: 512 }, () => frame));
})();

/** Rejects when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe(`a client that floods pings and reads nothing, on ${TARGET}`, { skip }, () => {
  it('is dropped, by the message rate or the keepalive: its place goes to the next client, its connection ends', async () => {
    const server = await startServer({ config: { keepalive: 1, limits: { sockets: 2 }, hosts: { 'p.test': { module: join(FIXTURES, 'hooks.ts') } } } });
    try {
      // Answers every ping, sends nothing: neither the rate nor the keepalive may drop it.
      const healthy = await connect(server.port, { host: 'p.test', token: 'healthy' });
      const flood = await stalledClient(server.port, { host: 'p.test', token: 'flood' });
      flood.on('error', () => {});
      const id = await socketIdOf(server, 'p.test', 'flood');
      let closed = false;
      const gone = new Promise<void>((resolve) => flood.once('close', () => resolve()));
      void gone.then(() => (closed = true));
      // Pings until the server stops taking them (its pongs fill both kernel buffers), and on whenever it reads again.
      const pour = () => {
        while (!closed && flood.write(PINGS));
      };
      flood.on('drain', pour);
      pour();
      // At once by the rate (512 pings, over the burst of 200), or within twice the keepalive, checked every half keepalive
      // (deno-keepalive.ts); a margin for a busy machine.
      await loggedCloseCode(server, 'p.test', id, 12_000);
      const next = await connect(server.port, { host: 'p.test', token: 'next' });
      // It reads again, all but answering the close: the connection must end.
      flood.off('drain', pour);
      flood.on('data', () => {});
      flood.resume();
      await within(gone, 5000, 'the gateway still holds the connection of the client it dropped');
      assert.equal(healthy.ws.readyState, healthy.ws.OPEN, 'a client that answers pings stays');
      next.ws.terminate();
      healthy.ws.terminate();
    } finally {
      await server.stop();
    }
  });
});
