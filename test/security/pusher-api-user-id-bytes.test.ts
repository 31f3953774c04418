/**
 * terminate_connections acts on the user id its signature named, byte for
 * byte: the `pusher` SDK signs and sends an id holding `%` as it is, so
 * "a%2Fb" must not be read as "a/b" (another user's connections closed).
 * An id the SDK signs raw and fetch sends encoded ("ann lee") still works.
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

describe(`Pusher terminate_connections names users byte for byte on ${TARGET}`, { skip }, () => {
  let server: Started;
  const sockets: Client[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: HOSTS, pusher: { apps: [{ ...APP, host: 'shared.test' }] } } });
  });
  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await server?.stop();
  });

  const signin = async (id: string) => {
    const client = await connect(server.port, { path: `/app/${APP.key}?protocol=7` });
    sockets.push(client);
    const frames = () => client.received.map((text) => JSON.parse(text) as Frame);
    const frame = (match: (f: Frame) => boolean) => waitFor('a frame', () => frames().find(match), 5000);
    const established = await frame((f) => f.event === 'pusher:connection_established');
    const socketId = (JSON.parse(established.data as string) as { socket_id: string }).socket_id;
    const userData = JSON.stringify({ id });
    client.send(JSON.stringify({ event: 'pusher:signin', data: { auth: `${APP.key}:${hmac(`${socketId}::user::${userData}`)}`, user_data: userData } }));
    assert.equal((await frame((f) => f.event === 'pusher:signin_success' || f.event === 'pusher:error')).event, 'pusher:signin_success', id);
    /** Whether the socket still answers: a pong after the API's answer means no close was on its way. */
    const answers = async () => {
      client.send('{"event":"pusher:ping","data":{}}');
      return (await frame((f) => f.event === 'pusher:pong')) !== undefined;
    };
    return { client, answers };
  };

  // Ends at the close; the bound only decides how long a connection left open is waited for.
  const closedWithin = (client: Client, ms: number) => Promise.race([client.closed.then((c) => c.code), new Promise<string>((resolve) => setTimeout(() => resolve('still open'), ms).unref())]);

  it('terminating "a%2Fb" closes that user\'s connection, not "a/b"\'s', async () => {
    const encoded = await signin('a%2Fb');
    const slashed = await signin('a/b');
    await serverSdk(APP, server.port).terminateUserConnections('a%2Fb');
    assert.ok(await slashed.answers(), 'the connection of "a/b" is left alone');
    assert.equal(slashed.client.ws.readyState, slashed.client.ws.OPEN);
    assert.equal(await closedWithin(encoded.client, 10_000), 4009, 'the connection of "a%2Fb" is terminated');
  });

  it('terminating "ann lee" (signed raw, sent as ann%20lee) still closes that user\'s connection', async () => {
    const spaced = await signin('ann lee');
    const literal = await signin('ann%20lee');
    await serverSdk(APP, server.port).terminateUserConnections('ann lee');
    assert.equal(await closedWithin(spaced.client, 10_000), 4009);
    assert.ok(await literal.answers(), 'the connection of "ann%20lee" is left alone');
  });
});
