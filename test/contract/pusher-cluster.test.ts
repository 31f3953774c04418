/**
 * The Pusher protocol over three nodes and one Redis, then over a Redis
 * Cluster (three masters: the members' keys spread over the shards by
 * channel): presence by user and webhooks are decided once for the cluster,
 * however the user's connections spread over the nodes; the API's counts and
 * events reach every node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import type { PresenceChannel } from 'pusher-js';
import { waitFor } from '../support/events.ts';
import { nextEvent, pusherClient, serverSdk, subscribed, webhookReceiver } from '../support/pusher.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import { TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable() ?? redisMissing;
const APP = { id: 'c1', key: 'cluster-key', secret: 'the-cluster-app-secret-0123' };


/** A Redis for the nodes: its URL, and how to stop it. */
const redisKinds = {
  'one Redis': async () => {
    const server = await startRedis();
    const { port } = server;
    return { url: `redis://127.0.0.1:${port}`, stop: server.stop };
  },
  'a Redis Cluster': startRedisCluster,
};

for (const [kind, startRedisOf] of Object.entries(redisKinds)) describe(`Pusher over a cluster of three and ${kind} on ${TARGET}`, { skip, timeout: 180_000 }, () => {
  let redis: { url: string; stop(): Promise<void> };
  let endpoint: Awaited<ReturnType<typeof webhookReceiver>>;
  const nodes: Started[] = [];
  const clients: PusherJs[] = [];
  before(async () => {
    endpoint = await webhookReceiver(APP);
    const url = endpoint.url;
    redis = await startRedisOf();
    for (const name of ['p1', 'p2', 'p3']) {
      nodes.push(
        await startServer({
          config: {
            hosts: { '*': { module: 'builtin:demo' } },
            pusher: { apps: [{ ...APP, clientEvents: true, webhooks: [{ url }] }] },
            // A ttl and deadline well above a loaded machine's stalls of a node process: no node is taken for gone or named missing.
            cluster: { redis: redis.url, node: name, heartbeat: 0.2, ttl: 5, deadline: 5 },
          },
        }),
      );
    }
    for (const node of nodes) {
      await waitFor(`${node.url} knows three live nodes`, async () => (((await (await fetch(`${node.url}/health`)).json()) as { cluster?: { live: string[] } }).cluster?.live.length === 3 ? true : undefined));
    }
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    for (const node of nodes) await node.stop();
    await redis?.stop();
    endpoint?.close();
  });
  const on = async (node: Started, user: string) => {
    const client = await pusherClient(APP, node.port, { user: { id: user, info: { name: user } } });
    clients.push(client);
    return client;
  };
  const seen = (name: string, channel: string) => endpoint.received.filter((event) => event.name === name && event.channel === channel);

  it('adds a user once however many nodes its connections are on, and removes it with its last', async () => {
    const [n1, n2, n3] = nodes as [Started, Started, Started];
    const watcher = (await subscribed(await on(n1, 'watcher'), 'presence-c')) as PresenceChannel;
    const added: string[] = [];
    const removed: string[] = [];
    watcher.bind('pusher:member_added', (member: { id: string }) => added.push(member.id));
    watcher.bind('pusher:member_removed', (member: { id: string }) => removed.push(member.id));
    const annOn2 = await on(n2, 'ann');
    const annOn3 = await on(n3, 'ann');
    const first = (await subscribed(annOn2, 'presence-c')) as PresenceChannel;
    await subscribed(annOn3, 'presence-c');
    assert.equal(first.members.count, 2);
    await waitFor('ann added', () => added.length === 1);
    // Her second connection, on another node, is not news; a later event proves the watcher's inbox moved past it.
    const later = nextEvent(watcher, 'tick');
    await serverSdk(APP, n3.port).trigger('presence-c', 'tick', {});
    await later;
    assert.deepEqual(added, ['ann']);
    const info = (await (await serverSdk(APP, n1.port).get({ path: '/channels/presence-c', params: { info: 'user_count,subscription_count' } })).json()) as Record<string, unknown>;
    assert.deepEqual(info, { occupied: true, user_count: 2, subscription_count: 3 });
    annOn2.disconnect();
    const tick2 = nextEvent(watcher, 'tick');
    await serverSdk(APP, n2.port).trigger('presence-c', 'tick', {});
    await tick2;
    assert.deepEqual(removed, [], 'she still has a connection on n3');
    annOn3.disconnect();
    await waitFor('ann removed', () => removed.length === 1);
    assert.deepEqual(removed, ['ann']);
  });

  it('posts each webhook once for the cluster', async () => {
    await waitFor('the webhooks of the first test', () => seen('member_removed', 'presence-c').length >= 1);
    assert.equal(seen('channel_occupied', 'presence-c').length, 1);
    assert.deepEqual(seen('member_added', 'presence-c').map((event) => event.user_id).sort(), ['ann', 'watcher']);
    assert.deepEqual(seen('member_removed', 'presence-c').map((event) => event.user_id), ['ann']);
  });

  it('posts a user who leaves one node and is back on another at once in the order it happened (no member_removed held)', async () => {
    const [n1, n2] = nodes as [Started, Started, Started];
    const watcher = (await subscribed(await on(n2, 'watcher'), 'presence-r')) as PresenceChannel;
    const bea = await on(n1, 'bea');
    await subscribed(bea, 'presence-r');
    await waitFor('bea added', () => seen('member_added', 'presence-r').some((event) => event.user_id === 'bea'));
    const left = nextEvent<{ id: string }>(watcher, 'pusher:member_removed');
    bea.disconnect();
    assert.equal((await left).id, 'bea');
    const back = nextEvent<{ id: string }>(watcher, 'pusher:member_added');
    await subscribed(await on(n2, 'bea'), 'presence-r');
    assert.equal((await back).id, 'bea');
    // By time_ms, as an app orders batches from several nodes: a held member_removed would come 3 s after her return.
    const beas = () =>
      [...endpoint.batches]
        .sort((a, b) => a.timeMs - b.timeMs)
        .flatMap((batch) => batch.events)
        .filter((event) => event.channel === 'presence-r' && event.user_id === 'bea')
        .map((event) => event.name);
    await waitFor('bea removed and added again', () => beas().length === 3);
    assert.deepEqual(beas(), ['member_added', 'member_removed', 'member_added']);
  });
});
