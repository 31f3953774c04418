/**
 * The Pusher front's hardening on a real server: client data too deep to
 * write out again, the gateway's own channels, refused upgrades that must not
 * linger, query names in another case, and a user id `__proto__`. Plain ws
 * sockets speak the protocol, so the frames are exactly what is tested.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { connect as tcp } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { serverSdk } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };
const HOSTS = { 'shared.test': { module: join(FIXTURES, 'send-hooks.ts'), clientChannels: true } };

type Frame = { event: string; channel?: string; data?: unknown; user_id?: string };
const hmac = (text: string) => createHmac('sha256', APP.secret).update(text).digest('hex');
const deepText = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
/** Deeper than JSON.stringify goes on any of the runtimes (V8 about 4,000 levels, JavaScriptCore 40,000). */
const DEEP = 200_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every runtime drops a refused socket whose peer never answers the close (Deno through src/runtime/deno-drop.ts). */
const NO_DROP = skip;
/** Bun (uWebSockets) ends the connection as soon as its close frame is out: a refused socket is never open long enough to count. */
const CLOSES_AT_ONCE = TARGET === 'bun' || TARGET === 'binary';

/** An upgrade the gateway refuses the Pusher way (an unknown key), by a client that never answers the close. */
async function stalledRefusal(port: number) {
  const socket = tcp(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET /app/no-such-key?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const gone = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  let head = '';
  let upgraded: () => void;
  const answered = new Promise<void>((resolve) => (upgraded = resolve));
  // The gateway counts the socket when it opens it, and only then writes its pusher:error: the first byte after the
  // 101's head says it is counted (the open may come after the 101 is out).
  const refused = new Promise<void>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      upgraded();
      if (head.length > end + 4) resolve();
    }),
  );
  await answered;
  if (!head.startsWith('HTTP/1.1 101')) {
    socket.destroy();
    throw new Error(`upgrade answered ${head.split('\r\n')[0]}`);
  }
  // It goes on reading (else it would not see the gateway's end of the connection either), and answers nothing.
  return { socket, gone, refused, upgradedAt: Date.now() };
}

interface PusherSocket {
  client: Client;
  socketId: string;
  /** The frames it got so far, parsed. */
  frames(): Frame[];
  /** The first frame (from `from` on) that matches. */
  frame(match: (frame: Frame) => boolean, from?: number): Promise<Frame>;
  send(frame: object | string): void;
}

async function pusherSocket(port: number): Promise<PusherSocket> {
  const client = await connect(port, { path: `/app/${APP.key}?protocol=7` });
  const frames = () => client.received.map((text) => JSON.parse(text) as Frame);
  const frame = (match: (frame: Frame) => boolean, from = 0) => waitFor('a frame', () => frames().slice(from).find(match), 5000);
  const established = await frame((f) => f.event === 'pusher:connection_established');
  const socketId = (JSON.parse(established.data as string) as { socket_id: string }).socket_id;
  return { client, socketId, frames, frame, send: (f) => client.send(typeof f === 'string' ? f : JSON.stringify(f)) };
}

/** Answers a ping: the connection is still read and served. */
async function stillServed(socket: PusherSocket): Promise<void> {
  const from = socket.frames().length;
  socket.send({ event: 'pusher:ping', data: {} });
  await socket.frame((f) => f.event === 'pusher:pong', from);
}

describe(`Pusher hardening on ${TARGET}`, { skip }, () => {
  let server: Started;
  const sockets: Client[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: HOSTS, pusher: { apps: [{ ...APP, host: 'shared.test', clientEvents: true }] } } });
  });
  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await server?.stop();
  });
  const open = async () => {
    const socket = await pusherSocket(server.port);
    sockets.push(socket.client);
    return socket;
  };
  const subscribe = async (socket: PusherSocket, channel: string, channelData?: string) => {
    const auth = `${APP.key}:${hmac(channelData === undefined ? `${socket.socketId}:${channel}` : `${socket.socketId}:${channel}:${channelData}`)}`;
    const from = socket.frames().length;
    socket.send({ event: 'pusher:subscribe', data: { channel, auth, ...(channelData === undefined ? {} : { channel_data: channelData }) } });
    return socket.frame((f) => f.channel === channel && (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'), from);
  };
  const signin = async (socket: PusherSocket, user: object) => {
    const userData = JSON.stringify(user);
    const from = socket.frames().length;
    socket.send({ event: 'pusher:signin', data: { auth: `${APP.key}:${hmac(`${socket.socketId}::user::${userData}`)}`, user_data: userData } });
    await socket.frame((f) => f.event === 'pusher:signin_success', from);
  };

  it('answers a client event too deeply nested with pusher:error, sends it to nobody, and keeps serving the connection', async () => {
    const [a, b] = [await open(), await open()];
    for (const socket of [a, b]) assert.equal((await subscribe(socket, 'private-deep')).event, 'pusher_internal:subscription_succeeded');
    const from = a.frames().length;
    a.send(`{"event":"client-deep","channel":"private-deep","data":${deepText(DEEP)}}`);
    assert.equal((await a.frame((f) => f.event === 'pusher:error', from)).event, 'pusher:error');
    await stillServed(a);
    a.send({ event: 'client-after', channel: 'private-deep', data: { n: 1 } });
    await b.frame((f) => f.event === 'client-after');
    assert.deepEqual(b.frames().filter((f) => f.event === 'client-deep'), []);
  });

  it('refuses a presence subscription whose signed user_info is too deep to write out, and keeps serving the connection', async () => {
    const a = await open();
    const answer = await subscribe(a, 'presence-deep', `{"user_id":"deep","user_info":${deepText(DEEP)}}`);
    assert.equal(answer.event, 'pusher:subscription_error');
    await stillServed(a);
    assert.equal((await subscribe(a, 'presence-deep', '{"user_id":"deep"}')).event, 'pusher_internal:subscription_succeeded');
  });

  it("ignores an unsubscribe from the user's own channel: terminate_connections still closes the connection", async () => {
    const a = await open();
    await signin(a, { id: 'u-stays' });
    a.send({ event: 'pusher:unsubscribe', data: { channel: '#server-to-user-u-stays' } });
    a.send({ event: 'pusher:unsubscribe', data: { channel: '#online' } });
    await stillServed(a);
    await serverSdk(APP, server.port).terminateUserConnections('u-stays');
    const closed = await Promise.race([a.client.closed, sleep(5000).then(() => undefined)]);
    assert.equal(closed?.code, 4009);
  });

  it('does not let a user look offline to its watchers by leaving #online', async () => {
    const [watcher, bob] = [await open(), await open()];
    await signin(watcher, { id: 'w-1', watchlist: ['bob-1'] });
    await signin(bob, { id: 'bob-1' });
    const online = await watcher.frame((f) => f.event === 'pusher_internal:watchlist_events');
    assert.match(String(online.data), /"online"/);
    const from = watcher.frames().length;
    bob.send({ event: 'pusher:unsubscribe', data: { channel: '#online' } });
    await stillServed(bob);
    await sleep(300);
    assert.deepEqual(watcher.frames().slice(from), []);
    // Gone for real: now the watcher hears of it.
    bob.client.ws.close();
    assert.match(String((await watcher.frame((f) => f.event === 'pusher_internal:watchlist_events', from)).data), /"offline"/);
  });

  it('lists every presence member in the hash, a user id "__proto__" too', async () => {
    const [a, b] = [await open(), await open()];
    await subscribe(a, 'presence-proto', '{"user_id":"__proto__","user_info":{"name":"p"}}');
    const answer = await subscribe(b, 'presence-proto', '{"user_id":"u-2"}');
    const { presence } = JSON.parse(answer.data as string) as { presence: { ids: string[]; hash: Record<string, unknown>; count: number } };
    assert.deepEqual(presence.ids.sort(), ['__proto__', 'u-2']);
    assert.ok(Object.hasOwn(presence.hash, '__proto__'));
    assert.deepEqual(presence.hash['__proto__'], { name: 'p' });
    assert.equal(presence.count, 2);
  });

  it('refuses API query names in another case than lowercase (400), and takes what the SDK sends', async () => {
    const ts = String(Math.floor(Date.now() / 1000));
    // Signed as the original request was (filter_by_prefix), replayed with the name in upper case.
    const signed = hmac(`GET\n/apps/${APP.id}/channels\nauth_key=${APP.key}&auth_timestamp=${ts}&auth_version=1.0&filter_by_prefix=presence-`);
    const replayed = await fetch(`${server.url}/apps/${APP.id}/channels?auth_key=${APP.key}&auth_timestamp=${ts}&auth_version=1.0&FILTER_BY_PREFIX=presence-&auth_signature=${signed}`);
    assert.equal(replayed.status, 400);
    assert.match(await replayed.text(), /lowercase/);
    const sdk = serverSdk(APP, server.port);
    const listed = await sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-' } });
    assert.equal(listed.status, 200);
  });

  it('drops a refused upgrade whose client never answers the close within seconds, not after 30', { skip: NO_DROP }, async () => {
    const stalled = await stalledRefusal(server.port);
    // Dropped a second after its close; the runtime's own close timeout is 30 s. A third of that leaves a slow machine room.
    const closedAt = await Promise.race([stalled.gone, sleep(10_000).then(() => undefined)]);
    stalled.socket.destroy();
    assert.ok(closedAt !== undefined, 'the gateway still held the refused socket after 10 s');
    assert.ok(closedAt - stalled.upgradedAt < 10_000, `held ${closedAt - stalled.upgradedAt} ms`);
  });
});

describe(`Pusher refusals on a full gateway on ${TARGET}`, { skip }, () => {
  let server: Started;
  const sockets: Client[] = [];
  before(async () => {
    server = await startServer({ config: { limits: { sockets: 1 }, hosts: HOSTS, pusher: { apps: [{ ...APP, host: 'shared.test' }] } } });
  });
  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await server?.stop();
  });

  it('answers an upgrade it would refuse with 503 while its sockets are full, and the Pusher way otherwise', async () => {
    const refusedOpen = await connect(server.port, { path: '/app/no-such-key?protocol=7' });
    sockets.push(refusedOpen);
    const error = JSON.parse(await refusedOpen.next()) as Frame;
    assert.equal(error.event, 'pusher:error');
    assert.equal((await refusedOpen.closed).code, 4001);
    // Its place comes back once the gateway has seen the close too.
    const held = await waitFor('a place for a connection', () => pusherSocket(server.port).catch(() => undefined));
    sockets.push(held.client);
    assert.equal(await upgradeStatus(server.port, { path: '/app/no-such-key?protocol=7' }), 503);
    assert.equal(await upgradeStatus(server.port, { path: `/app/${APP.key}?protocol=1` }), 503);
    held.client.ws.close();
    await held.client.closed;
  });

  it('counts a refused socket among the sockets while it is open, and gives its place back when it is dropped', { skip: CLOSES_AT_ONCE ? 'Bun closes a refused socket at once' : undefined }, async () => {
    // The place the last test's connection held comes back once the gateway has seen its close.
    const stalled = await waitFor('a refused upgrade let through', () => stalledRefusal(server.port).catch(() => undefined));
    try {
      // It is dropped a second after its close: this upgrade must come within that second, so it does not wait on a timer.
      await stalled.refused;
      assert.equal(await upgradeStatus(server.port, { path: `/app/${APP.key}?protocol=7` }), 503);
      if (NO_DROP) return;
      await stalled.gone;
      await waitFor('the refused socket to give its place back', async () => (await upgradeStatus(server.port, { path: `/app/${APP.key}?protocol=7` })) === 101, 5000);
    } finally {
      stalled.socket.destroy();
    }
  });
});
