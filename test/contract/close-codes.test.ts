/**
 * The `close` log line carries the code the connection was closed with when
 * the runtime closes it for a protocol reason: 1007 for a text frame that is
 * not UTF-8, 1009 for a frame over limits.frame. The client's reply to that
 * close frame is never read (the server stops reading on such an error), so
 * a runtime that reports only the code it received says 1006.
 * Any other broken frame is a protocol error (1002), on the wire and in the
 * log; Deno sends no close frame for one, so its log says 1006.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, stalledClient } from '../support/client.ts';
import { loggedCloseCode, socketIdOf } from '../support/logs.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const FRAME_LIMIT = 1024;

describe(`close codes in the log on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { limits: { frame: FRAME_LIMIT }, hosts: { 'c.test': { module: join(FIXTURES, 'hooks.ts') } } } });
  });
  after(() => server?.stop());

  /** Opens a socket, waits until the gateway has it open, and returns it with its id. */
  const open = async (token: string) => {
    const client = await connect(server.port, { host: 'c.test', token });
    client.send('hello');
    assert.equal(await client.next(), 'module got hello');
    await client.next();
    // The log comes through a pipe of its own, which may be behind the socket: waited for, by the token's hash.
    const tokenHash = createHash('sha256').update(token).digest('hex').slice(0, 12);
    const line = await server.waitForLog(new RegExp(` open host=c\\.test socket=[0-9a-f]{16} token=${tokenHash} `));
    return { client, socket: /socket=([0-9a-f]{16})/.exec(line)![1]! };
  };

  it('logs 1007 for a text frame of invalid UTF-8', async () => {
    const { client, socket } = await open('utf8');
    // ws sends the bytes as they are, with the text opcode: 0xff never occurs in UTF-8.
    client.ws.send(Buffer.from([0x68, 0x69, 0xff, 0xfe]), { binary: false });
    const closed = await client.closed;
    const line = await server.waitForLog(new RegExp(` close host=c\\.test socket=${socket} `));
    assert.match(line, / code=1007 /, `the log line: ${line} (the client saw ${closed.code})`);
  });

  it('logs 1009 for a frame over limits.frame', async () => {
    const { client, socket } = await open('big');
    client.send('y'.repeat(FRAME_LIMIT * 2));
    const closed = await client.closed;
    assert.equal(closed.code, 1009);
    const line = await server.waitForLog(new RegExp(` close host=c\\.test socket=${socket} `));
    assert.match(line, / code=1009 /, line);
  });

  /** A masked frame from a raw socket: what no WebSocket client library would send. */
  const rawFrame = (first: number, payload: Buffer) => Buffer.concat([Buffer.from([first, 0x80 | payload.length, 0, 0, 0, 0]), payload]);

  for (const [what, frame] of [
    ['a frame with RSV1 set, no extension agreed', rawFrame(0x80 | 0x40 | 0x1, Buffer.from('hi'))],
    ['a ping of 126 bytes, over the 125 a control frame may carry', rawFrame(0x89, Buffer.alloc(126))],
    ['a continuation frame with no message begun', rawFrame(0x80, Buffer.from('x'))],
    ['a close frame with a code no peer may send', rawFrame(0x88, Buffer.from([0x03, 0xed]))],
  ] as const) {
    it(`logs 1002, as sent, for ${what}`, { skip: TARGET === 'deno' && 'Deno drops such a connection without a close frame: its log says 1006' }, async () => {
      const token = `protocol-${frame.subarray(0, 2).toString('hex')}`;
      const socket = await stalledClient(server.port, { host: 'c.test', token });
      socket.on('error', () => {});
      const id = await socketIdOf(server, 'c.test', token);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.resume();
      const gone = new Promise((resolve) => socket.once('close', resolve));
      socket.write(frame);
      await gone;
      const sent = Buffer.concat(chunks);
      assert.equal(sent[0], 0x88, 'a close frame');
      assert.equal(sent.readUInt16BE(2), 1002, `the close frame's code (${sent.subarray(4).toString()})`);
      assert.equal(await loggedCloseCode(server, 'c.test', id), 1002);
    });
  }
});
