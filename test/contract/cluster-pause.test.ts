/**
 * A node that stops for longer than the cluster's ttl (a long GC pause, a
 * SIGSTOP, a VM frozen for a snapshot) while its Redis connection stays open:
 * the others find it gone and one of them clears its presence entries. When
 * it goes on, its sockets are still there, so what they hold must come back,
 * and be told, as it does after a reconnect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import type { PresenceChannel } from 'pusher-js';
import { waitFor } from '../support/events.ts';
import { nextEvent, pusherClient, serverSdk, subscribed } from '../support/pusher.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import type { RedisServer } from '../support/redis.ts';
import { TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable() ?? redisMissing;
const APP = { id: 'p1', key: 'pause-key', secret: 'the-pause-app-secret-0123456' };

describe(`a node paused past the ttl on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  let redis: RedisServer | undefined;
  const nodes: Started[] = [];
  const clients: PusherJs[] = [];
  before(async () => {
    redis = await startRedis();
    const { port } = redis;
    for (const name of ['n1', 'n2']) {
      nodes.push(
        await startServer({
          config: {
            hosts: { '*': { module: 'builtin:demo' } },
            pusher: { apps: [APP] },
            // The short ttl is what the test waits out (n2 taken for gone while stopped); the deadline, which it
            // does not wait for, is well above a loaded machine's stalls.
            cluster: { redis: `redis://127.0.0.1:${port}`, node: name, heartbeat: 0.2, ttl: 1.5, deadline: 5 },
          },
        }),
      );
    }
    for (const node of nodes) {
      await waitFor(`${node.url} knows two live nodes`, async () => (((await (await fetch(`${node.url}/health`)).json()) as { cluster?: { live: string[] } }).cluster?.live.length === 2 ? true : undefined));
    }
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    for (const node of nodes) {
      node.child.kill('SIGCONT');
      await node.stop();
    }
    await redis?.stop();
  });

  it('puts its sockets\' members back once it goes on, and tells the others', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const on = async (node: Started, user: string) => {
      const client = await pusherClient(APP, node.port, { user: { id: user } });
      clients.push(client);
      return client;
    };
    const watcher = (await subscribed(await on(n1, 'watcher'), 'presence-p')) as PresenceChannel;
    const added = nextEvent<{ id: string }>(watcher, 'pusher:member_added');
    await subscribed(await on(n2, 'ann'), 'presence-p');
    assert.equal((await added).id, 'ann');

    const removed = nextEvent<{ id: string }>(watcher, 'pusher:member_removed');
    n2.child.kill('SIGSTOP');
    await n1.waitForLog(/members of gone node removed.*n2/);
    assert.equal((await removed).id, 'ann', 'n2 looks dead meanwhile');
    const back = nextEvent<{ id: string }>(watcher, 'pusher:member_added');
    n2.child.kill('SIGCONT');
    // Ann's connection to n2 never closed: she is in the channel still.
    assert.equal((await back).id, 'ann');
    const users = (await (await serverSdk(APP, n1.port).get({ path: '/channels/presence-p/users' })).json()) as { users: Array<{ id: string }> };
    assert.deepEqual(users.users.map((user) => user.id).sort(), ['ann', 'watcher']);
  });
});
