/**
 * The Pusher protocol on a real server, with the real clients: pusher-js
 * (Node build) for connections, the `pusher` SDK for the HTTP API, and a
 * plain ws socket of the same host in the same channel.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import type { PresenceChannel } from 'pusher-js';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { nextEvent, pusherClient, serverSdk, subscribed } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };

describe(`Pusher protocol on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: PusherJs[] = [];
  const sockets: Client[] = [];
  before(async () => {
    server = await startServer({
      config: {
        hosts: { 'shared.test': { module: join(FIXTURES, 'send-hooks.ts'), clientChannels: true } },
        pusher: { apps: [{ ...APP, host: 'shared.test', clientEvents: true }, { id: 'own', key: 'own-key', secret: 'another-secret-of-some-length' }] },
      },
    });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    for (const socket of sockets) socket.ws.terminate();
    await server?.stop();
  });
  const client = async (options?: Parameters<typeof pusherClient>[2], app = APP) => {
    const c = await pusherClient(app, server.port, options);
    clients.push(c);
    return c;
  };

  it('connects pusher-js, and closes an unknown key with 4001 so it does not retry', async () => {
    const c = await client();
    assert.match(c.connection.socket_id, /^\d+\.\d+$/);
    const unknown = await import('pusher-js').then(({ default: PusherJs }) => new PusherJs('no-such-key', { cluster: 'mt1', wsHost: '127.0.0.1', wsPort: server.port, forceTLS: false, enabledTransports: ['ws'], disableStats: true }));
    // Disconnected in any case, so a failure here does not leave it retrying and the test process alive.
    clients.push(unknown);
    const error = await nextEvent<{ error?: { data?: { code?: number } } }>(unknown.connection, 'error');
    assert.equal(error.error?.data?.code, 4001);
    await waitFor('pusher-js to give up', () => unknown.connection.state === 'failed' || unknown.connection.state === 'disconnected');
  });

  it('delivers the SDK trigger to public, private and multiple channels, minus the socket_id it names', async () => {
    const a = await client();
    const b = await client();
    const news = await subscribed(a, 'news');
    const secret = await subscribed(a, 'private-orders');
    await subscribed(b, 'news');
    const sdk = serverSdk(APP, server.port);
    const gotNews = nextEvent<{ title: string }>(news, 'headline');
    await sdk.trigger(['news', 'private-orders'], 'headline', { title: 'hello' });
    assert.deepEqual(await gotNews, { title: 'hello' });
    const gotPrivate = nextEvent<{ id: number }>(secret, 'OrderShipped');
    await sdk.trigger('private-orders', 'OrderShipped', { id: 7 });
    assert.deepEqual(await gotPrivate, { id: 7 });
    // Excluded by socket_id: b gets it, a does not (a's next news event is the later one).
    const bNews = nextEvent<{ n: number }>(b.channel('news')!, 'count');
    const aNews = nextEvent<{ n: number }>(news, 'count');
    await sdk.trigger('news', 'count', { n: 1 }, { socket_id: a.connection.socket_id });
    await sdk.trigger('news', 'count', { n: 2 });
    assert.deepEqual(await bNews, { n: 1 });
    assert.deepEqual(await aNews, { n: 2 });
  });

  it('delivers a triggerBatch in its order, with the info it asks for', async () => {
    const c = await client();
    const channel = await subscribed(c, 'batch-room');
    const got: number[] = [];
    channel.bind('step', (data: { n: number }) => got.push(data.n));
    const sdk = serverSdk(APP, server.port);
    const answer = await sdk.triggerBatch([
      { channel: 'batch-room', name: 'step', data: { n: 1 } },
      { channel: 'batch-room', name: 'step', data: { n: 2 }, info: 'subscription_count' },
      { channel: 'batch-room', name: 'step', data: { n: 3 } },
    ]);
    const body = (await answer.json()) as { batch: Array<{ subscription_count?: number }> };
    assert.equal(body.batch[1]?.subscription_count, 1);
    await waitFor('the three events', () => got.length === 3);
    assert.deepEqual(got, [1, 2, 3]);
  });

  it('refuses a private channel whose signature is wrong', async () => {
    const liar = await client({ extra: { channelAuthorization: { endpoint: '', transport: 'ajax', customHandler: (_p, callback) => callback(null, { auth: `${APP.key}:${'0'.repeat(64)}` }) } } });
    await assert.rejects(subscribed(liar, 'private-orders'), /"status":401/);
  });

  it('keeps presence by user with here, joining and leaving, and counts it through the API', async () => {
    const ann = await client({ user: { id: '1', info: { name: 'Ann' } } });
    const room = (await subscribed(ann, 'presence-room')) as PresenceChannel;
    assert.equal(room.members.count, 1);
    assert.deepEqual(room.members.me, { id: '1', info: { name: 'Ann' } });
    const joined = nextEvent<{ id: string; info: unknown }>(room, 'pusher:member_added');
    const bob = await client({ user: { id: '2', info: { name: 'Bob' } } });
    const bobRoom = (await subscribed(bob, 'presence-room')) as PresenceChannel;
    assert.deepEqual(await joined, { id: '2', info: { name: 'Bob' } });
    assert.equal(bobRoom.members.count, 2);
    // A second connection of Bob's is not a second member.
    const bob2 = await client({ user: { id: '2', info: { name: 'Bob' } } });
    await subscribed(bob2, 'presence-room');
    const sdk = serverSdk(APP, server.port);
    const users = (await (await sdk.get({ path: '/channels/presence-room/users' })).json()) as { users: Array<{ id: string }> };
    assert.deepEqual(users.users.map((u) => u.id).sort(), ['1', '2']);
    const info = (await (await sdk.get({ path: '/channels/presence-room', params: { info: 'user_count,subscription_count' } })).json()) as Record<string, unknown>;
    assert.deepEqual(info, { occupied: true, user_count: 2, subscription_count: 3 });
    const left = nextEvent<{ id: string }>(room, 'pusher:member_removed');
    bob.disconnect();
    bob2.disconnect();
    assert.equal((await left).id, '2');
    assert.equal(room.members.count, 1);
  });

  it('relays client events (whisper) to the others in a private channel, not to the sender', async () => {
    const a = await client();
    const b = await client();
    const aChannel = await subscribed(a, 'private-chat');
    const bChannel = await subscribed(b, 'private-chat');
    let echoed = false;
    aChannel.bind('client-typing', () => (echoed = true));
    const got = nextEvent<{ typing: boolean }>(bChannel, 'client-typing');
    assert.equal(aChannel.trigger('client-typing', { typing: true }), true);
    assert.deepEqual(await got, { typing: true });
    // A later event to a from b proves a's inbox was read past the point the echo would have been.
    const back = nextEvent<{ ok: number }>(aChannel, 'client-ack');
    bChannel.trigger('client-ack', { ok: 1 });
    assert.deepEqual(await back, { ok: 1 });
    assert.equal(echoed, false);
  });

  it('shares channels with plain sockets of the host both ways', async () => {
    const socket = await connect(server.port, { host: 'shared.test', token: 'plain' });
    sockets.push(socket);
    socket.send(JSON.stringify({ wsgate: 'subscribe', channel: 'lobby' }));
    await waitFor('the plain socket in lobby', () => socket.received.some((frame) => frame.includes('"subscribed"') && frame.includes('lobby')));
    const c = await client();
    const lobby = await subscribed(c, 'lobby');
    const sdk = serverSdk(APP, server.port);
    const got = nextEvent<{ text: string }>(lobby, 'said');
    const plainGot = waitFor('the plain socket to get the API event', () => socket.received.find((frame) => frame.includes('"said"')));
    await sdk.trigger('lobby', 'said', { text: 'hi' });
    assert.deepEqual(await got, { text: 'hi' });
    assert.deepEqual(JSON.parse(await plainGot), { event: 'said', channel: 'lobby', data: '{"text":"hi"}' });
  });

  it("keeps the Pusher app's own channels from plain sockets of the host, whatever its subscribe hook says", async () => {
    // send-hooks.ts says yes to every channel: the gateway itself must refuse a user's channel, #online and watchers.
    const socket = await connect(server.port, { host: 'shared.test', token: 'snoop' });
    sockets.push(socket);
    for (const channel of ['#server-to-user-u-7', '#online', '#watchers-of-u-7']) {
      socket.send(JSON.stringify({ wsgate: 'subscribe', channel }));
      const answer = await waitFor(`the answer for ${channel}`, () => socket.received.find((frame) => frame.includes('"subscribed"') && frame.includes(JSON.stringify(channel))));
      assert.equal(JSON.parse(answer).ok, false, answer);
    }
    const c = await client({ user: { id: 'u-7' } });
    c.signin();
    await waitFor('the user channel', () => c.user.serverToUserChannel?.subscribed === true);
    const got = new Promise<unknown>((resolve) => c.user.bind('pin', resolve));
    await serverSdk(APP, server.port).sendToUser('u-7', 'pin', { pin: 1234 });
    assert.deepEqual(await got, { pin: 1234 });
    // A later frame to the plain socket proves it was read past where the user's event would have been.
    socket.send(JSON.stringify({ wsgate: 'subscribe', channel: 'after-pin' }));
    await waitFor('the later answer', () => socket.received.some((frame) => frame.includes('after-pin')));
    assert.equal(socket.received.some((frame) => frame.includes('1234')), false);
  });

  it('signs a user in, reaches it with sendToUser, and terminates its connections', async () => {
    const c = await client({ user: { id: 'u-9' } });
    c.signin();
    await waitFor('the user channel', () => c.user.serverToUserChannel?.subscribed === true);
    const sdk = serverSdk(APP, server.port);
    const got = new Promise<unknown>((resolve) => c.user.bind('notice', resolve));
    await sdk.sendToUser('u-9', 'notice', { text: 'for you' });
    assert.deepEqual(await got, { text: 'for you' });
    const closed = new Promise<void>((resolve) => c.connection.bind('state_change', ({ current }: { current: string }) => current !== 'connected' && resolve()));
    await sdk.terminateUserConnections('u-9');
    await closed;
  });

  it('lists occupied channels with the SDK, by prefix', async () => {
    const c = await client();
    await subscribed(c, 'presence-listed');
    await subscribed(c, 'private-listed');
    const sdk = serverSdk(APP, server.port);
    const all = (await (await sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json()) as { channels: Record<string, { user_count?: number }> };
    assert.equal(all.channels['presence-listed']?.user_count, 1);
    assert.equal(all.channels['private-listed'], undefined);
  });

  it('keeps an app without a host in a space of its own', async () => {
    const own = { id: 'own', key: 'own-key', secret: 'another-secret-of-some-length' };
    const c = await client({}, own);
    const channel = await subscribed(c, 'news');
    const got = nextEvent<{ n: number }>(channel, 'tick');
    await serverSdk(APP, server.port).trigger('news', 'tick', { n: 1 });
    await serverSdk(own, server.port).trigger('news', 'tick', { n: 2 });
    assert.deepEqual(await got, { n: 2 });
  });

  it('serves a page with more channels than limits.messageBurst, all subscribed at once, on one connection', async () => {
    // pusher-js sends a subscribe per channel as each is asked for: 240 frames at once, past the default burst of 200.
    const c = await client();
    const socketId = c.connection.socket_id;
    const states: string[] = [];
    c.connection.bind('state_change', (change: { current: string }) => states.push(change.current));
    await Promise.all(Array.from({ length: 240 }, (_, i) => subscribed(c, `wide-${i}`)));
    assert.deepEqual(states, []);
    assert.equal(c.connection.socket_id, socketId);
  });
});
