/**
 * History, recovery and transparent replay (issue 7): opted-in clients
 * (`?wsgate=1`, docs/PROTOCOL.md) get publications wrapped with an offset and
 * resume exactly where they stopped; plain clients on a host with `replay`
 * get what they missed over a short drop, as plain frames. Real server, real
 * PHP hooks (test/fixtures/app.php: token room-<r> is granted room:<r>).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

type Frame = Record<string, unknown> & { wsgate?: string; channel?: string; epoch?: string; offset?: number; data?: unknown; recovered?: boolean };

const CONFIG = {
  hosts: {
    'h.test': {
      app: APP,
      build: false,
      clientChannels: true,
      history: { size: 5, ttl: 60 },
      channels: { 'room:*': { history: { size: 5, ttl: 60 } }, 'lobby:*': { history: { size: 5, ttl: 60 }, presenceEvents: true }, 'brief:*': { history: { size: 10, ttl: 0.3 } } },
    },
    'r.test': { app: APP, build: false, replay: { window: 30, frames: 3 } },
    'w.test': { app: APP, build: false, replay: { window: 0.2 } },
  },
};

describe(`history and recovery on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: Client[] = [];
  before(async () => {
    server = await startServer({ config: CONFIG });
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server?.stop();
  });

  const open = async (token: string, options: { host?: string; aware?: boolean; recover?: Record<string, { epoch: string; offset: number }> } = {}) => {
    const query = options.aware === false ? '' : `?wsgate=1${options.recover ? `&recover=${encodeURIComponent(JSON.stringify(options.recover))}` : ''}`;
    const c = await connect(server.port, { host: options.host ?? 'h.test', token, path: `/websocket${query}` });
    clients.push(c);
    return c;
  };
  const next = async (c: Client): Promise<Frame> => JSON.parse(await c.next()) as Frame;
  /** Frames up to and including "ready". */
  const untilReady = async (c: Client) => {
    const frames: Frame[] = [];
    for (;;) {
      const frame = await next(c);
      frames.push(frame);
      if (frame.wsgate === 'ready') return frames;
    }
  };
  const post = async (path: string, body: Record<string, unknown>) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const cast = async (host: string, target: string, data: unknown) => (await post('/message', { host, target, data })).body.sent;
  const history = async (query: string) => {
    const res = await fetch(`${server.url}/history?${query}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { publications?: Array<{ offset: number; data: unknown }> } };
  };

  it('tells an opted-in socket what it joined, where each stream is, then that it is ready', async () => {
    const a = await open('room-1');
    const frames = await untilReady(a);
    const [room, all, token, ready] = frames;
    assert.equal(frames.length, 4, JSON.stringify(frames));
    assert.deepEqual([room!.wsgate, room!.channel, room!.offset, 'recovered' in room!], ['joined', 'room:1', 0, false]);
    assert.match(String(room!.epoch), /^[\w-]{8}$/);
    assert.deepEqual([all!.channel, token!.channel], ['@all', '@token']);
    assert.equal(ready!.wsgate, 'ready');
    assert.match(String(ready!.socket), /^[0-9a-f]{16,}$/i);
  });

  it('wraps casts to streams for opted-in sockets only, with offsets counting up, and counts both kinds', async () => {
    const aware = await open('room-2');
    await untilReady(aware);
    const plain = await open('room-2', { aware: false });
    assert.equal(await cast('h.test', 'channel:room:2', { n: 1 }), 2);
    assert.equal(await cast('h.test', 'channel:room:2', { n: 2 }), 2);
    const first = await next(aware);
    const second = await next(aware);
    assert.deepEqual([first.wsgate, first.channel, first.offset, first.data], ['pub', 'room:2', 1, { n: 1 }]);
    assert.deepEqual([second.offset, second.data, second.epoch], [2, { n: 2 }, first.epoch]);
    assert.equal(await plain.next(), '{"n":1}');
    assert.equal(await plain.next(), '{"n":2}');
    // Host-wide and token casts are streams of their own; socket casts are not wrapped.
    assert.equal(await cast('h.test', 'token:room-2', 't'), 2);
    const byToken = await next(aware);
    assert.deepEqual([byToken.wsgate, byToken.channel, byToken.data], ['pub', '@token', 't']);
    assert.equal(typeof byToken.offset, 'number');
    assert.equal(await plain.next(), '"t"');
    aware.send('{"cmd":"whoami"}');
    const { socket } = (await next(aware)) as { socket: string };
    assert.equal(await cast('h.test', `socket:${socket}`, 'only you'), 1);
    assert.equal(await aware.next(), '"only you"');
  });

  it('gives a socket that comes back with its position exactly what it missed, in order, then live', async () => {
    const a = await open('room-3');
    const joined = (await untilReady(a))[0]!;
    await cast('h.test', 'channel:room:3', 'one');
    const seen = await next(a);
    assert.equal(seen.offset, 1);
    a.ws.terminate();
    await a.closed;
    for (const word of ['two', 'three', 'four']) await cast('h.test', 'channel:room:3', word);
    const b = await open('room-3', { recover: { 'room:3': { epoch: joined.epoch!, offset: 1 } } });
    const frames = await untilReady(b);
    assert.deepEqual([frames[0]!.wsgate, frames[0]!.recovered, frames[0]!.offset], ['joined', true, 4]);
    assert.deepEqual(frames.slice(1, 4).map((f) => [f.offset, f.data]), [[2, 'two'], [3, 'three'], [4, 'four']]);
    await cast('h.test', 'channel:room:3', 'five');
    assert.deepEqual([(await next(b)).offset], [5]);
    await server.waitForLog(/ recovered host=h\.test .*channel=room:3 missed=3/);
  });

  it('says recovered: false when the gap cannot be filled: too old, another epoch', async () => {
    const a = await open('room-4');
    const { epoch } = (await untilReady(a))[0]!;
    for (let i = 1; i <= 7; i++) await cast('h.test', 'channel:room:4', i);
    // size 5 keeps 3..7: a client at 1 missed 2, which is gone; it still gets 3..7.
    const old = await open('room-4', { recover: { 'room:4': { epoch: epoch!, offset: 1 } } });
    const [joined, ...rest] = await untilReady(old);
    assert.deepEqual([joined!.recovered, joined!.offset], [false, 7]);
    assert.deepEqual(rest.filter((f) => f.channel === 'room:4').map((f) => f.offset), [3, 4, 5, 6, 7]);
    // At 2, everything after it is held.
    const edge = await open('room-4', { recover: { 'room:4': { epoch: epoch!, offset: 2 } } });
    const edgeFrames = await untilReady(edge);
    assert.deepEqual(edgeFrames.filter((f) => f.channel === 'room:4').map((f) => f.offset), [7, 3, 4, 5, 6, 7]);
    // Another epoch (a restart): everything this epoch holds is new to the client.
    const other = await open('room-4', { recover: { 'room:4': { epoch: 'another', offset: 6 } } });
    const otherFrames = await untilReady(other);
    assert.equal(otherFrames[0]!.recovered, false);
    assert.deepEqual(otherFrames.filter((f) => f.wsgate === 'pub').map((f) => f.offset), [3, 4, 5, 6, 7]);
  });

  it('recovers a channel the client subscribes to itself, from the position it gives', async () => {
    const a = await open('plain-s');
    await untilReady(a);
    a.send(JSON.stringify({ wsgate: 'subscribe', channel: 'room:sub' }));
    const answer = await next(a);
    assert.deepEqual([answer.wsgate, answer.ok, answer.offset, 'recovered' in answer], ['subscribed', true, 0, false]);
    await cast('h.test', 'channel:room:sub', 'a');
    await cast('h.test', 'channel:room:sub', 'b');
    assert.deepEqual([(await next(a)).data, (await next(a)).data], ['a', 'b']);
    const b = await open('plain-s');
    await untilReady(b);
    b.send(JSON.stringify({ wsgate: 'subscribe', channel: 'room:sub', since: { epoch: answer.epoch, offset: 1 } }));
    const resumed = await next(b);
    assert.deepEqual([resumed.wsgate, resumed.ok, resumed.recovered, resumed.offset], ['subscribed', true, true, 2]);
    assert.deepEqual([(await next(b)).data], ['b']);
  });

  it('answers presence requests from members, with join and leave events never wrapped nor kept', async () => {
    const [a, b] = [await open('plain-p1'), await open('plain-p2')];
    for (const c of [a, b]) {
      await untilReady(c);
      c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'lobby:1' }));
      assert.equal((await next(c)).ok, true);
    }
    const join = await next(a);
    assert.deepEqual([join.wsgate, join.channel, 'data' in join], ['join', 'lobby:1', false]);
    a.send(JSON.stringify({ wsgate: 'presence', channel: 'lobby:1' }));
    const presence = (await next(a)) as Frame & { members: Array<{ socket: string; token: string }> };
    assert.equal(presence.wsgate, 'presence');
    assert.equal(presence.members.length, 2);
    assert.match(presence.members[0]!.token, /^[0-9a-f]{64}$/);
    a.send(JSON.stringify({ wsgate: 'presence', channel: 'lobby:2' }));
    assert.deepEqual([(await next(a)).wsgate], ['error']);
    b.send(JSON.stringify({ wsgate: 'unsubscribe', channel: 'lobby:1' }));
    assert.equal((await next(b)).wsgate, 'unsubscribed');
    assert.equal((await next(a)).wsgate, 'leave');
    assert.deepEqual((await history('host=h.test&channel=lobby:1')).body.publications, []);
  });

  it('serves the same stream to PHP at GET /history, and says what is wrong with a bad query', async () => {
    for (const word of ['x', 'y', 'z']) await cast('h.test', 'channel:room:hist', { word });
    const all = await history('host=h.test&channel=room:hist');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.publications, [
      { offset: 1, data: { word: 'x' } },
      { offset: 2, data: { word: 'y' } },
      { offset: 3, data: { word: 'z' } },
    ]);
    const since = await history(`host=h.test&channel=room:hist&since=2&epoch=${all.body.epoch}`);
    assert.deepEqual([since.body.recovered, since.body.publications], [true, [{ offset: 3, data: { word: 'z' } }]]);
    const lost = await history('host=h.test&channel=room:hist&since=2&epoch=nope');
    assert.deepEqual([lost.body.recovered, lost.body.publications?.length], [false, 3]);
    await cast('h.test', 'all', 'everyone');
    const everyone = await history('host=h.test&channel=@all');
    assert.deepEqual(everyone.body.publications?.at(-1)?.data, 'everyone');
    await cast('h.test', 'token:tok-h', 'yours');
    assert.deepEqual((await history('host=h.test&token=tok-h')).body.publications, [{ offset: 1, data: 'yours' }]);
    for (const [query, reason] of [
      ['host=h.test', /give \?channel=/],
      ['host=h.test&channel=a&token=b', /give \?channel=/],
      ['host=h.test&channel=lobby', /keeps no history/],
      ['host=r.test&channel=@all', /keeps no history/],
      ['host=h.test&channel=room:hist&since=1', /needs the epoch/],
      ['host=h.test&channel=room:hist&since=-1&epoch=e', /whole number/],
      ['host=nowhere.test&channel=room:1', /not configured/],
    ] as const) {
      const res = await history(query);
      assert.equal(res.status, 400, query);
      assert.match(String(res.body.message), reason, query);
    }
  });

  it('lets publications expire after their ttl', async () => {
    await cast('h.test', 'channel:brief:1', 'soon gone');
    assert.equal((await history('host=h.test&channel=brief:1')).body.publications?.length, 1);
    const deadline = Date.now() + 5000;
    let left = 1;
    while (left > 0 && Date.now() < deadline) {
      left = (await history('host=h.test&channel=brief:1')).body.publications?.length ?? -1;
    }
    assert.equal(left, 0, 'the publication expired');
  });

  it('refuses a malformed recover with 400 and a reason', async () => {
    await assert.rejects(connect(server.port, { host: 'h.test', token: 't', path: '/websocket?wsgate=1&recover=%7Bnope' }), { status: 400 });
    await server.waitForLog(/upgrade refused host=h\.test reason="?recover is not valid JSON/);
  });

  it('closes the sockets a target picks at POST /disconnect, with the code and reason given', async () => {
    const [a, b, other] = [await open('kick-me', { aware: false }), await open('kick-me', { aware: false }), await open('stay', { aware: false })];
    const res = await post('/disconnect', { host: 'h.test', target: 'token:kick-me', code: 4001, reason: 'bye' });
    assert.deepEqual(res.body, { status: 'ok', host: 'h.test', closed: 2 });
    assert.deepEqual(await a.closed, { code: 4001, reason: 'bye' });
    assert.deepEqual((await b.closed).code, 4001);
    assert.equal(await cast('h.test', 'token:stay', 'still here'), 1);
    assert.equal(await other.next(), '"still here"');
    for (const [body, reason] of [
      [{ host: 'h.test' }, /target is required/],
      [{ host: 'h.test', target: 'all', code: 1006 }, /code must be/],
      [{ host: 'h.test', target: 'all', reason: 'x'.repeat(124) }, /at most 123 bytes/],
      [{ host: 'h.test', target: 'bogus' }, /unknown target/],
    ] as const) {
      const bad = await post('/disconnect', body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.match(String(bad.body.message), reason);
    }
  });

  it('serves the browser client from inside itself: /wsgate.js, /wsgate.mjs and /wsgate.d.ts', async () => {
    for (const [path, type, shape] of [
      ['/wsgate.js', /^text\/javascript/, /var wsgate = /],
      ['/wsgate.mjs', /^text\/javascript/, /export \{[^}]*connect/],
      ['/wsgate.d.ts', /^application\/typescript/, /export declare function connect\(/],
    ] as const) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', type, path);
      assert.match(await res.text(), shape, path);
      const etag = res.headers.get('etag')!;
      assert.equal((await fetch(`${server.url}${path}`, { headers: { 'if-none-match': etag } })).status, 304, `${path} unchanged`);
    }
  });

  describe('transparent replay for plain clients', () => {
    it('gives a token that comes back within the window what would have reached it, in order, before live', async () => {
      const a = await open('room-8', { host: 'r.test', aware: false });
      const bystander = await open('other', { host: 'r.test', aware: false });
      a.send('{"cmd":"whoami"}');
      const { socket } = JSON.parse(await a.next()) as { socket: string };
      a.ws.terminate();
      await server.waitForLog(new RegExp(` close host=r\\.test socket=${socket}`));
      assert.equal(await cast('r.test', 'all', 'to all'), 1);
      assert.equal(await cast('r.test', 'channel:room:8', 'to the room'), 0);
      assert.equal(await cast('r.test', 'token:room-8', 'to the token'), 0);
      assert.equal(await cast('r.test', 'token:not:other', 'to all but other'), 0);
      assert.equal(await cast('r.test', `socket:${socket}`, 'to the old socket'), 0);
      assert.equal(await bystander.next(), '"to all"');
      const b = await open('room-8', { host: 'r.test', aware: false });
      await cast('r.test', 'token:room-8', 'live');
      // frames: 3 keeps the last three of the four it missed.
      assert.deepEqual([await b.next(), await b.next(), await b.next(), await b.next()], ['"to the room"', '"to the token"', '"to all but other"', '"live"']);
      await server.waitForLog(/ replayed host=r\.test .*frames=3 dropped=1/);
      const health = (await (await fetch(`${server.url}/health`)).json()) as { history: { streams: number; replaying: number } };
      assert.ok(health.history.streams >= 5, `streams with history in /health: ${JSON.stringify(health.history)}`);
      assert.equal(typeof health.history.replaying, 'number');
      // Only once: the next socket of the token gets nothing old.
      const c = await open('room-8', { host: 'r.test', aware: false });
      await cast('r.test', 'token:room-8', 'again');
      assert.equal(await c.next(), '"again"');
    });

    it('forgets a token whose window is over', async () => {
      const a = await open('gone', { host: 'w.test', aware: false });
      a.ws.terminate();
      await a.closed;
      await server.waitForLog(/ close host=w\.test /);
      assert.equal(await cast('w.test', 'token:gone', 'missed'), 0);
      await server.waitForLog(/ replay expired host=w\.test .*frames=1/);
      const b = await open('gone', { host: 'w.test', aware: false });
      await cast('w.test', 'token:gone', 'live');
      assert.equal(await b.next(), '"live"');
    });
  });
});

describe(`a restart starts new epochs on ${TARGET}`, { skip }, () => {
  it('tells a client that comes back after a restart that it cannot recover', async () => {
    const config = { hosts: { 'h.test': { app: APP, build: false, channels: { 'room:*': { history: { size: 5, ttl: 60 } } } } } };
    const first = await startServer({ config });
    let epoch: string;
    try {
      const a = await connect(first.port, { host: 'h.test', token: 'room-1', path: '/websocket?wsgate=1' });
      epoch = (JSON.parse(await a.next()) as Frame).epoch!;
      a.ws.terminate();
    } finally {
      await first.stop();
    }
    const second = await startServer({ config });
    try {
      const b = await connect(second.port, { host: 'h.test', token: 'room-1', path: `/websocket?wsgate=1&recover=${encodeURIComponent(JSON.stringify({ 'room:1': { epoch, offset: 0 } }))}` });
      const joined = JSON.parse(await b.next()) as Frame;
      assert.deepEqual([joined.wsgate, joined.recovered], ['joined', false]);
      assert.notEqual(joined.epoch, epoch);
      b.ws.terminate();
    } finally {
      await second.stop();
    }
  });
});
