/**
 * Hook hardening against the real server: close hooks while a resident
 * pool's queue is full, a one-shot hook's grandchild that keeps its output
 * open, and a streamed /dispatch to a caller who does not read.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcp } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';
import { alive } from '../support/processes.ts';

const skip = targetAvailable();
const WORKER = join(FIXTURES, 'hardening', 'worker.php');
const GRANDCHILD = join(FIXTURES, 'hardening', 'grandchild.sh');

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

/** Polls (bounded) until `ready` answers something: no log line says when a hook process got that far. */
async function until<T>(what: string, ready: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  for (let waited = 0; waited < timeoutMs; waited += 20) {
    const value = ready();
    if (value !== undefined) return value;
    await tick();
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

const fileText = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined);

// Three cases at a time, each on a server and in a folder of its own: the grandchild cases each wait out the 2 s a one-shot
// hook's output may stay open after it exited.
describe(`hook hardening on ${TARGET}`, { skip, timeout: 90_000, concurrency: 3 }, () => {
  it("runs a socket's close hook on a resident pool whose queue other sockets filled", async () => {
    const dir = tempDir();
    const server = await startServer({
      config: { pool: { cap: 1 }, timeout: 30, hosts: { 'r.test': { app: WORKER, build: false, pool: { maxQueue: 2, writeAhead: false } } } },
      env: { WSGATE_TEST_DIR: dir },
    });
    const clients: Client[] = [];
    try {
      // One at a time: their auth hooks share the small queue too.
      for (const token of ['victim', 'a', 'b', 'c', 'd']) clients.push(await connect(server.port, { host: 'r.test', token }));
      const [victim, a, b, c, d] = clients as [Client, Client, Client, Client, Client];
      // One job holds the only worker, two more fill the queue: the next message is refused.
      a.send('hold');
      await until('the worker holds', () => fileText(join(dir, 'holding')));
      b.send('hold');
      c.send('hold');
      d.send('hold');
      await server.waitForLog(/hook refused .*hook=receive .*queue full/);
      // A socket that closes now must still be heard of by the app.
      victim.close();
      await server.waitForLog(/close host=r\.test .*code=1005/);
      writeFileSync(join(dir, 'release'), '1');
      await until('the close hook ran', () => {
        assert.equal(server.logs.find((line) => /hook refused .*hook=close/.test(line)), undefined, 'a close hook was refused');
        return fileText(join(dir, 'closed.log'))?.split('\n').includes('close victim') || undefined;
      });
    } finally {
      writeFileSync(join(dir, 'release'), '1');
      for (const client of clients) client.close();
      await server.stop();
    }
  });

  /** A socket on the grandchild host whose `bg` message left a grandchild printing to the hook's stdout; resolves once the hook process exited. */
  async function leftBehind(server: Started, dir: string) {
    const client = await connect(server.port, { host: 'g.test', token: 't' });
    client.send('bg');
    const [hook, grandchild] = (await until('the grandchild started', () => fileText(join(dir, 'pids')))).split(' ').map(Number) as [number, number];
    assert.equal(await client.next(), 'reply');
    await until('the hook process exited', () => (alive(hook) ? undefined : true));
    return { client, grandchild };
  }

  it("kills what a finished one-shot hook left holding its output, and nothing of it reaches the socket after", async () => {
    const dir = tempDir();
    const server = await startServer({ config: { hosts: { 'g.test': { command: [GRANDCHILD] } } }, env: { WSGATE_TEST_DIR: dir } });
    let grandchild: number | undefined;
    try {
      const left = await leftBehind(server, dir);
      grandchild = left.grandchild;
      await server.waitForLog(/hook stderr .*hook=receive .*its process group was killed/);
      // Ends once it died; the long bound is for a busy machine, a grandchild nobody kills never dies.
      await until('the grandchild died', () => (alive(left.grandchild) ? undefined : true));
      // The socket still works, and the hook's lines stop where its grace period ended.
      left.client.send('ping');
      while ((await left.client.next()) !== 'pong');
      assert.ok(left.client.received.slice(1).every((frame) => frame === 'late' || frame === 'pong'));
      left.client.close();
    } finally {
      if (grandchild && alive(grandchild)) process.kill(grandchild, 'SIGKILL');
      await server.stop();
    }
  });

  it("lets go of the output a process that left the hook's group (setsid) still holds, which no group kill reaches", async () => {
    const dir = tempDir();
    const server = await startServer({ config: { hosts: { 'g.test': { command: [GRANDCHILD] } } }, env: { WSGATE_TEST_DIR: dir } });
    let escaped: number | undefined;
    try {
      const client = await connect(server.port, { host: 'g.test', token: 't' });
      client.send('escape');
      escaped = Number(await until('the escaped process started', () => fileText(join(dir, 'escaped'))));
      assert.equal(await client.next(), 'reply');
      await server.waitForLog(/hook stderr .*hook=receive .*its process group was killed/);
      // No kill of the group reached it: it is the one that says its writes failed. The old code read its output for as
      // long as it lived (and kept 2 descriptors, and a group to kill at exit, for it).
      await until('its writes fail: wsgate closed its end of the pipe', () => fileText(join(dir, 'closed')));
      client.send('ping');
      while ((await client.next()) !== 'pong');
      client.close();
    } finally {
      if (escaped && alive(escaped)) process.kill(escaped, 'SIGKILL');
      await server.stop();
    }
  });

  it('does not let it outlive wsgate when wsgate stops right after the hook exited', async () => {
    const dir = tempDir();
    const server = await startServer({ config: { hosts: { 'g.test': { command: [GRANDCHILD] } } }, env: { WSGATE_TEST_DIR: dir } });
    let grandchild: number | undefined;
    try {
      const left = await leftBehind(server, dir);
      grandchild = left.grandchild;
      // A graceful stop waits for the socket's hook, whose grace period ends first; the group tracked until its pipes close covers exits that do not wait (test/unit/hook-hardening.test.ts).
      await server.stop();
      await until('the grandchild died with wsgate', () => (alive(left.grandchild) ? undefined : true));
    } finally {
      if (grandchild && alive(grandchild)) process.kill(grandchild, 'SIGKILL');
      await server.stop();
    }
  });

  it('cuts a streamed /dispatch whose caller does not read, and tells the caller so at the end', async () => {
    const server = await startServer({ config: { timeout: 60, apps: [WORKER], hosts: { 'r.test': { app: WORKER, build: false } } } });
    const body = JSON.stringify({ app: WORKER, target: 'flood', args: [640, 65536], stream: true });
    const socket = tcp(server.port, '127.0.0.1');
    try {
      socket.write(`POST /dispatch HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      // Nothing is read until the gateway gave up on this caller: 40 MiB would otherwise wait in its memory.
      socket.pause();
      await server.waitForLog(/dispatch stream cut .*target=flood/, 30_000);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.resume();
      await new Promise((resolve) => socket.once('close', resolve));
      const text = Buffer.concat(chunks).toString('latin1');
      assert.match(text, /\{"t":"error","message":"the caller read too slowly: more than 4194304 bytes waited for it/);
      assert.doesNotMatch(text, /"t":"done"/);
      assert.ok(text.length < 30 << 20, `the caller got ${text.length} bytes of a 40 MiB flood`);
    } finally {
      socket.destroy();
      await server.stop();
    }
  });
});
