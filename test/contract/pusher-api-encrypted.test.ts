/**
 * Pusher's HTTP API takes an event for a `private-encrypted-` channel on that
 * channel alone ("channels ... not supported" with encrypted channels): its
 * data is sealed with that channel's own key, so the same data cannot be
 * right for a second channel. An event naming one with others is refused
 * whole, and none of its channels gets it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import { nextEvent, pusherClient, serverSdk, subscribed } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };

describe(`Pusher API: events to encrypted channels on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: PusherJs[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { 'shared.test': { module: join(FIXTURES, 'send-hooks.ts') } }, pusher: { apps: [APP] } } });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
  });

  it('refuses an event to a private-encrypted- channel and another (400), and delivers none of it', async () => {
    const client = await pusherClient(APP, server.port);
    clients.push(client);
    const news = await subscribed(client, 'news');
    const sdk = serverSdk(APP, server.port);
    // post() is how a caller without trigger()'s own check sends it. It JSON-encodes the body, whatever its types say.
    const post = (body: object) => sdk.post({ path: '/events', body: body as unknown as string });
    const first = nextEvent<string>(news, 'e', 5000);
    const refused = await post({ name: 'e', data: 'sealed for one channel', channels: ['private-encrypted-orders', 'news'] }).then(
      (response) => ({ status: response.status, body: '' }),
      (error: { status?: number; body?: string }) => ({ status: error.status, body: error.body ?? '' }),
    );
    assert.equal(refused.status, 400);
    assert.match(refused.body, /private-encrypted-orders/);
    // The event after it is the first that arrives: the refused one reached no channel.
    await sdk.trigger('news', 'e', 'after');
    assert.equal(await first, 'after');
    assert.equal((await post({ name: 'e', data: 'x', channels: ['private-encrypted-orders', 'private-encrypted-orders'] })).status, 200);
  });
});
