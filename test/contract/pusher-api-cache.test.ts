/**
 * `GET /apps/{id}/channels/{cache channel}?info=cache`, as the `pusher` SDK
 * asks it: the channel's kept last event (`cache.data`, the text the app
 * sent) and the seconds it is still kept (`cache.ttl`); no `cache` while
 * nothing is kept, and a 400 for a channel that keeps nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import { nextEvent, pusherClient, serverSdk } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { APP as PHP_APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };
/** Pusher keeps a cache channel's last event for 30 minutes, and so does wsgate unless a rule says otherwise. */
const TTL = 30 * 60;

describe(`Pusher API: info=cache on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: PusherJs[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { 'app.test': PHP_APP }, pusher: { apps: [APP] } } });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
  });

  async function info(channel: string, fields: string): Promise<{ status: number; body: string }> {
    return serverSdk(APP, server.port)
      .get({ path: `/channels/${channel}`, params: { info: fields } })
      .then(
        async (response) => ({ status: response.status, body: await response.text() }),
        (error: { status?: number; body?: string }) => ({ status: error.status ?? 0, body: error.body ?? '' }),
      );
  }

  it("answers a cache channel's last event and how long it is still kept", async () => {
    assert.deepEqual(await info('cache-prices', 'cache'), { status: 200, body: '{"occupied":false}' }, 'nothing kept yet: no cache');
    const sdk = serverSdk(APP, server.port);
    await sdk.trigger('cache-prices', 'price', { eur: 1 });
    await sdk.trigger('cache-prices', 'price', { eur: 2 });
    const kept = await info('cache-prices', 'cache');
    assert.equal(kept.status, 200);
    const body = JSON.parse(kept.body) as { occupied: boolean; cache?: { data: unknown; ttl: unknown } };
    assert.equal(body.occupied, false);
    assert.equal(body.cache?.data, '{"eur":2}', 'the last event, as the app sent its data');
    assert.ok(typeof body.cache.ttl === 'number' && Number.isInteger(body.cache.ttl) && body.cache.ttl > TTL - 60 && body.cache.ttl <= TTL, `ttl ${String(body.cache.ttl)}`);

    // With a subscriber, next to the other fields; and it is what a new subscriber gets first.
    const client = await pusherClient(APP, server.port);
    clients.push(client);
    const channel = client.subscribe('cache-prices');
    // The kept event comes right after the subscription succeeded: once it is here, the channel is occupied.
    assert.deepEqual(await nextEvent<{ eur: number }>(channel, 'price', 5000), { eur: 2 });
    const both = JSON.parse((await info('cache-prices', 'subscription_count,cache')).body) as { occupied: boolean; subscription_count: number; cache: { data: string } };
    assert.deepEqual([both.occupied, both.subscription_count, both.cache.data], [true, 1, '{"eur":2}']);
  });

  it('refuses info=cache for a channel that is not a cache channel (400)', async () => {
    const refused = await info('prices', 'cache');
    assert.equal(refused.status, 400);
    assert.match(refused.body, /cache- channels/);
  });
});
