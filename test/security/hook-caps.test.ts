/**
 * Attacks on hook processes, against the real server: an upgrade flood with
 * a slow auth hook, a /dispatch flood, a hook that leaves a grandchild
 * behind, and a hook that prints without a newline.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcp } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { until } from '../support/http.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();
const CAPS = join(FIXTURES, 'caps.php');

/** An upgrade whose answer is awaited separately, so it can be abandoned midway. */
function pendingUpgrade(port: number, host: string, token: string): { socket: Socket; status: Promise<number>; answered: boolean } {
  const socket = tcp(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(
    `GET /websocket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: token=${token}\r\n\r\n`,
  );
  const pending = { socket, status: Promise.resolve(0), answered: false };
  pending.status = new Promise<number>((resolve) => {
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const line = /^HTTP\/1\.1 (\d+)/.exec(head);
      if (!line) return;
      pending.answered = true;
      resolve(Number(line[1]));
    });
    socket.on('close', () => resolve(0));
  });
  return pending;
}

/** Alive and not a zombie: a killed process whose parent (init here) has not reaped it yet is gone for this purpose. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls (bounded) for a file a hook writes: no log line says when a hook process has got that far. */
async function readWhenWritten(path: string, timeoutMs = 10_000): Promise<string> {
  for (let waited = 0; waited < timeoutMs; waited += 20) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8').trim();
      if (text) return text;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${path} was not written within ${timeoutMs} ms`);
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

describe(`hook caps on ${TARGET}`, { skip, timeout: 90_000 }, () => {
  it('answers upgrades beyond the auth cap and its queue with 503 at once, and frees the slots of clients that left', async () => {
    const limits = { hookProcesses: 8, authsPerHost: 2, hookQueue: 3 };
    const server = await startServer({ config: { limits, hosts: { 'c.test': { app: CAPS }, 'other.test': { app: CAPS } } } });
    const waiting: Array<ReturnType<typeof pendingUpgrade>> = [];
    try {
      // Two run, three wait: the host's cap and the queue are full.
      for (let i = 0; i < 5; i++) waiting.push(pendingUpgrade(server.port, 'c.test', `slow${i}`));
      // Once five are in (two running, three queued), each further one is refused without waiting for a hook.
      await untilRefused(server.port, waiting);
      const refused = await timed(Promise.all(Array.from({ length: 5 }, (_, i) => upgradeStatus(server.port, { host: 'c.test', token: `more${i}` }))));
      assert.deepEqual(refused.value, [503, 503, 503, 503, 503]);
      // "At once": a slow hook answers after 30 s, so a refusal that waited for one would take that long.
      assert.ok(refused.ms < 5000, `refused after ${Math.round(refused.ms)} ms`);
      await server.waitForLog(/busy: limits\.authsPerHost/);
      // The flood costs two processes, not one per upgrade: the server stays responsive.
      const health = await timed(fetch(`${server.url}/health`));
      assert.equal(health.value.status, 200);
      // Responsive, not fast: one request on a busy machine can take a second; a server starved by the flood takes far longer.
      assert.ok(health.ms < 3000, `/health took ${Math.round(health.ms)} ms`);
      // Another host is not held up by this one's flood.
      const other = await timed(upgradeStatus(server.port, { host: 'other.test', token: 'fine' }));
      assert.equal(other.value, 101);
      // The clients that wait give up: their hooks are killed or leave the queue, and the host serves again at once.
      // The server learns of each departure asynchronously (on Deno, when the request's signal aborts), so the
      // new upgrade waits for those log lines; without the feature they never come and the slow hooks keep their places.
      const unanswered = waiting.filter((w) => !w.answered).length;
      assert.ok(unanswered >= 5, `${unanswered} upgrades waited on a hook`);
      for (const w of waiting) w.socket.destroy();
      const abandoned = () => server.logs.filter((line) => /upgrade abandoned host=c\.test /.test(line)).length;
      await until(`${unanswered} waiting upgrades logged as abandoned`, () => abandoned() >= unanswered, 10_000);
      const again = await timed(upgradeStatus(server.port, { host: 'c.test', token: 'fine' }));
      assert.equal(again.value, 101);
      assert.ok(again.ms < 5000, `a new upgrade waited ${Math.round(again.ms)} ms behind clients that had left`);
    } finally {
      for (const w of waiting) w.socket.destroy();
      await server.stop();
    }
  });

  it("lets another host's upgrade wait in a queue one host's flood has filled, in place of that host's newest", async () => {
    const limits = { hookProcesses: 2, authsPerHost: 2, hookQueue: 3 };
    const server = await startServer({ config: { limits, hosts: { 'c.test': { app: CAPS }, 'other.test': { app: CAPS } } } });
    const waiting: Array<ReturnType<typeof pendingUpgrade>> = [];
    try {
      for (let i = 0; i < 5; i++) waiting.push(pendingUpgrade(server.port, 'c.test', `slow${i}`));
      await untilRefused(server.port, waiting);
      // The queue is full of c.test's: other.test's upgrade takes the newest of them, which is refused.
      const other = upgradeStatus(server.port, { host: 'other.test', token: 'fine' });
      await server.waitForLog(/hook refused host=c\.test .*shared between hosts/);
      assert.equal((await Promise.race(waiting.map((w) => w.status.then((status) => (status === 503 ? status : new Promise<number>(() => {})))))), 503);
      // Its clients leave, their slow hooks go, and other.test's, which waited, runs.
      for (const w of waiting) w.socket.destroy();
      assert.equal(await other, 101);
    } finally {
      for (const w of waiting) w.socket.destroy();
      await server.stop();
    }
  });

  it('answers /dispatch build:true with 503 once the process cap and its queue are full, async and sync', async () => {
    const server = await startServer({ config: { limits: { hookProcesses: 1, hookQueue: 2 }, apps: [CAPS], hosts: { 'c.test': { app: CAPS } } } });
    const dispatch = (body: object) =>
      fetch(`${server.url}/dispatch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ app: CAPS, target: 'jobs::slow', build: true, ...body }) });
    try {
      const accepted = await Promise.all([1, 2, 3].map(() => dispatch({ async: true }).then((r) => r.status)));
      assert.deepEqual(accepted, [202, 202, 202], 'one runs, two wait');
      const over = await timed(dispatch({ async: true }));
      assert.equal(over.value.status, 503);
      assert.match(((await over.value.json()) as { message: string }).message, /^busy: limits\.hookProcesses .* is full$/);
      // At once, not once a slot is free: the running job holds it for 3 s, and two more wait behind it.
      assert.ok(over.ms < 2500, `answered after ${Math.round(over.ms)} ms`);
      const sync = await timed(dispatch({}));
      assert.equal(sync.value.status, 503);
      assert.ok(sync.ms < 2500, `answered after ${Math.round(sync.ms)} ms`);
    } finally {
      await server.stop();
    }
  });

  it('kills a timed-out hook with its whole process group: no grandchild is left', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'grandchild.pid');
    // A shell hook that starts a grandchild and then outlives its timeout.
    const script = `sleep 30 & echo $! > ${JSON.stringify(pidFile)}; sleep 30`;
    const server = await startServer({ config: { hosts: { 'g.test': { command: ['sh', '-c', script, 'sh'], timeout: 0.5 } } } });
    let grandchild: number | undefined;
    try {
      const status = upgradeStatus(server.port, { host: 'g.test', token: 't' });
      grandchild = Number(await readWhenWritten(pidFile));
      assert.ok(grandchild > 0);
      assert.equal(await status, 401);
      await server.waitForLog(/hook failed .*timed out after 500 ms/);
      // SIGKILL to the group is sent before the hook's exit is seen; a busy kernel may take a moment to end it.
      const child = grandchild;
      await until(`grandchild ${child} gone with its hook`, () => !alive(child), 5000);
    } finally {
      if (grandchild && alive(grandchild)) process.kill(grandchild, 'SIGKILL');
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kills hook processes still running when wsgate stops', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'hook.pid');
    const server = await startServer({ config: { hosts: { 'c.test': { app: CAPS } } }, env: { WSGATE_TEST_PIDFILE: pidFile } });
    let hook: number | undefined;
    try {
      const pending = pendingUpgrade(server.port, 'c.test', 'pid');
      hook = Number(await readWhenWritten(pidFile));
      await server.stop();
      pending.socket.destroy();
      const pid = hook;
      await until(`hook ${pid} gone with wsgate`, () => !alive(pid), 5000);
    } finally {
      if (hook && alive(hook)) process.kill(hook, 'SIGKILL');
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails a hook whose line of output outgrows limits.hookLine: killed at once, nothing of it sent', async () => {
    const server = await startServer({ config: { limits: { hookLine: 65536 }, hosts: { 'c.test': { app: CAPS } } } });
    try {
      // An auth hook that prints without end and would then wait 5 s: the bound, not its exit, ends it.
      const auth = await timed(upgradeStatus(server.port, { host: 'c.test', token: 'endless' }));
      assert.equal(auth.value, 401);
      assert.ok(auth.ms < 4000, `refused after ${Math.round(auth.ms)} ms`);
      await server.waitForLog(/hook failed .*hook=auth .*a line of output is longer than 65536 bytes/);
      // A receive hook whose unterminated last line is over the bound: the client gets nothing of it.
      const client = await connect(server.port, { host: 'c.test', token: 'fine' });
      client.send('endless');
      await server.waitForLog(/hook failed .*hook=receive .*a line of output is longer than 65536 bytes/);
      client.send('ping');
      assert.equal(await client.next(), 'pong');
      assert.deepEqual(client.received, ['pong']);
      client.close();
    } finally {
      await server.stop();
    }
  });
});

/**
 * Sends upgrades until one is refused with 503 within 2 s, bounded: the
 * server says nothing of a job that waits, so whether the five sent before
 * are all in is known by this. One that is not refused joins the queue.
 */
async function untilRefused(port: number, waiting: Array<ReturnType<typeof pendingUpgrade>>): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const probe = pendingUpgrade(port, 'c.test', `probe${i}`);
    // A refusal comes at once, but a busy machine can take well over a second to answer; one taken for queued
    // that was refused would be waited for as abandoned later. An unrefused probe costs this wait once, if at all.
    const status = await Promise.race([probe.status, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 2000))]);
    if (status === 503) return;
    assert.equal(status, -1, `a probe got ${status}`);
    waiting.push(probe);
  }
  throw new Error('no upgrade was refused with 503 after 10 probes');
}
