/**
 * A client that goes away without a close frame (its connection reset, or
 * ended with no close) closed abnormally: the log says 1006 on every
 * runtime, also when it goes after the gateway closed it and before it
 * answered (Bun excepted: it ends the connection once its close frame is
 * out, and logs the code it sent). A close frame that carries no code is
 * 1005, as RFC 6455 says.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stalledClient } from '../support/client.ts';
import { loggedCloseCode, socketIdOf } from '../support/logs.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

describe(`the close code of a client that just goes, on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { limits: { messagesPerSecond: 0.001, messageBurst: 1 }, hosts: { 'a.test': { module: join(FIXTURES, 'hooks.ts') } } } });
  });
  after(() => server?.stop());

  const cases: Array<[string, number, (socket: import('node:net').Socket) => void]> = [
    ['its connection reset', 1006, (socket) => socket.resetAndDestroy()],
    ['its connection ended with no close frame', 1006, (socket) => socket.end()],
    // A masked close frame with an empty payload.
    ['a close frame with no code', 1005, (socket) => socket.end(Buffer.from([0x88, 0x80, 0, 0, 0, 0]))],
  ];
  for (const [what, code, leave] of cases) {
    it(`logs ${code} for ${what}`, async () => {
      const token = what.replace(/\W+/g, '-');
      const socket = await stalledClient(server.port, { host: 'a.test', token });
      socket.on('error', () => {});
      socket.resume();
      const id = await socketIdOf(server, 'a.test', token);
      leave(socket);
      assert.equal(await loggedCloseCode(server, 'a.test', id), code);
    });
  }

  const closedFirst: Array<[string, (socket: import('node:net').Socket) => void]> = [
    ['resets its connection', (socket) => socket.resetAndDestroy()],
    ['ends its connection with no close frame', (socket) => socket.end()],
  ];
  // Bun (from source and the binary) ends the connection once its close frame is out, and logs the code it sent.
  const expected = TARGET === 'bun' || TARGET === 'binary' ? 1008 : 1006;
  for (const [what, leave] of closedFirst) {
    it(`logs ${expected} for a client closed for a limit that ${what} instead of answering`, async () => {
      const token = `limit-${what.replace(/\W+/g, '-')}`;
      const socket = await stalledClient(server.port, { host: 'a.test', token });
      socket.on('error', () => {});
      const id = await socketIdOf(server, 'a.test', token);
      const closeFrame = new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => chunk.includes(0x88) && resolve()));
      socket.resume();
      // Two masked text frames: one over the burst.
      for (let i = 0; i < 2; i++) socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x6d, 0x30 + i]));
      await server.waitForLog(new RegExp(` limit host=a\\.test socket=${id} .*code=1008`));
      await closeFrame;
      leave(socket);
      assert.equal(await loggedCloseCode(server, 'a.test', id), expected);
    });
  }
});
