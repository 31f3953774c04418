// pusher-js subscribes to every channel of the page at once, on each connect
// and reconnect (subscribeAll): a burst of as many pusher:subscribe frames as
// the page has channels, which the app's limits.subscriptions allows.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startCore, PUSHER_APP } from '../support/core.ts';
import type { Core } from '../support/core.ts';

describe('a Pusher connection subscribing to all its channels at once', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('is served up to limits.subscriptions, beyond limits.pending, and not closed', async () => {
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts' } }, limits: { pending: 20 } }, { 'a.test': {} });
    const app = { ...PUSHER_APP, limits: { ...PUSHER_APP.limits, subscriptions: 50 } };
    core.gateway.pusher.configure([app]);
    const socket = await core.connectPusher(app);
    socket.take();
    for (let i = 0; i < 50; i++) core.send(socket, JSON.stringify({ event: 'pusher:subscribe', data: { channel: `orders.${i}` } }));
    await core.settle();
    assert.equal(socket.closed, undefined);
    const succeeded = (socket.take() as Array<{ event?: string }>).filter((f) => f.event === 'pusher_internal:subscription_succeeded');
    assert.equal(succeeded.length, 50);
  });

  it('passes the rate limit too, when the page has more channels than limits.messageBurst', async () => {
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts' } }, limits: { messageBurst: 30, messagesPerSecond: 1 } }, { 'a.test': {} });
    const app = { ...PUSHER_APP, limits: { ...PUSHER_APP.limits, subscriptions: 50 } };
    core.gateway.pusher.configure([app]);
    const socket = await core.connectPusher(app);
    socket.take();
    for (let i = 0; i < 50; i++) core.send(socket, JSON.stringify({ event: 'pusher:subscribe', data: { channel: `orders.${i}` } }));
    core.send(socket, JSON.stringify({ event: 'pusher:ping', data: {} }));
    await core.settle();
    assert.equal(socket.closed, undefined);
    const frames = socket.take() as Array<{ event?: string }>;
    assert.equal(frames.filter((f) => f.event === 'pusher_internal:subscription_succeeded').length, 50);
    assert.equal(frames.filter((f) => f.event === 'pusher:pong').length, 1);
  });

  it('still closes a connection that sends faster than that burst allows', async () => {
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts' } }, limits: { messageBurst: 30, messagesPerSecond: 1 } }, { 'a.test': {} });
    const app = { ...PUSHER_APP, limits: { ...PUSHER_APP.limits, subscriptions: 50 } };
    core.gateway.pusher.configure([app]);
    const socket = await core.connectPusher(app);
    for (let i = 0; i < 60; i++) core.send(socket, JSON.stringify({ event: 'pusher:ping', data: {} }));
    await core.settle();
    assert.equal(socket.closed?.code, 1008);
  });
});
