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
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { connect, stalledClient } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();
const noOpenssl = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed: it makes the test certificate';

/**
 * The TCP state of the server's end of a loopback connection (/proc/net/tcp: 01 established, 04 FIN sent, ...),
 * undefined once the kernel forgot it: whether the server let go, seen without reading what it still has to send.
 */
function serverEndState(serverPort: number, clientPort: number): string | undefined {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${hex(serverPort)}`) && remote?.endsWith(`:${hex(clientPort)}`)) return state;
  }
  return undefined;
}

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
      // The runtimes' own close timeout is 30 s: half of it tells a drop from a wait, with room for a busy machine.
      await within(gone, 15_000, 'the gateway still holds the connection of the client it dropped 15 s ago');
      next.ws.terminate();
      other.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  // closeTimeout (30 s unless set) is wsgate's timer on Node (below ws's own 30 s) and on Deno (whose close waits for good,
  // runtime/deno-drop.ts); Bun ends the connection once its close frame is out. 1 s here keeps the case quick.
  it('loses its connection when it never answers the close of a limit, within closeTimeout', async () => {
    const server = await startServer({ config: { closeTimeout: 1, limits: { messagesPerSecond: 0.001, messageBurst: 5 }, hosts: { 's.test': { module: join(FIXTURES, 'hooks.ts') } } } });
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
      // Not the runtimes' 30 s: half of it leaves a busy machine room over the 1 s.
      await within(gone, 15_000, 'the gateway still holds a connection it closed 15 s ago, with closeTimeout 1 s');
    } finally {
      await server.stop();
    }
  });

  it('over TLS, lets go of the connection of a client it dropped, though the client reads nothing more', { skip: noOpenssl }, async () => {
    const dir = tempDir();
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=wsgate-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const server = await startServer({ config: { tls: { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') }, limits: { sendBuffer: 256 * 1024 }, hosts: { 's.test': { module: join(FIXTURES, 'hooks.ts') } } } });
    try {
      const stalled = tlsConnect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false });
      stalled.on('error', () => {});
      await new Promise((resolve) => stalled.once('secureConnect', resolve));
      stalled.write(`GET /websocket HTTP/1.1\r\nHost: s.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: token=slow\r\n\r\n`);
      const head = await new Promise<string>((resolve) => stalled.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))));
      assert.match(head, /^HTTP\/1\.1 101 /);
      stalled.pause();
      // The bridge on loopback, over the same TLS listener.
      const cast = (data: string) =>
        new Promise<number>((resolve, reject) => {
          const call = httpsRequest(`${server.url}/message`, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          call.on('error', reject);
          call.end(JSON.stringify({ host: 's.test', target: 'token:slow', data }));
        });
      const data = 'z'.repeat(64 * 1024);
      let dropped = false;
      for (let i = 0; i < 400 && !dropped; i++) {
        assert.equal(await cast(data), 200);
        dropped = server.logs.some((l) => /limit host=s\.test .*code=1013/.test(l));
      }
      assert.ok(dropped, 'the stalled client was dropped with 1013');
      await waitFor('the server to let go of the dropped connection', () => serverEndState(server.port, stalled.localPort!) !== '01', 5000);
      stalled.destroy();
    } finally {
      await server.stop();
    }
  });
});
