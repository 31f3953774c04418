// The presence member limit holds when users join at once, in-process (test/support/core.ts).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import Pusher from 'pusher';
import { startCore, PUSHER_APP } from '../support/core.ts';
import type { Core, FakeSocket } from '../support/core.ts';
import type { PusherApp } from '../../src/config/config.ts';

type Frame = { event?: string; channel?: string; data?: unknown };
const frames = (socket: FakeSocket) => socket.take() as Frame[];

describe('presence member limit', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('keeps a presence channel within presenceMembers when users subscribe at the same moment', async () => {
    const app: PusherApp = { ...PUSHER_APP, limits: { ...PUSHER_APP.limits, presenceMembers: 2 } };
    const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts' } } }, { 'a.test': {} });
    core.gateway.pusher.configure([app]);
    const sockets: FakeSocket[] = [];
    for (let i = 0; i < 5; i++) sockets.push(await core.connectPusher(app));
    for (const socket of sockets) frames(socket);
    // All five frames arrive before any is done, as from five browsers at once.
    for (const [i, socket] of sockets.entries()) {
      const auth = sdk.authorizeChannel(socket.client.id, 'presence-room', { user_id: `u${i}` });
      core.send(socket, JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'presence-room', ...auth } }));
    }
    await core.settle();
    const users = await core.gateway.users('a.test', 'presence-room');
    const succeeded = sockets.filter((s) => frames(s).some((f) => f.event === 'pusher_internal:subscription_succeeded')).length;
    assert.equal(users.size, 2, `users in the channel: ${[...users.keys()].join(',')}`);
    assert.equal(succeeded, 2);
  });
});
