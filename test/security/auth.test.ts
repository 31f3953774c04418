/**
 * Attack: sockets that never finish auth. A first-frame client that drops
 * while its hook runs must leave nothing behind (no ghost socket that counts
 * in `sent`, never leaves and fills the limits); upgrades whose auth is
 * running hold their place against every limit; a client that goes away
 * cancels its hook; /health answers while hundreds of upgrades hang.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as tcp } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { connect, upgradeStatus } from '../support/client.ts';
import { until } from '../support/http.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const SCRIPT = join(FIXTURES, 'slow-auth.sh');

/** An upgrade request whose answer waits for a slow auth; resolves with the status line once one comes. */
function pendingUpgrade(port: number, host: string, token: string): { socket: Socket; answered: Promise<string>; status?: string } {
  const socket = tcp(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET /websocket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: token=${token}\r\n\r\n`);
  const upgrade: { socket: Socket; answered: Promise<string>; status?: string } = { socket, answered: Promise.resolve('') };
  upgrade.answered = new Promise<string>((resolve) => {
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n')) resolve((upgrade.status = head.slice(0, head.indexOf('\r\n'))));
    });
    socket.on('close', () => resolve((upgrade.status = head.slice(0, head.indexOf('\r\n')) || 'closed')));
  });
  return upgrade;
}

/**
 * The close code a client that is still sending sees. Deno (2.9) writes no
 * close frame when data frames arrive after close() was called: it drops the
 * connection, and the client sees 1006, unless every frame happened to be read
 * before the close (CI saw 1008 there once), so either is taken on Deno (as
 * in limits.test.ts). The server's log line, asserted besides, has the real
 * reason on every runtime.
 */
function assertClose(code: number, expected: number): void {
  if (TARGET === 'deno' && code === 1006) return;
  assert.equal(code, expected);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe(`sockets that never finish auth on ${TARGET}`, { skip: targetAvailable() }, () => {
  let server: Started;
  let pids: string;
  const health = async () => (await (await fetch(`${server.url}/health`)).json()) as { sockets: Record<string, unknown>; admitting: number };
  /** The auth hooks that started, in order: pid and token of each (slow-auth.sh writes them). */
  const startedAuths = () =>
    readFileSync(pids, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => ({ pid: Number(line.split(' ')[0]), token: line.slice(line.indexOf(' ') + 1) }));
  const startedHooks = () => startedAuths().map((started) => started.pid);

  before(async () => {
    pids = join(tempDir(), 'pids');
    writeFileSync(pids, '');
    server = await startServer({
      env: { AUTH_PIDS: pids, AUTH_SLEEP: '60' },
      config: {
        hosts: {
          'msg.test': { command: ['sh', SCRIPT], tokenFrom: 'message', authTimeout: 30 },
          'slow.test': { command: ['sh', SCRIPT] },
        },
        limits: { sockets: 40, socketsPerToken: 2, pending: 5 },
        timeout: 60,
      },
    });
  });
  after(async () => {
    await server?.stop();
  });

  it('registers nothing for a first-frame client that drops while its auth hook runs, and stops the hook', async () => {
    const before = startedHooks().length;
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/websocket`, { headers: { host: 'msg.test' } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    assert.equal((await health()).admitting, 1, 'waiting for its auth frame, it holds a place');
    ws.send(JSON.stringify({ type: 'auth', token: 'slow-ghost' }));
    await until('the auth hook started', () => startedHooks().length > before);
    const pid = startedHooks().at(-1)!;
    ws.terminate();
    await server.waitForLog(/upgrade abandoned host=msg\.test .*reason="the client went away during auth"/);
    await until('the abandoned auth hook is gone', () => !alive(pid));
    const now = await health();
    assert.deepEqual(now.sockets, {}, 'no socket registered');
    assert.equal(now.admitting, 0, 'no place held');
    const cast = await fetch(`${server.url}/message`, { method: 'POST', body: JSON.stringify({ host: 'msg.test', target: 'all', data: 'x' }) });
    assert.equal(((await cast.json()) as { sent: number }).sent, 0, 'a ghost would count in sent');
    assert.ok(!server.logs.some((line) => / open host=msg\.test/.test(line)), 'no open was logged');
  });

  it('bounds the frames a socket sends before its auth finished', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/websocket`, { headers: { host: 'msg.test' } });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ type: 'auth', token: 'slow-chatty' }));
    for (let i = 0; i < 50; i++) ws.send(`early ${i}`);
    assertClose(await closed, 1008);
    await server.waitForLog(/upgrade refused host=msg\.test reason="too many messages before auth finished"/);
    await until('its place is given back', async () => (await health()).admitting === 0);
  });

  it('counts upgrades whose auth runs against the per-token and total limits, answering at once', async () => {
    const hanging = [pendingUpgrade(server.port, 'slow.test', 'slow-same'), pendingUpgrade(server.port, 'slow.test', 'slow-same')];
    await until('two auths of one token are running', async () => (await health()).admitting === 2);
    const third = pendingUpgrade(server.port, 'slow.test', 'slow-same');
    assert.match(await third.answered, / 429 /, 'the token limit counts auths in flight');
    for (let i = 0; i < 38; i++) hanging.push(pendingUpgrade(server.port, 'slow.test', `slow-${i}`));
    await until('40 upgrades hold their places', async () => (await health()).admitting === 40);
    const over = pendingUpgrade(server.port, 'slow.test', 'slow-over');
    assert.match(await over.answered, / 503 /, 'limits.sockets counts auths in flight');
    for (const { socket } of [...hanging, third, over]) socket.destroy();
    await until('every abandoned upgrade gave its place back', async () => (await health()).admitting === 0, 15_000);
  });

  it('refuses a token with a control character before any hook, and never logs it', async () => {
    // A NUL could not be passed to a one-shot hook; the spawn's error used to quote the token in the log.
    assert.equal(await upgradeStatus(server.port, { host: 'slow.test', token: 'SECRET-nul\u0000x' }), 401);
    await server.waitForLog(/upgrade refused host=slow\.test .*reason="the token holds a control character"/);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/websocket`, { headers: { host: 'msg.test' } });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ type: 'auth', token: 'SECRET-tab\tx' }));
    assert.equal(await closed, 1008);
    await server.waitForLog(/upgrade refused host=msg\.test .*reason="the token holds a control character"/);
    // By token: an abandoned upgrade of an earlier test may still start its hook (in the spawner) meanwhile.
    assert.deepEqual(startedAuths().filter((started) => started.token.includes('SECRET')), [], 'no auth hook ran');
    assert.ok(!server.logs.some((line) => line.includes('SECRET')), 'the token is not in the log');
  });

  it('drops a first-frame socket it refused a second after its close, when the peer never answers it', async () => {
    const socket = tcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    let head = '';
    const upgraded = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n')) resolve();
      });
    });
    socket.write(`GET /websocket HTTP/1.1\r\nHost: msg.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await upgraded;
    assert.match(head, /^HTTP\/1\.1 101 /);
    // An auth frame it refuses (a control character in the token), masked as a client's must be; then silence: the close is never answered.
    const payload = Buffer.from(JSON.stringify({ type: 'auth', token: 'bad\u0001' }));
    const mask = Buffer.from([1, 2, 3, 4]);
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((byte, i) => byte ^ mask[i % 4]!)]));
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the refused socket was still open after 10 s')), 10_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // The runtime's own close timeout is 30 s on Node.
    assert.ok(performance.now() - started < 10_000);
  });

  it('gives the places of upgrades whose clients left to the next upgrade at once, not once their auth ends', async () => {
    const hanging = Array.from({ length: 40 }, (_, i) => pendingUpgrade(server.port, 'slow.test', `slow-left-${i}`));
    await until('40 upgrades hold their places', async () => (await health()).admitting === 40);
    for (const { socket } of hanging) socket.destroy();
    // Their hooks sleep for a minute, and Node and Bun follow a client only once its auth took a second:
    // the full limit has to ask which clients are gone, or this upgrade is refused 503 for up to a second.
    assert.equal(await upgradeStatus(server.port, { host: 'slow.test', token: 'fast-after-left' }), 101);
    await until('every abandoned upgrade gave its place back', async () => (await health()).admitting === 0, 15_000);
  });

  it('answers /health at once while hundreds of abandoned slow auths are pending, and stops their hooks', async () => {
    const hanging: Array<ReturnType<typeof pendingUpgrade>> = [];
    // More than limits.sockets: the rest are refused at once, and must not hang either.
    for (let i = 0; i < 300; i++) hanging.push(pendingUpgrade(server.port, 'slow.test', `slow-many-${i}`));
    await until('the limit is reached', async () => (await health()).admitting === 40, 15_000);
    // Which 40 got in depends on the order they arrived: the other 260 are answered 503 at once, none hangs.
    await until('every upgrade over the limit is answered 503', () => hanging.filter((h) => / 503 /.test(h.status ?? '')).length === 260, 15_000);
    assert.equal(hanging.filter((h) => h.status === undefined).length, 40, 'the 40 in auth are still waiting');
    const started = performance.now();
    const answer = await fetch(`${server.url}/health`);
    assert.equal(answer.status, 200);
    // Liveness, not speed: before the fix it took over 10 s; anything near that means the event loop is starved. Half of
    // it leaves a busy machine, which is far slower than one request, room.
    assert.ok(performance.now() - started < 5000, `/health took ${Math.round(performance.now() - started)} ms`);
    for (const { socket } of hanging) socket.destroy();
    await until('every place is given back', async () => (await health()).admitting === 0, 15_000);
    const spawned = startedAuths()
      .filter((started) => started.token.startsWith('slow-many-'))
      .map((started) => started.pid);
    assert.ok(spawned.length > 0);
    await until('every abandoned auth hook is gone', () => spawned.every((pid) => !alive(pid)), 15_000);
  });

  it('leaves the limits whole afterwards: as many sockets open as limits.sockets allows', async () => {
    const clients = [];
    for (let i = 0; i < 40; i++) clients.push(await connect(server.port, { host: 'slow.test', token: `fast-${i}` }));
    assert.equal(await upgradeStatus(server.port, { host: 'slow.test', token: 'fast-over' }), 503);
    for (const client of clients) client.close();
    await until('all closed', async () => Object.keys((await health()).sockets).length === 0);
  });
});

describe(`log and input abuse on ${TARGET}`, { skip: targetAvailable() }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { hosts: { 'rate.test': { command: ['sh', SCRIPT] } }, limits: { messagesPerSecond: 1, messageBurst: 2 } } });
  });
  after(async () => {
    await server?.stop();
  });

  it('logs a socket closed for its rate once, however many frames it sends until the close completes', async () => {
    const client = await connect(server.port, { host: 'rate.test', token: 'flooder' });
    for (let i = 0; i < 2000; i++) client.ws.send(`flood ${i}`);
    assertClose((await client.closed).code, 1008);
    const id = /socket=(\w+)/.exec(await server.waitForLog(/ open host=rate\.test/))![1];
    const limits = server.logs.filter((line) => line.includes(`socket=${id}`) && / limit /.test(line));
    assert.equal(limits.length, 1, limits.slice(0, 5).join('\n'));
    assert.match(limits[0]!, /code=1008 reason="too many messages per second"/);
  });

  it('tells a client whose message a one-shot hook cannot be given (a NUL byte)', async () => {
    const plain = await connect(server.port, { host: 'rate.test', token: 'nul-plain' });
    plain.send('a\u0000b');
    const closed = await plain.closed;
    assert.equal(closed.code, 1007);
    assert.match(closed.reason, /NUL/);
    const aware = await connect(server.port, { host: 'rate.test', token: 'nul-aware', path: '/websocket?wsgate=1' });
    assert.match(await aware.next(), /"wsgate":"ready"/);
    aware.send('a\u0000b');
    assert.deepEqual(JSON.parse(await aware.next()), { wsgate: 'error', reason: "a message with a NUL byte cannot be passed to this host's hook" });
    aware.close();
  });
});

describe(`a full hook queue refuses, never lets through, on ${TARGET}`, { skip: targetAvailable() }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { hosts: { 'busy.test': { command: ['sh', SCRIPT], clientChannels: true } }, limits: { hookProcesses: 1, hookQueue: 0 } } });
  });
  after(async () => {
    await server?.stop();
  });

  it('refuses a subscribe and tells of an undelivered message while every hook slot is taken', async () => {
    const holder = await connect(server.port, { host: 'busy.test', token: 'holder' });
    await server.waitForLog(/ hook host=busy\.test .*hook=connect/);
    const client = await connect(server.port, { host: 'busy.test', token: 'client', path: '/websocket?wsgate=1' });
    assert.match(await client.next(), /"wsgate":"ready"/);
    await until('both connect hooks ran', () => server.logs.filter((line) => / hook host=busy\.test .*hook=connect/.test(line)).length === 2);
    holder.send('sleep');
    assert.equal(await holder.next(), 'sleeping', 'the one slot is taken');
    client.send(JSON.stringify({ wsgate: 'subscribe', channel: 'room:x' }));
    assert.deepEqual(JSON.parse(await client.next()), { wsgate: 'subscribed', channel: 'room:x', ok: false, reason: 'the gateway is busy; try again later' });
    client.send('hello');
    assert.deepEqual(JSON.parse(await client.next()), { wsgate: 'error', reason: 'the gateway is busy: the message was not delivered; try again later' });
    const presence = (await (await fetch(`${server.url}/presence?host=busy.test&channel=room:x`)).json()) as { sockets: number };
    assert.equal(presence.sockets, 0, 'a subscribe hook that never ran let nobody in');
    holder.close();
    client.close();
  });
});
