// A channel of a shared host with wsgate's presenceEvents, with a Pusher
// client in it: wsgate's join and leave frames are for wsgate sockets.
// pusher-js reads every frame's `event` as a string (`eventName.indexOf`),
// so a frame without one throws in its message handler.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startCore, PUSHER_APP } from '../support/core.ts';
import type { Core } from '../support/core.ts';

describe("Pusher clients in a channel with wsgate's presenceEvents", () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('get only Pusher events, not the join and leave frames of wsgate sockets or of each other', async () => {
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts', channels: { 'chat.*': { presenceEvents: true } } } } }, { 'a.test': {} });
    core.gateway.pusher.configure([PUSHER_APP]);
    const pusher = await core.connectPusher(PUSHER_APP);
    core.send(pusher, JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'chat.1' } }));
    await core.settle();
    const other = await core.connectPusher(PUSHER_APP);
    core.send(other, JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'chat.1' } }));
    const plain = await core.connect('a.test', 'tok', { aware: true });
    await core.gateway.subscribeEverywhere('a.test', { kind: 'token', token: 'tok' }, 'chat.1', true);
    await core.settle();
    core.gateway.closed(plain.client, 1000);
    core.gateway.closed(other.client, 1000);
    await core.settle();
    const frames = pusher.take() as Array<Record<string, unknown>>;
    assert.ok(frames.length >= 2);
    for (const frame of frames) assert.equal(typeof frame.event, 'string', `a frame pusher-js cannot read: ${JSON.stringify(frame)}`);
  });
});
