/**
 * wsgate's join and leave frames go to the wsgate sockets of a channel, not
 * to its Pusher sockets (pusher-js cannot read them); /metrics counts only
 * the sockets they reached, on every runtime (Bun's native topics included).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { pusherClient, subscribed } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };
const HOST = 'shared.test';
const CHANNEL = 'lobby-1';
const SERIES = `wsgate_deliveries_total{host="${HOST}",kind="presence"}`;

describe(`presence deliveries in /metrics with Pusher sockets in the channel on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: PusherJs[] = [];
  const sockets: Client[] = [];
  before(async () => {
    server = await startServer({
      config: {
        hosts: { [HOST]: { module: join(FIXTURES, 'send-hooks.ts'), clientChannels: true, channels: { 'lobby-*': { presenceEvents: true } } } },
        pusher: { apps: [{ ...APP, host: HOST }] },
      },
    });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    for (const socket of sockets) socket.ws.terminate();
    await server?.stop();
  });

  const deliveries = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${SERIES} `));
    return line === undefined ? 0 : Number(line.slice(SERIES.length + 1));
  };
  const plain = async (token: string) => {
    const socket = await connect(server.port, { host: HOST, token });
    sockets.push(socket);
    socket.send(JSON.stringify({ wsgate: 'subscribe', channel: CHANNEL }));
    await waitFor(`${token} in ${CHANNEL}`, () => socket.received.some((frame) => frame.includes('"subscribed"') && frame.includes(CHANNEL)));
    return socket;
  };

  it("counts a join frame once per wsgate socket it reached, not for the Pusher socket that was skipped", async () => {
    const first = await plain('first');
    const pusher = await pusherClient(APP, server.port);
    clients.push(pusher);
    const heard: string[] = [];
    pusher.bind_global((event: string) => heard.push(event));
    await subscribed(pusher, CHANNEL);
    const joinsSeen = () => first.received.filter((frame) => frame.includes('"wsgate":"join"')).length;
    await waitFor('the Pusher socket\'s join at the first socket', () => joinsSeen() === 1);
    const before = await deliveries();
    await plain('second');
    await waitFor('the second socket\'s join at the first socket', () => joinsSeen() === 2);
    assert.equal((await deliveries()) - before, 1, 'one socket (the first) got the join; the Pusher socket did not');
    assert.deepEqual(heard.filter((event) => !event.startsWith('pusher')), [], 'pusher-js got no wsgate frame');
  });
});
