/**
 * GET /channels/{channel} and /channels/{channel}/users answer for the
 * channel their signature named, byte for byte. The `pusher` SDK signs a
 * path as it is and sends it so: a request signed for "room-%41" (a name
 * an app built from its user's input) must not be read as "room-A", another
 * channel. Encoded slashes, NULs and double encoding get a 400 that says why.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import { pusherClient, serverSdk, subscribed } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };

/** The status and body of an SDK GET, whether it succeeded or not. */
async function get(sdk: ReturnType<typeof serverSdk>, path: string, params?: Record<string, string>): Promise<{ status: number; body: string }> {
  try {
    const response = await sdk.get({ path, ...(params ? { params } : {}) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    const { status, body } = error as { status?: number; body?: string };
    if (status === undefined) throw error;
    return { status, body: body ?? '' };
  }
}

describe(`Pusher API: channel names in the path on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: PusherJs[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { 'shared.test': { module: join(FIXTURES, 'send-hooks.ts') } }, pusher: { apps: [APP] } } });
    const ann = await pusherClient(APP, server.port, { user: { id: 'ann' } });
    clients.push(ann);
    await subscribed(ann, 'room-A');
    await subscribed(ann, 'presence-A');
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
  });

  it('does not answer for "room-A" when "room-%41" was signed', async () => {
    const sdk = serverSdk(APP, server.port);
    assert.deepEqual(await get(sdk, '/channels/room-A', { info: 'subscription_count' }), { status: 200, body: '{"occupied":true,"subscription_count":1}' });
    const encoded = await get(sdk, '/channels/room-%41', { info: 'subscription_count' });
    assert.equal(encoded.status, 400, encoded.body);
    assert.match(encoded.body, /channel "room-%41" may hold only/);
  });

  it('does not list the users of "presence-A" when "presence-%41" was signed', async () => {
    const sdk = serverSdk(APP, server.port);
    assert.deepEqual(await get(sdk, '/channels/presence-A/users'), { status: 200, body: '{"users":[{"id":"ann"}]}' });
    const encoded = await get(sdk, '/channels/presence-%41/users');
    assert.equal(encoded.status, 400, encoded.body);
    assert.match(encoded.body, /channel "presence-%41" may hold only/);
  });

  it('refuses encoded slashes, NULs and double encoding with a 400, never another channel\'s answer', async () => {
    const sdk = serverSdk(APP, server.port);
    for (const path of ['/channels/presence-A%2Fusers', '/channels/presence-A%2Fusers/users', '/channels/room-%2541', '/channels/room-A%00', '/channels/room-A%00/users']) {
      const got = await get(sdk, path);
      assert.equal(got.status, 400, `${path}: ${got.body}`);
      assert.doesNotMatch(got.body, /^\{/, `${path}: not an answer`);
    }
    const long = await get(sdk, `/channels/room-${'a'.repeat(200)}`);
    assert.equal(long.status, 400);
    assert.match(long.body, /is 205 characters; the limit is 200/);
  });

  it('answers a request signed over the decoded path and sent encoded, for the channel signed', async () => {
    const sdk = serverSdk(APP, server.port);
    const query = sdk.createSignedQueryString({ method: 'GET', path: `/apps/${APP.id}/channels/room-A`, params: { info: 'subscription_count' } });
    const response = await fetch(`http://127.0.0.1:${server.port}/apps/${APP.id}/channels/room-%41?${query}`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '{"occupied":true,"subscription_count":1}');
  });
});
