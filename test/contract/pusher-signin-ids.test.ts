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

  it('signs in a user id of 164 characters, whose connections the API can then terminate', async () => {
    const sdk = serverSdk(APP, server.port);
    const { answer, client } = await signin('u'.repeat(164));
    assert.equal(answer.event, 'pusher:signin_success');
    await sdk.terminateUserConnections('u'.repeat(164));
    assert.equal((await client.closed).code, 4009);
  });
});
