/**
 * Attack: a WebSocket handshake with any method but GET (RFC 6455 4.1: it
 * must be GET). Every runtime refuses to upgrade it, but only after the
 * gateway ran the auth hook and asked for the upgrade: on Node @hono/node-ws
 * then keeps its wait for a socket that never comes (the request and the
 * socket's events, for good), on Bun each one is a 500 and an ERROR line,
 * and Deno upgrades a PUT or a HEAD. It is refused first, with 405, and no
 * hook runs.
 */
import assert from 'node:assert/strict';
import { connect as tcp } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { socketIdOf } from '../support/logs.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';

/** The status line a raw request gets. */
function statusOf(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcp(port, '127.0.0.1', () => socket.write(raw));
    let data = '';
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      if (!data.includes('\r\n')) return;
      socket.destroy();
      resolve(data.slice(0, data.indexOf('\r\n')));
    });
    socket.on('error', reject);
  });
}

describe(`an upgrade that is not a GET, on ${TARGET}`, { skip: targetAvailable() }, () => {
  it('is refused with 405 before any hook runs', async () => {
    const server = await startServer({ config: { hosts: { 'm.test': { module: join(FIXTURES, 'hooks.ts') } } } });
    try {
      const handshake = (method: string) =>
        `${method} /websocket HTTP/1.1\r\nHost: m.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: token=t\r\n\r\n`;
      for (const raw of [handshake('POST'), handshake('PUT'), handshake('HEAD'), handshake('OPTIONS')]) {
        assert.match(await statusOf(server.port, raw), /^HTTP\/1\.[01] 405 /, raw.split(' ')[0]);
      }
      // A GET after them: its auth is the first and only one the log shows, once its socket is open.
      const marker = await connect(server.port, { host: 'm.test', token: 'marker' });
      await socketIdOf(server, 'm.test', 'marker');
      assert.equal(server.logs.filter((l) => / hook=auth /.test(l)).length, 1, 'one auth hook ran: the GET\'s');
      assert.equal(server.logs.filter((l) => / ERROR /.test(l)).length, 0, server.logs.filter((l) => / ERROR /.test(l)).join('\n'));
      marker.ws.terminate();
    } finally {
      await server.stop();
    }
  });
});
