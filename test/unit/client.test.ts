import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { runInNewContext } from 'node:vm';
import { connect, type Meta } from '../../src/client/wsgate.ts';
import { FakeSocket, fakeClient as setup } from '../support/fake-websocket.ts';

const pub = (channel: string, data: unknown, epoch?: string, offset?: number) => ({ wsgate: 'pub', channel, ...(epoch !== undefined ? { epoch, offset } : {}), data });
const datas = (messages: Array<[unknown, Meta]>) => messages.map(([data]) => data);

describe('wsgate.js: the upgrade URL', () => {
  it('adds wsgate=1 and keeps the query the URL had', (t) => {
    const { last } = setup(t, {}, 'ws://gate.test/ws/rooms/a?name=a%20b&x=1#top');
    assert.equal(last().url, 'ws://gate.test/ws/rooms/a?name=a%20b&x=1&wsgate=1');
  });

  const page = (t: TestContext, href: string) => {
    const global = globalThis as { location?: { href: string } };
    global.location = { href };
    t.after(() => delete global.location);
  };

  it('resolves a relative path against the page, https to wss', (t) => {
    page(t, 'https://app.test/rooms/lobby?x=1');
    assert.equal(setup(t, {}, '/ws/rooms/lobby').last().url, 'wss://app.test/ws/rooms/lobby?wsgate=1');
  });

  it('defaults to /websocket of the page, http to ws', (t) => {
    page(t, 'http://app.test:8080/');
    assert.equal(setup(t, {}, null).last().url, 'ws://app.test:8080/websocket?wsgate=1');
  });

  it('reconnects with recover: the position of every stream, URL-encoded JSON', (t) => {
    const { last, up, reconnect } = setup(t, {}, 'ws://gate.test/ws?x=1');
    up({ wsgate: 'joined', channel: 'room:1', epoch: 'E1', offset: 3 }, { wsgate: 'joined', channel: '@all', epoch: 'A', offset: 0 });
    last().receive(pub('@all', 'hi', 'A', 1), pub('@all', 'ho', 'A', 2), pub('plain', 'no history'));
    reconnect();
    const positions = { 'room:1': { epoch: 'E1', offset: 3 }, '@all': { epoch: 'A', offset: 2 } };
    assert.equal(last().url, `ws://gate.test/ws?x=1&wsgate=1&recover=${encodeURIComponent(JSON.stringify(positions))}`);
  });
});

describe('wsgate.js: exactly once, in order', () => {
  it('drops the overlap of recovered and live publications across a reconnect', (t) => {
    const { client, last, up, reconnect, messages } = setup(t);
    const log: string[] = [];
    client.on('recovered', ({ channel, recovered }) => log.push(`recovered ${channel} ${recovered}`));
    up({ wsgate: 'joined', channel: '@all', epoch: 'E', offset: 0 });
    last().receive(pub('@all', 1, 'E', 1), pub('@all', 2, 'E', 2));
    reconnect();
    assert.match(last().url, /recover=/);
    // Missed 3 and 4 come back; 4 (and a stale 2) also arrive live.
    last().open();
    last().receive({ wsgate: 'joined', channel: '@all', epoch: 'E', offset: 4, recovered: true }, pub('@all', 3, 'E', 3), pub('@all', 4, 'E', 4));
    assert.deepEqual(log, [], 'recovered is told on ready, after the missed publications');
    last().receive({ wsgate: 'ready', socket: 's2' });
    assert.deepEqual(log, ['recovered @all true']);
    last().receive(pub('@all', 2, 'E', 2), pub('@all', 4, 'E', 4), pub('@all', 5, 'E', 5));
    assert.deepEqual(datas(messages), [1, 2, 3, 4, 5]);
    assert.deepEqual(messages.at(-1)![1], { channel: '@all', epoch: 'E', offset: 5 });
  });

  it('a publication of another epoch is delivered and resets the position', (t) => {
    const { last, up, messages } = setup(t);
    up();
    last().receive(pub('@all', 'a', 'E', 5), pub('@all', 'b', 'F', 1), pub('@all', 'b again', 'F', 1), pub('@all', 'c', 'F', 2), pub('@all', 'd', 'E', 1));
    assert.deepEqual(datas(messages), ['a', 'b', 'c', 'd']);
  });

  it('publications without an offset are always delivered', (t) => {
    const { last, up, messages } = setup(t);
    up();
    last().receive(pub('@all', 'x'), pub('@all', 'x'));
    assert.deepEqual(datas(messages), ['x', 'x']);
    assert.deepEqual(messages[0]![1], { channel: '@all' });
  });

  it("recovered false in another epoch delivers all of the new epoch; in the same epoch it keeps the own position", (t) => {
    const { client, last, up, reconnect, messages } = setup(t);
    const verdicts: boolean[] = [];
    client.on('recovered', ({ recovered }) => verdicts.push(recovered));
    up({ wsgate: 'joined', channel: 'room:1', epoch: 'E', offset: 7 });
    last().receive(pub('room:1', 'old', 'E', 7), pub('room:1', 'new', 'E', 8));
    // A restart: epoch F; what F holds follows the join, then live.
    reconnect();
    last().open();
    last().receive({ wsgate: 'joined', channel: 'room:1', epoch: 'F', offset: 2, recovered: false }, pub('room:1', 'f1', 'F', 1), pub('room:1', 'f2', 'F', 2), { wsgate: 'ready', socket: 's2' });
    last().receive(pub('room:1', 'f2', 'F', 2), pub('room:1', 'f3', 'F', 3));
    // Some of F expired: wsgate says so and gives what it holds after our position.
    reconnect();
    last().open();
    last().receive({ wsgate: 'joined', channel: 'room:1', epoch: 'F', offset: 9, recovered: false }, pub('room:1', 'f3', 'F', 3), pub('room:1', 'f8', 'F', 8), { wsgate: 'ready', socket: 's3' });
    assert.deepEqual(datas(messages), ['new', 'f1', 'f2', 'f3', 'f8']);
    assert.deepEqual(verdicts, [false, false]);
  });

  it('a join without recovered (no position given) sets the position to the join\'s', (t) => {
    const { last, up, messages } = setup(t);
    up({ wsgate: 'joined', channel: 'room:1', epoch: 'E', offset: 7 });
    last().receive(pub('room:1', 'before the join', 'E', 7), pub('room:1', 'after the join', 'E', 8));
    assert.deepEqual(datas(messages), ['after the join']);
  });
});

describe('wsgate.js: reconnecting', () => {
  /** Asserts the next socket is made after exactly `ms` (not a millisecond before). */
  const after = (t: TestContext, sockets: FakeSocket[], ms: number) => {
    const before = sockets.length;
    t.mock.timers.tick(ms - 1);
    assert.equal(sockets.length, before, `not before ${ms} ms`);
    t.mock.timers.tick(1);
    assert.equal(sockets.length, before + 1, `after ${ms} ms`);
  };

  it('waits 333 ms, then 3 times longer each attempt, by default', (t) => {
    t.mock.method(Math, 'random', () => 0.5);
    const { last, sockets } = setup(t);
    for (const ms of [333, 999, 2997, 8991, 10000, 10000]) {
      last().drop();
      after(t, sockets, ms);
    }
  });

  it('grows, is capped, stays within the jitter and starts over once a connection stayed up as long as the longest wait', (t) => {
    const options = { delay: 400, factor: 2, maxDelay: 3000, jitter: 0.25 };
    let random = 0;
    t.mock.method(Math, 'random', () => random);
    const { last, up, sockets } = setup(t, options);
    // Math.random() 0 is the shortest wait (-25%), 1 the longest (+25%).
    for (const [r, ms] of [[0, 300], [1, 1000], [0, 1200], [1, 3750], [0, 2250]] as const) {
      random = r;
      last().drop();
      after(t, sockets, ms);
    }
    up();
    t.mock.timers.tick(3000);
    random = 0;
    last().drop();
    after(t, sockets, 300);
  });

  it('close() stops reconnecting for good, and tells disconnected', (t) => {
    const { client, last, up, sockets } = setup(t);
    const gone: unknown[] = [];
    client.on('disconnected', (event) => gone.push(event));
    up();
    client.close();
    assert.equal(last().closedWith, 1000);
    assert.equal(client.connected, false);
    last().drop(1000, 'bye');
    assert.deepEqual(gone, [{ code: 1000, reason: 'bye' }]);
    t.mock.timers.tick(60_000);
    assert.equal(sockets.length, 1);
    assert.equal(client.send('x'), false);
  });

  it('close() during the wait cancels the next attempt', (t) => {
    const { client, last, sockets } = setup(t);
    last().drop();
    client.close();
    t.mock.timers.tick(60_000);
    assert.equal(sockets.length, 1);
  });

  it('reconnect: false does not reconnect', (t) => {
    const { last, up, sockets } = setup(t, { reconnect: false });
    up();
    last().drop();
    t.mock.timers.tick(60_000);
    assert.equal(sockets.length, 1);
  });

  it('tells connected on each ready, and disconnected only for an open socket', (t) => {
    const { client, last, up, reconnect } = setup(t);
    const log: unknown[] = [];
    client.on('connected', (event) => log.push(event));
    client.on('disconnected', ({ code }) => log.push(code));
    up();
    assert.equal(client.socket, 's1');
    assert.equal(client.connected, true);
    reconnect();
    assert.equal(client.socket, undefined);
    last().drop(); // never opened
    t.mock.timers.tick(100_000);
    up();
    assert.deepEqual(log, [{ socket: 's1', reconnect: false }, 1006, { socket: 's3', reconnect: true }]);
  });
});

describe('wsgate.js: sending', () => {
  it('holds a bounded queue while not connected, flushed in order on ready', (t) => {
    const { client, last, up, reconnect } = setup(t, { queue: 3 });
    assert.equal(client.send('a'), true);
    assert.equal(client.send({ b: 1 }), true);
    assert.equal(client.send(3), true);
    assert.equal(client.send('dropped'), false);
    last().open();
    assert.deepEqual(last().sent, [], 'open is not ready');
    up();
    assert.deepEqual(last().sent, ['a', '{"b":1}', '3']);
    assert.equal(client.send('now'), true);
    assert.deepEqual(last().sent.at(-1), 'now');
    reconnect();
    assert.equal(client.send('later'), true);
    up();
    assert.deepEqual(last().sent, ['later']);
  });
});

describe('wsgate.js: subscriptions', () => {
  it('asks only for channels wsgate did not join by ready, and at once when connected', (t) => {
    const { client, last, up, messages } = setup(t);
    const got: unknown[] = [];
    client.subscribe('room:path', (data) => got.push(data));
    client.subscribe('room:other', (data) => got.push(data));
    client.subscribe('room:quiet', (data) => got.push(data), { request: false });
    up({ wsgate: 'joined', channel: 'room:path' });
    assert.deepEqual(last().controls(), [{ wsgate: 'subscribe', channel: 'room:other' }]);
    client.subscribe('room:late');
    assert.deepEqual(last().controls().at(-1), { wsgate: 'subscribe', channel: 'room:late' });
    last().receive(pub('room:path', 1), pub('room:quiet', 2), pub('room:none', 3));
    assert.deepEqual(got, [1, 2]);
    assert.deepEqual(messages, [[3, { channel: 'room:none' }]]);
  });

  it('asks again with since on reconnect, and unsubscribes what it asked for', (t) => {
    const { client, last, up, reconnect } = setup(t);
    const got: unknown[] = [];
    const sub = client.subscribe('room:b', (data) => got.push(data));
    up();
    last().receive({ wsgate: 'subscribed', channel: 'room:b', ok: true, epoch: 'E', offset: 2 }, pub('room:b', 'x', 'E', 3));
    reconnect();
    up();
    assert.deepEqual(last().controls(), [{ wsgate: 'subscribe', channel: 'room:b', since: { epoch: 'E', offset: 3 } }]);
    const verdicts: boolean[] = [];
    sub.on('recovered', ({ recovered }) => verdicts.push(recovered));
    last().receive({ wsgate: 'subscribed', channel: 'room:b', ok: true, epoch: 'E', offset: 4, recovered: true }, pub('room:b', 'y', 'E', 4));
    assert.deepEqual(verdicts, [true]);
    sub.unsubscribe();
    assert.deepEqual(last().controls().at(-1), { wsgate: 'unsubscribe', channel: 'room:b' });
    last().receive(pub('room:b', 'z', 'E', 5));
    assert.deepEqual(got, ['x', 'y']);
  });

  it('a refused subscribe is an error', (t) => {
    const { client, last, up } = setup(t);
    const errors: unknown[] = [];
    client.on('error', (event) => errors.push(event));
    client.subscribe('room:x');
    up();
    last().receive({ wsgate: 'subscribed', channel: 'room:x', ok: false, reason: 'refused' }, { wsgate: 'error', reason: 'bad frame' });
    assert.deepEqual(errors, [{ reason: 'refused', channel: 'room:x' }, { reason: 'bad frame' }]);
  });

  it('tells join and leave to the client and the channel\'s subscriptions', (t) => {
    const { client, last, up } = setup(t);
    const log: unknown[] = [];
    client.on('join', (event) => log.push(['client', event]));
    client.subscribe('room:1', undefined, { request: false }).on('leave', (event) => log.push(['sub', event]));
    up({ wsgate: 'joined', channel: 'room:1' });
    last().receive({ wsgate: 'join', channel: 'room:1', socket: 'b', info: { name: 'B' } }, { wsgate: 'leave', channel: 'room:1', socket: 'b' });
    assert.deepEqual(log, [['client', { channel: 'room:1', socket: 'b', info: { name: 'B' } }], ['sub', { channel: 'room:1', socket: 'b' }]]);
  });
});

describe('wsgate.js: presence', () => {
  it('asks on ready (or at once) and resolves each channel\'s answers in order', async (t) => {
    const { client, last, up } = setup(t);
    const first = client.presence('room:1');
    up();
    const second = client.subscribe('room:1', undefined, { request: false }).presence();
    assert.deepEqual(last().controls(), [{ wsgate: 'presence', channel: 'room:1' }, { wsgate: 'presence', channel: 'room:1' }]);
    const a = [{ socket: 'a', token: 'ta' }];
    const b = [{ socket: 'a', token: 'ta' }, { socket: 'b', token: 'tb', info: { name: 'B' } }];
    last().receive({ wsgate: 'presence', channel: 'room:1', members: a }, { wsgate: 'presence', channel: 'room:1', members: b });
    assert.deepEqual(await first, a);
    assert.deepEqual(await second, b);
  });

  it('rejects when wsgate refuses, and on disconnect', async (t) => {
    const { client, last, up } = setup(t);
    up();
    const refused = client.presence('room:x');
    last().receive({ wsgate: 'error', channel: 'room:x', reason: 'presence is only for a channel this socket is in' });
    await assert.rejects(refused, /only for a channel/);
    const lost = client.presence('room:1');
    last().drop();
    await assert.rejects(lost, /disconnected/);
  });
});

describe('wsgate.js: frames', () => {
  it('gives plain frames to message, parsed when they are JSON', (t) => {
    const { last, up, messages } = setup(t);
    up();
    last().receive('{"type":"chat","wsgate":1}', 'hello', '[1,2]', '42', { wsgate: 'from the future', channel: 'x' });
    assert.deepEqual(messages, [
      [{ type: 'chat', wsgate: 1 }, {}],
      ['hello', {}],
      [[1, 2], {}],
      [42, {}],
    ]);
  });

  it('never throws on malformed wsgate frames', (t) => {
    const { client, last, up, messages } = setup(t);
    client.subscribe('room:1', () => {}, { request: false });
    up();
    for (const frame of [
      { wsgate: 'pub' },
      { wsgate: 'pub', channel: 5, data: 1 },
      { wsgate: 'joined' },
      { wsgate: 'joined', channel: 'room:1', epoch: 3, offset: 'x', recovered: 'yes' },
      { wsgate: 'subscribed', channel: 'room:1' },
      { wsgate: 'presence', channel: 'room:1', members: 'many' },
      { wsgate: 'join', channel: 'room:1' },
      { wsgate: 'error' },
      { wsgate: 'ready' },
      { wsgate: 'left', channel: null },
    ]) {
      assert.doesNotThrow(() => last().receive(frame), JSON.stringify(frame));
    }
    assert.deepEqual(messages, []);
  });
});

describe('wsgate.js: the bundle', () => {
  it('src/client/bundle.ts is src/client/wsgate.ts as it is now (run scripts/embed-client.mjs after editing it)', async () => {
    // A script rather than a typed module: typed here.
    const script: string = new URL('../../scripts/embed-client.mjs', import.meta.url).href;
    const { clientBundle } = (await import(script)) as { clientBundle: () => string };
    assert.equal(readFileSync(new URL('../../src/client/bundle.ts', import.meta.url), 'utf8'), clientBundle());
  });

  it('the classic script defines wsgate.connect in a page', async () => {
    const { WSGATE_JS, WSGATE_MJS, WSGATE_DTS } = await import('../../src/client/bundle.ts');
    const sockets: FakeSocket[] = [];
    const page: Record<string, unknown> = {
      location: { href: 'https://app.test/rooms/tea' },
      WebSocket: class extends FakeSocket {
        constructor(url: string) {
          super(url, sockets);
        }
      },
      URL,
    };
    runInNewContext(WSGATE_JS, page);
    const wsgate = page.wsgate as { connect: typeof connect };
    const client = wsgate.connect('/ws/rooms/tea');
    assert.equal(sockets[0]!.url, 'wss://app.test/ws/rooms/tea?wsgate=1');
    sockets[0]!.open();
    sockets[0]!.receive({ wsgate: 'ready', socket: 'abc' });
    assert.equal(client.socket, 'abc');
    assert.match(WSGATE_MJS, /^export \{\n {2}connect\n\};$/m);
    assert.match(WSGATE_DTS, /export declare function connect\(url\?: string, options\?: ClientOptions\): WsgateClient;/);
  });
});
