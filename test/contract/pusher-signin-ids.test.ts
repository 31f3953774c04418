/**
 * Pusher sign-in takes the user ids the HTTP API takes, on a real server:
 * plain ws sockets speak the protocol, the `pusher` SDK calls the API.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { serverSdk } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };
const HOSTS = { 'shared.test': { module: join(FIXTURES, 'send-hooks.ts') } };

type Frame = { event: string; channel?: string; data?: unknown };
const hmac = (text: string) => createHmac('sha256', APP.secret).update(text).digest('hex');

describe(`Pusher sign-in user ids on ${TARGET}`, { skip }, () => {
  let server: Started;
  const sockets: Client[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: HOSTS, pusher: { apps: [{ ...APP, host: 'shared.test' }] } } });
  });
  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await server?.stop();
  });

  const open = async () => {
    const client = await connect(server.port, { path: `/app/${APP.key}?protocol=7` });
    sockets.push(client);
    const frames = () => client.received.map((text) => JSON.parse(text) as Frame);
    const frame = (match: (f: Frame) => boolean) => waitFor('a frame', () => frames().find(match), 5000);
    const established = await frame((f) => f.event === 'pusher:connection_established');
    const socketId = (JSON.parse(established.data as string) as { socket_id: string }).socket_id;
    return { client, socketId, frame };
  };

  const signin = async (id: string) => {
    const a = await open();
    const userData = JSON.stringify({ id });
    a.client.send(JSON.stringify({ event: 'pusher:signin', data: { auth: `${APP.key}:${hmac(`${a.socketId}::user::${userData}`)}`, user_data: userData } }));
    const answer = await a.frame((f) => f.event === 'pusher:signin_success' || f.event === 'pusher:error');
    return { ...a, answer };
  };

  it('refuses a sign-in whose user id the API could not name (within the channel name limit, over the 164 of a user id)', async () => {
    const { answer } = await signin('u'.repeat(170));
    assert.equal(answer.event, 'pusher:error');
    assert.match(JSON.stringify(answer.data), /the user id is 170 characters; the limit is 164/);
  });

  it("lets a user whose id holds characters no channel name may (a space, |, é) subscribe to its own #server-to-user- channel, as pusher-js does after sign-in", async () => {
    const sdk = serverSdk(APP, server.port);
    for (const id of ['ann lee', 'auth0|123', 'zoë']) {
      const { answer, client, frame } = await signin(id);
      assert.equal(answer.event, 'pusher:signin_success', id);
      const channel = `#server-to-user-${id}`;
      client.send(JSON.stringify({ event: 'pusher:subscribe', data: { auth: '', channel } }));
      const subscribed = await frame((f) => f.channel === channel && (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'));
      assert.equal(subscribed.event, 'pusher_internal:subscription_succeeded', `${id}: ${JSON.stringify(subscribed.data)}`);
      await sdk.sendToUser(id, 'hello', { to: id });
      assert.deepEqual(JSON.parse((await frame((f) => f.event === 'hello' && f.channel === channel)).data as string), { to: id });
    }
  });

  it("refuses a subscription to another user's channel, whatever characters its id holds", async () => {
    const { client, frame } = await signin('ann lee');
    client.send(JSON.stringify({ event: 'pusher:subscribe', data: { auth: '', channel: '#server-to-user-bob smith' } }));
    const refused = await frame((f) => f.event === 'pusher:subscription_error');
    assert.equal((refused.data as { status: number }).status, 403);
  });

  it('signs in a user id of 164 characters, whose connections the API can then terminate', async () => {
    const sdk = serverSdk(APP, server.port);
    const { answer, client } = await signin('u'.repeat(164));
    assert.equal(answer.event, 'pusher:signin_success');
    await sdk.terminateUserConnections('u'.repeat(164));
    assert.equal((await client.closed).code, 4009);
  });
});
