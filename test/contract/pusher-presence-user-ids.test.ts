/**
 * A presence member's user_id (the auth endpoint's channel_data) follows
 * Pusher's rule for presence user ids, at most 128 characters and no control
 * characters, not the channel-name length: with the real pusher-js and the
 * `pusher` SDK signing, on a real server.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import type { PresenceChannel } from 'pusher-js';
import { pusherClient, subscribed } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };

describe(`Pusher presence user ids on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: PusherJs[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { 'shared.test': { module: join(FIXTURES, 'send-hooks.ts') } }, pusher: { apps: [{ ...APP, host: 'shared.test' }] } } });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
  });
  const member = async (id: string) => {
    const client = await pusherClient(APP, server.port, { user: { id } });
    clients.push(client);
    return client;
  };

  it('takes a user_id of 128 characters', async () => {
    const room = (await subscribed(await member('u'.repeat(128)), 'presence-ids')) as PresenceChannel;
    assert.equal(room.members.me.id, 'u'.repeat(128));
  });

  it('refuses a user_id of 129 characters (within the 200 of a channel name) with a subscription_error that says why, and keeps the connection', async () => {
    const client = await member('u'.repeat(129));
    await assert.rejects(subscribed(client, 'presence-long'), (error: Error) => {
      assert.match(error.message, /"status":400/);
      assert.match(error.message, /user id is 129 characters; the limit is 128/);
      return true;
    });
    assert.equal(client.connection.state, 'connected');
  });

  it('refuses a user_id holding a control character', async () => {
    await assert.rejects(subscribed(await member('ann\nlee'), 'presence-ctl'), /control character/);
  });
});
