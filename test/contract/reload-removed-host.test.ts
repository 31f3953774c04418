/**
 * A reload that removes a host closes its sockets with 1001, and from then on
 * nothing a socket of it sends reaches a hook of the removed app: a client
 * that keeps sending without answering the close (for up to closeTimeout)
 * had each frame run a receive hook. Its close hook runs once.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, stalledClient } from '../support/client.ts';
import { readEvents, waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

/** A masked text frame of a short ASCII message, as a client sends it (mask 0: the payload goes as is). */
const textFrame = (text: string) => Buffer.concat([Buffer.from([0x81, 0x80 | text.length, 0, 0, 0, 0]), Buffer.from(text)]);
/** A masked close frame with code 1000. */
const CLOSE_FRAME = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);

describe(`a reload that removes a host, on ${TARGET}`, { skip, timeout: 20_000 }, () => {
  it('runs no hook for what its socket sends after the 1001, and its close hook once', async () => {
    const dir = tempDir();
    const events = join(dir, 'events.jsonl');
    const hosts = { 'kept.test': { app: APP, build: false }, 'gone.test': { app: APP, build: false } };
    const server = await startServer({ env: { WSGATE_TEST_EVENTS: events }, config: { hosts } });
    try {
      const keeper = await connect(server.port, { host: 'kept.test', token: 'k' });
      const socket = await stalledClient(server.port, { host: 'gone.test', token: 'late' });
      socket.on('error', () => {});
      const ofGone = (hook: string) => readEvents(events).filter((e) => e.at === 'end' && e.hook === hook && e.argv[1] === 'gone.test');
      await waitFor('its connect hook ran', () => ofGone('connect').length > 0);
      const closeFrame = new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => chunk.includes(0x88) && resolve()));
      const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.resume();

      writeFileSync(server.configFile!, JSON.stringify({ hosts: { 'kept.test': hosts['kept.test'] } }));
      assert.equal((await fetch(`${server.url}/reload`, { method: 'POST' })).status, 200);
      await closeFrame;
      // Frames after the gateway's close, then the answer to it: the gateway has read them all once it ends the connection.
      for (let i = 0; i < 3; i++) socket.write(textFrame(`late ${i}`));
      socket.write(CLOSE_FRAME);
      await ended;
      await waitFor('its close hook ran', () => ofGone('close').length > 0);

      // The kept host's round trip runs after the removed socket's close came in, whatever order hooks end in.
      keeper.send(JSON.stringify({ cmd: 'version' }));
      await keeper.next();
      assert.deepEqual(ofGone('receive').map((e) => e.argv[4]), [], 'no receive hook ran for frames sent after the 1001');
      assert.equal(ofGone('close').length, 1, 'its close hook ran once');
      keeper.ws.terminate();
    } finally {
      await server.stop();
    }
  });
});
