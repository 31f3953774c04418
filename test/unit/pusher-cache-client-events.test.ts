// What a Pusher cache channel keeps for its new subscribers: the app's events, not a client event (in-process, test/support/core.ts).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import Pusher from 'pusher';
import { startCore, PUSHER_APP } from '../support/core.ts';
import type { Core, FakeSocket } from '../support/core.ts';

const APP = PUSHER_APP;
const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });
type Frame = { event?: string; channel?: string; data?: unknown };
const frames = (socket: FakeSocket) => socket.take() as Frame[];

describe('Pusher cache channels', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it("gives a new subscriber the app's last event, not a client event a subscriber sent after it", async () => {
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts', channels: { 'private-cache-*': { history: { size: 1, ttl: 1800 } } } } } }, { 'a.test': {} });
    core.gateway.pusher.configure([APP]);
    const channel = 'private-cache-prices';
    const subscribe = (socket: FakeSocket) => core!.send(socket, JSON.stringify({ event: 'pusher:subscribe', data: { channel, ...sdk.authorizeChannel(socket.client.id, channel) } }));
    const mallory = await core.connectPusher(APP);
    const present = await core.connectPusher(APP);
    subscribe(mallory);
    subscribe(present);
    await core.settle();
    await core.gateway.pusherApi.trigger(APP, { name: 'price', data: '{"eur":10}', channels: [channel] });
    core.send(mallory, JSON.stringify({ event: 'client-price', channel, data: { eur: 0 } }));
    await core.settle();
    // Those in the channel still get it, as any client event.
    assert.deepEqual(frames(present).filter((f) => f.event === 'client-price'), [{ event: 'client-price', channel, data: '{"eur":0}' }]);
    const later = await core.connectPusher(APP);
    frames(later);
    subscribe(later);
    await core.settle();
    const got = frames(later).filter((f) => f.channel === channel && !String(f.event).startsWith('pusher'));
    assert.deepEqual(got, [{ event: 'price', channel, data: '{"eur":10}' }]);
  });
});
