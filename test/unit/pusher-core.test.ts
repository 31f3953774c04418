// The Pusher front end in-process (test/support/core.ts): connections of an
// app on a configured host, signed with the real `pusher` SDK, beside plain
// wsgate sockets of the same host.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import Pusher from 'pusher';
import { startCore, PUSHER_APP } from '../support/core.ts';
import type { Core, FakeSocket } from '../support/core.ts';
import type { PusherApp } from '../../src/config/config.ts';

const APP: PusherApp = PUSHER_APP;
const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });

type Frame = { event?: string; channel?: string; data?: unknown; user_id?: string };
const frames = (socket: FakeSocket) => socket.take() as Frame[];
const dataOf = (frame: Frame | undefined) => (typeof frame?.data === 'string' ? JSON.parse(frame.data) : frame?.data);
const socketIdOf = (socket: FakeSocket) => socket.client.id;

describe('Pusher front end, in-process', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  const start = (app: PusherApp = APP) => {
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts', channels: { 'cache-*': { history: { size: 1, ttl: 1800 } } } } } }, { 'a.test': {} });
    core.gateway.pusher.configure([app]);
    return core;
  };
  const subscribe = (socket: FakeSocket, channel: string, fields: object = {}) => core!.send(socket, JSON.stringify({ event: 'pusher:subscribe', data: { channel, ...fields } }));

  it('says the connection is established with a socket id and the activity timeout, and answers pings', async () => {
    start();
    const socket = await core!.connectPusher(APP);
    const [established] = frames(socket);
    assert.equal(established?.event, 'pusher:connection_established');
    const data = dataOf(established);
    assert.match(data.socket_id, /^\d+\.\d+$/);
    assert.equal(data.socket_id, socketIdOf(socket));
    assert.equal(data.activity_timeout, 120);
    core!.send(socket, '{"event":"pusher:ping","data":{}}');
    await core!.settle();
    assert.deepEqual(frames(socket).map((f) => f.event), ['pusher:pong']);
  });

  it('subscribes to public channels, and to private ones only with a valid signature', async () => {
    start();
    const socket = await core!.connectPusher(APP);
    frames(socket);
    subscribe(socket, 'news');
    const channel = 'private-orders.1';
    subscribe(socket, channel, { auth: `${APP.key}:${'0'.repeat(64)}` });
    await core!.settle();
    const [news, refused] = frames(socket);
    assert.deepEqual([news?.event, news?.channel, news?.data], ['pusher_internal:subscription_succeeded', 'news', '{}']);
    assert.equal(refused?.event, 'pusher:subscription_error');
    assert.deepEqual(refused?.data, { type: 'AuthError', error: 'invalid signature for private-orders.1', status: 401 });
    subscribe(socket, channel, sdk.authorizeChannel(socketIdOf(socket), channel));
    await core!.settle();
    assert.deepEqual(frames(socket).map((f) => [f.event, f.channel]), [['pusher_internal:subscription_succeeded', channel]]);
  });

  it('publishes an API event and a wsgate cast to Pusher and plain subscribers of one channel', async () => {
    start();
    const pusher = await core!.connectPusher(APP);
    subscribe(pusher, 'room');
    const plain = await core!.connect('a.test', 'tok');
    core!.gateway.cast('a.test', { kind: 'channel', channel: 'room' }, { event: 'joined', data: { n: 1 } }, undefined);
    await core!.settle();
    assert.equal(plain.sent.length, 0, 'the plain socket is not in the channel yet');
    await core!.gateway.subscribeEverywhere('a.test', { kind: 'token', token: 'tok' }, 'room', true);
    frames(pusher);
    core!.gateway.cast('a.test', { kind: 'channel', channel: 'room' }, { event: 'OrderShipped', data: '{"id":12345678901234567890}' }, undefined);
    core!.gateway.cast('a.test', { kind: 'channel', channel: 'room' }, { type: 'vote', n: 3 }, undefined);
    await core!.settle();
    assert.deepEqual(frames(pusher), [
      // The data text as the app sent it, digit for digit.
      { event: 'OrderShipped', channel: 'room', data: '{"id":12345678901234567890}' },
      { event: 'message', channel: 'room', data: '{"type":"vote","n":3}' },
    ]);
    assert.deepEqual(plain.take(), [{ event: 'OrderShipped', data: '{"id":12345678901234567890}' }, { type: 'vote', n: 3 }]);
  });

  it('keeps presence by user: here, joining once per user, leaving on the last socket', async () => {
    start();
    const join = async (user: string, info: unknown) => {
      const socket = await core!.connectPusher(APP);
      const channelData = JSON.stringify({ user_id: user, user_info: info });
      subscribe(socket, 'presence-room', sdk.authorizeChannel(socketIdOf(socket), 'presence-room', { user_id: user, user_info: info as Record<string, unknown> }));
      await core!.settle();
      assert.ok(channelData);
      return socket;
    };
    const ann = await join('1', { name: 'Ann' });
    const succeeded = frames(ann).find((f) => f.event === 'pusher_internal:subscription_succeeded');
    assert.deepEqual(dataOf(succeeded), { presence: { ids: ['1'], hash: { '1': { name: 'Ann' } }, count: 1 } });
    const bob = await join('2', { name: 'Bob' });
    assert.deepEqual(dataOf(frames(bob).find((f) => f.event === 'pusher_internal:subscription_succeeded')).presence.count, 2);
    assert.deepEqual(frames(ann).map((f) => [f.event, dataOf(f)]), [['pusher_internal:member_added', { user_id: '2', user_info: { name: 'Bob' } }]]);
    const bobAgain = await join('2', { name: 'Bob' });
    assert.deepEqual(frames(ann), [], 'a second socket of the same user is not a new member');
    assert.deepEqual(dataOf(frames(bobAgain).find((f) => f.event === 'pusher_internal:subscription_succeeded')).presence.ids, ['1', '2']);
    core!.send(bob, JSON.stringify({ event: 'pusher:unsubscribe', data: { channel: 'presence-room' } }));
    await core!.settle();
    assert.deepEqual(frames(ann), [], 'the user still has a socket in the channel');
    core!.gateway.closed(bobAgain.client, 1000);
    await core!.settle();
    assert.deepEqual(frames(ann).map((f) => [f.event, dataOf(f)]), [['pusher_internal:member_removed', { user_id: '2' }]]);
    assert.deepEqual([...(await core!.gateway.users('a.test', 'presence-room')).keys()], ['1']);
  });

  it('relays client events to the others in a private or presence channel, with the user on presence, never to the sender', async () => {
    start();
    const a = await core!.connectPusher(APP);
    const b = await core!.connectPusher(APP);
    for (const socket of [a, b]) subscribe(socket, 'presence-chat', sdk.authorizeChannel(socketIdOf(socket), 'presence-chat', { user_id: socket === a ? 'ann' : 'bob' }));
    subscribe(a, 'news');
    await core!.settle();
    frames(a);
    frames(b);
    core!.send(a, JSON.stringify({ event: 'client-typing', channel: 'presence-chat', data: { on: true } }));
    core!.send(a, JSON.stringify({ event: 'client-typing', channel: 'news', data: {} }));
    await core!.settle();
    assert.deepEqual(frames(b), [{ event: 'client-typing', channel: 'presence-chat', data: '{"on":true}', user_id: 'ann' }]);
    const [refused] = frames(a);
    assert.equal(refused?.event, 'pusher:error');
    assert.match((refused?.data as { message: string }).message, /private or presence channel/);
  });

  it('refuses client events when the app does not allow them, and over the rate with 4301', async () => {
    const app = { ...APP, clientEventsPerSecond: 2 };
    start(app);
    const a = await core!.connectPusher(app);
    subscribe(a, 'private-x', sdk.authorizeChannel(socketIdOf(a), 'private-x'));
    await core!.settle();
    frames(a);
    for (let i = 0; i < 3; i++) core!.send(a, JSON.stringify({ event: 'client-x', channel: 'private-x', data: {} }));
    await core!.settle();
    const errors = frames(a).filter((f) => f.event === 'pusher:error');
    assert.equal(errors.length, 1, 'the third in a second is over a rate of 2');
    assert.equal((errors[0]?.data as { code: number }).code, 4301);
    core!.gateway.pusher.configure([{ ...APP, clientEvents: false }]);
    core!.send(a, JSON.stringify({ event: 'client-x', channel: 'private-x', data: {} }));
    await core!.settle();
    assert.match((frames(a)[0]?.data as { message: string }).message, /not enabled/);
  });

  it('signs a user in, lets only that connection into its user channel, and closes its connections on terminate', async () => {
    start();
    const a = await core!.connectPusher(APP);
    const other = await core!.connectPusher(APP);
    frames(a);
    frames(other);
    const userData = JSON.stringify({ id: 'u1', name: 'Ann' });
    const signed = sdk.authenticateUser(socketIdOf(a), { id: 'u1', name: 'Ann' });
    assert.equal(signed.user_data, userData);
    core!.send(a, JSON.stringify({ event: 'pusher:signin', data: { auth: signed.auth, user_data: signed.user_data } }));
    subscribe(other, '#server-to-user-u1');
    await core!.settle();
    const [success] = frames(a);
    assert.equal(success?.event, 'pusher:signin_success');
    assert.deepEqual(dataOf(success), { user_data: userData });
    assert.equal(frames(other)[0]?.event, 'pusher:subscription_error');
    core!.gateway.cast(APP.host, { kind: 'channel', channel: '#server-to-user-u1' }, { event: 'notice', data: 'hi' }, undefined);
    await core!.settle();
    assert.deepEqual(frames(a), [{ event: 'notice', channel: '#server-to-user-u1', data: 'hi' }]);
    const closed = await core!.gateway.disconnectEverywhere(APP.host, { kind: 'channel', channel: '#server-to-user-u1' }, 4009, 'terminated');
    assert.equal(closed.value, 1);
    assert.equal(a.closed?.code, 4009);
    assert.equal(other.closed, undefined);
  });

  it('pings a quiet connection after its activity timeout and closes it with 4201 when no pong comes', async () => {
    const app = { ...APP, activityTimeout: 1 };
    start(app);
    const quiet = await core!.connectPusher(app);
    const lively = await core!.connectPusher(app);
    frames(quiet);
    frames(lively);
    const t0 = performance.now();
    core!.gateway.sweep(t0 + 1500);
    assert.deepEqual(frames(quiet).map((f) => f.event), ['pusher:ping']);
    assert.deepEqual(frames(lively).map((f) => f.event), ['pusher:ping']);
    core!.send(lively, '{"event":"pusher:pong","data":{}}');
    core!.gateway.sweep(t0 + 1500 + 31_000);
    assert.equal(quiet.closed?.code, 4201);
    assert.equal(lively.closed, undefined);
  });

  it("gives a cache channel's subscriber its last event, or pusher:cache_miss when it has none", async () => {
    start();
    const misses: string[] = [];
    core!.gateway.events.observe({ cacheMiss: (_host, channel) => void misses.push(channel) });
    const first = await core!.connectPusher(APP);
    subscribe(first, 'cache-prices');
    await core!.settle();
    assert.deepEqual(frames(first).slice(1).map((f) => [f.event, f.channel]), [['pusher_internal:subscription_succeeded', 'cache-prices'], ['pusher:cache_miss', 'cache-prices']]);
    assert.deepEqual(misses, ['cache-prices']);
    core!.gateway.cast('a.test', { kind: 'channel', channel: 'cache-prices' }, { event: 'price', data: '1' }, undefined);
    core!.gateway.cast('a.test', { kind: 'channel', channel: 'cache-prices' }, { event: 'price', data: '2' }, undefined);
    const second = await core!.connectPusher(APP);
    subscribe(second, 'cache-prices');
    await core!.settle();
    assert.deepEqual(frames(second).slice(1), [
      { event: 'pusher_internal:subscription_succeeded', channel: 'cache-prices', data: '{}' },
      { event: 'price', channel: 'cache-prices', data: '2' },
    ]);
    assert.deepEqual(misses, ['cache-prices']);
  });

  it('tells a signed-in connection when the users on its watchlist come online and go offline, once per user', async () => {
    start();
    const signin = async (id: string, watchlist?: string[]) => {
      const socket = await core!.connectPusher(APP);
      const data = watchlist ? { id, watchlist } : { id };
      const signed = sdk.authenticateUser(socketIdOf(socket), data);
      core!.send(socket, JSON.stringify({ event: 'pusher:signin', data: signed }));
      await core!.settle();
      return socket;
    };
    const watched = (socket: FakeSocket) => frames(socket).filter((f) => f.event === 'pusher_internal:watchlist_events').map((f) => dataOf(f).events);
    const ann = await signin('ann', ['bob', 'cy']);
    assert.deepEqual(watched(ann), [], 'nobody it watches is online');
    const bob = await signin('bob');
    assert.deepEqual(watched(ann), [[{ name: 'online', user_ids: ['bob'] }]]);
    const bob2 = await signin('bob');
    assert.deepEqual(watched(ann), [], 'a second connection of bob is not news');
    const dee = await signin('dee', ['bob', 'ann']);
    assert.deepEqual(watched(dee), [[{ name: 'online', user_ids: ['bob', 'ann'] }]]);
    core!.gateway.closed(bob.client, 1000);
    await core!.settle();
    assert.deepEqual(watched(ann), []);
    core!.gateway.closed(bob2.client, 1000);
    await core!.settle();
    assert.deepEqual(watched(ann), [[{ name: 'offline', user_ids: ['bob'] }]]);
    assert.deepEqual(watched(dee), [[{ name: 'offline', user_ids: ['bob'] }]]);
    // Nobody can subscribe to the gateway's own channels.
    subscribe(ann, '#online');
    await core!.settle();
    assert.equal(frames(ann)[0]?.event, 'pusher:subscription_error');
  });

  it('bounds what a connection can make the gateway hold: its subscriptions and the ids it names', async () => {
    const app = { ...APP, limits: { ...APP.limits, subscriptions: 3 } };
    start(app);
    const socket = await core!.connectPusher(app);
    frames(socket);
    for (const channel of ['a', 'b', 'c', 'd']) subscribe(socket, channel);
    subscribe(socket, 'a');
    await core!.settle();
    const answers = frames(socket).map((f) => [f.event, f.channel]);
    assert.deepEqual(answers, [
      ['pusher_internal:subscription_succeeded', 'a'],
      ['pusher_internal:subscription_succeeded', 'b'],
      ['pusher_internal:subscription_succeeded', 'c'],
      ['pusher:subscription_error', 'd'],
      // Already in it: not one more.
      ['pusher_internal:subscription_succeeded', 'a'],
    ]);
    const long = 'u'.repeat(201);
    subscribe(socket, 'presence-x', sdk.authorizeChannel(socketIdOf(socket), 'presence-x', { user_id: long }));
    core!.send(socket, JSON.stringify({ event: 'pusher:signin', data: sdk.authenticateUser(socketIdOf(socket), { id: long }) }));
    await core!.settle();
    assert.deepEqual(frames(socket).map((f) => f.event), ['pusher:subscription_error', 'pusher:error']);
  });
});
