/**
 * Cluster mode over a Redis Cluster (three masters with a replica each, from
 * Debian's redis-server): two wsgate nodes given `redis+cluster://...` cast
 * with exact counts over sharded pub/sub (the bus is a shard channel of one
 * slot), number a stream's publications in that slot and recover them from
 * the Redis Stream on a node that was not up, and keep casting while the
 * master of the bus's slot is killed: each answer exact or saying which
 * nodes did not answer, no socket getting a cast twice, exact again once a
 * replica has taken over. The members store, in this process, over the
 * shards: first and last decided once, a dead node's entries cleared by a
 * survivor. Presence through the Pusher protocol over a Redis Cluster:
 * pusher-cluster.test.ts. Skipped when redis-server is missing.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { keySlot } from '../../src/cluster/key-slot.ts';
import { RedisMembers, connectMembers } from '../../src/cluster/redis-members.ts';
import { busPrefix } from '../../src/config/redis-url.ts';
import type { OrphanedChange } from '../../src/core/members.ts';
import { createLogger } from '../../src/ops/log.ts';
import { connect, connectAware } from '../support/client.ts';
import type { Client, WsgateFrame as Frame } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';
import { redisMissing } from '../support/redis.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import type { RedisClusterForTests } from '../support/redis-cluster.ts';

const skip = targetAvailable() ?? redisMissing;

type Answer = { sent?: number; nodes?: { answered: string[]; missing: string[]; degraded?: string } };

/** The bus of the default prefix "wsgate:", under its hash tag (config/redis-url.ts busPrefix). */
const BUS = '{wsgate%3A}bus';

describe(`cluster over a Redis Cluster on ${TARGET}`, { skip, timeout: 180_000 }, () => {
  let redis: RedisClusterForTests;
  const nodes: Started[] = [];
  const clients: Client[] = [];
  // A ttl well above a loaded machine's stalls, so that no node is taken for gone (no test waits for a drop).
  // The deadline is 2 s, for a loaded machine's stalls: redisTimeout keeps Redis's commands at 0.5 s, so a node notices
  // a dead master, and is back on the bus, as soon as with a 1 s deadline. Not longer: during the failover a cast that
  // misses a node waits the whole deadline.
  const configFor = (name: string) => ({
    hosts: { 'c.test': { app: APP, build: false, channels: { 'room:*': { history: { size: 50, ttl: 60 } } } } },
    cluster: { redis: redis.url, node: name, heartbeat: 0.2, ttl: 5, deadline: 2, redisTimeout: 0.5 },
  });

  before(async () => {
    redis = await startRedisCluster();
    for (const name of ['n1', 'n2']) nodes.push(await startServer({ config: configFor(name) }));
    for (const node of nodes) await waitFor(`${node.url} knows both nodes`, async () => ((await health(node)).cluster?.live.length === 2 ? true : undefined));
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const node of nodes) await node.stop();
    await redis?.stop();
  });

  const health = async (node: Started) => (await (await fetch(`${node.url}/health`)).json()) as { cluster?: { live: string[]; nodes: Record<string, { sockets: number }> } };
  const cast = async (node: Started, target: string, data: unknown) => {
    const res = await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target, data }) });
    return (await res.json()) as Answer;
  };
  const exact = (answer: Answer, sent: number) => answer.sent === sent && answer.nodes?.missing.length === 0 && !answer.nodes.degraded;
  /** A wsgate-aware client of c.test, and the frames it got up to `ready`. */
  const aware = async (node: Started, token: string, recover?: Record<string, { epoch: string; offset: number }>) => {
    const opened = await connectAware(node.port, { host: 'c.test', token, recover });
    clients.push(opened.c);
    return opened;
  };
  const nextPub = async (c: Client) => {
    let frame: Frame;
    do frame = JSON.parse(await c.next()) as Frame;
    while (frame.wsgate !== 'pub');
    return frame;
  };

  it('casts to both nodes with the exact sum, over a shard channel on the master of its slot', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const a = await connect(n1.port, { host: 'c.test', token: 'a' });
    const b = await connect(n2.port, { host: 'c.test', token: 'b' });
    clients.push(a, b);
    const answer = await cast(n2, 'all', 'hello');
    assert.equal(exact(answer, 2), true, JSON.stringify(answer));
    assert.equal(await a.next(), '"hello"');
    assert.equal(await b.next(), '"hello"');
    // Sharded pub/sub: the master of the bus's slot lists the bus among its shard channels, with both nodes on it.
    const master = new Redis(await redis.masterOf(keySlot(BUS)), '127.0.0.1');
    try {
      assert.deepEqual(await master.call('PUBSUB', 'SHARDCHANNELS', '*wsgate*bus'), [BUS]);
      assert.deepEqual(await master.call('PUBSUB', 'SHARDNUMSUB', BUS), [BUS, 2]);
    } finally {
      master.disconnect();
    }
    await n1.waitForLog(/ cluster node=n1 redis=redis\+cluster:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
  });

  it('numbers a stream in the bus\'s slot, and a node that was not up recovers it from the Redis Stream', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const watcher = await aware(n1, 'room-s');
    for (const word of ['a', 'b', 'c']) assert.equal(exact(await cast(n2, 'channel:room:s', word), 1), true);
    const first = await nextPub(watcher.c);
    assert.deepEqual([first.offset, first.data], [1, 'a']);
    const fresh = await startServer({ config: configFor('n3') });
    try {
      for (const node of nodes) await waitFor(`${node.url} knows n3`, async () => ((await health(node)).cluster?.live.includes('n3') ? true : undefined));
      const back = await aware(fresh, 'room-s', { 'room:s': { epoch: first.epoch!, offset: 1 } });
      // Joined once the Redis Stream was read, after the open: what it missed, then what is live.
      while (back.frames.filter((f) => f.wsgate === 'pub').length < 2) back.frames.push(JSON.parse(await back.c.next()) as Frame);
      const joined = back.frames.find((f) => f.wsgate === 'joined' && f.channel === 'room:s');
      assert.deepEqual([joined?.recovered, joined?.epoch, joined?.offset], [true, first.epoch, 3]);
      assert.deepEqual(back.frames.filter((f) => f.wsgate === 'pub').map((f) => [f.offset, f.data]), [[2, 'b'], [3, 'c']]);
      await fresh.waitForLog(/ recovered host=c\.test .*channel=room:s missed=2 from=redis/);
      assert.equal(exact(await cast(fresh, 'channel:room:s', 'd'), 2), true);
      const live = await nextPub(back.c);
      assert.deepEqual([live.epoch, live.offset, live.data], [first.epoch, 4, 'd']);
    } finally {
      await fresh.stop();
    }
    for (const node of nodes) await waitFor(`${node.url} sees n3 leave`, async () => ((await health(node)).cluster?.live.length === 2 ? true : undefined));
  });

  it('follows the bus\'s slot to another master when it is resharded: casts exact again, with history', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const before = await redis.masterOf(keySlot(BUS));
    const watcher = await aware(n1, 'room-m');
    assert.equal(exact(await cast(n2, 'channel:room:m', 'm1'), 1), true);
    const first = await nextPub(watcher.c);
    // Casts to every socket of the tests so far: this many, before and after.
    const everyone = (await cast(n1, 'all', 'before')).sent!;
    const moved = await redis.reshard(keySlot(BUS));
    assert.notEqual(moved, before);
    // Redis takes the shard channel's subscriptions back; each node listens on the new master once it has heard.
    let n = 0;
    await waitFor('exact casts on the new master', async () => (exact(await cast(n1, 'all', `moved${n++}`), everyone) && exact(await cast(n2, 'all', `moved${n++}`), everyone) ? true : undefined), 30_000);
    const master = new Redis(moved, '127.0.0.1');
    try {
      assert.deepEqual(await master.call('PUBSUB', 'SHARDNUMSUB', BUS), [BUS, 2], 'both nodes on the new master');
    } finally {
      master.disconnect();
    }
    // The stream's keys moved with the slot: numbering goes on.
    assert.equal(exact(await cast(n2, 'channel:room:m', 'm2'), 1), true);
    let second: Frame;
    do second = await nextPub(watcher.c);
    while (second.data !== 'm2');
    assert.deepEqual([second.epoch, second.offset, second.data], [first.epoch, 2, 'm2']);
    for (const c of clients.splice(clients.indexOf(watcher.c), 1)) c.ws.terminate();
  });

  it('keeps casting while the master of the bus\'s slot dies: each answer exact or saying who is missing, no cast twice, exact again after', async () => {
    const [n1, n2] = nodes as [Started, Started];
    // Only these two sockets are open now.
    for (const c of clients.splice(0)) c.ws.terminate();
    for (const node of nodes) await waitFor(`${node.url} has closed the sockets of the tests before`, async () => (Object.values((await health(node)).cluster?.nodes ?? {}).every((n) => n.sockets === 0) ? true : undefined));
    const a = await connect(n1.port, { host: 'c.test', token: 'fa' });
    const b = await connect(n2.port, { host: 'c.test', token: 'fb' });
    clients.push(a, b);
    const got = { a: [] as string[], b: [] as string[] };
    a.ws.on('message', (data) => got.a.push(String(data)));
    b.ws.on('message', (data) => got.b.push(String(data)));
    const target = 'all';
    const before = await redis.masterOf(keySlot(BUS));
    let switched = false;
    const failover = redis.failover(keySlot(BUS)).then((port) => {
      switched = true;
      return port;
    });
    const answers: Answer[] = [];
    let n = 0;
    let after = 0;
    while (!switched || after++ < 20) answers.push(await cast(n++ % 2 === 0 ? n1 : n2, target, `c${n}`));
    assert.notEqual(await failover, before, 'a replica serves the bus\'s slot now');
    for (const answer of answers) {
      const reported = answer.nodes && (answer.nodes.missing.length > 0 || answer.nodes.degraded !== undefined);
      assert.ok(exact(answer, 2) || (reported && answer.sent !== undefined && answer.sent <= 2), `exact, or says who did not answer: ${JSON.stringify(answer)}`);
    }
    assert.ok(answers.some((answer) => !exact(answer, 2)), 'some cast met the dead master');
    await waitFor('exact casts after the failover', async () => (exact(await cast(n1, target, `after${n++}`), 2) && exact(await cast(n2, target, `after${n++}`), 2) ? true : undefined), 30_000);
    for (const [name, frames] of Object.entries(got)) assert.equal(new Set(frames).size, frames.length, `${name} got no cast twice`);
    assert.ok(answers.length > 20);
  });
});

describe('the members store over a Redis Cluster', { skip: redisMissing || (TARGET === 'node' ? false : 'runs under WSGATE_TARGET=node only: the store runs in this process, not in the server under test'), timeout: 60_000 }, () => {
  let redis: RedisClusterForTests;
  const stores: RedisMembers[] = [];
  before(async () => {
    redis = await startRedisCluster();
  });
  after(async () => {
    for (const store of stores) await store.stop();
    await redis?.stop();
  });

  /** A node's store, once its connection is ready (a join before that is told by the store's first sync instead); `orphaned`: what it was told besides joins and leaves. */
  const store = async (node: string) => {
    const connection = connectMembers(redis.url);
    await once(connection, 'ready');
    const members = new RedisMembers(connection, { prefix: 'ms:', nodesKey: `${busPrefix(redis.url, 'ms:')}nodes` }, createLogger(() => {}, 'warn'));
    const orphaned: OrphanedChange[] = [];
    members.onOrphaned((change) => orphaned.push(change));
    members.start(node);
    stores.push(members);
    return { members, connection, orphaned };
  };

  it('decides each first and last once over nodes whose keys lie on different shards, and a survivor clears a dead node\'s entries', async () => {
    const a = await store('a');
    const b = await store('b');
    // Channels whose keys hash to slots all over the cluster, and a node list on a slot of its own.
    const rooms = Array.from({ length: 6 }, (_, i) => `presence-r${i}`);
    for (const room of rooms) {
      assert.equal(await a.members.add('h', room, 'a1', { user: 'ann', info: { n: room } }), true, 'her first socket');
      assert.equal(await b.members.add('h', room, 'b1', { user: 'ann' }), false, 'not news on the other node');
      assert.equal(await a.members.occupancy('h', room, true, 1), true, 'the first node there');
      assert.equal(await b.members.occupancy('h', room, true, 1), false);
      assert.equal(await a.members.add('h', room, 'a2', { user: 'bob' }), true);
      assert.deepEqual([...(await b.members.users('h', room)).keys()].sort(), ['ann', 'bob']);
    }
    // a dies without a word; b, the survivor, takes its entries out and tells what that changed.
    a.connection.disconnect();
    await b.members.nodeGone('a');
    const byRoom = (room: string) => b.orphaned.filter((change) => change.channel === room);
    for (const room of rooms) assert.deepEqual(byRoom(room), [{ host: 'h', channel: room, member: { user: 'bob' } }], 'bob left with a; ann and the channel stay with b');
    assert.deepEqual(await b.members.remove('h', rooms[0]!, 'b1'), { user: 'ann', info: { n: rooms[0] } }, 'her last socket, on b, with the info her first brought');
    assert.equal(await b.members.occupancy('h', rooms[0]!, false, 0), true, 'and b was the last node there');
  });

  it('keeps a socket\'s join and its leave in order when the leave does not wait for the join', async () => {
    const c = await store('c');
    for (let i = 0; i < 5; i++) {
      const room = `presence-quick${i}`;
      const joined = c.members.add('h', room, 'c1', { user: 'cy' });
      const left = c.members.remove('h', room, 'c1');
      assert.deepEqual([await joined, await left], [true, { user: 'cy' }], 'in, then out');
      assert.deepEqual(await c.members.users('h', room), new Map(), 'nothing left behind');
    }
    const held = new Redis(await redis.masterOf(keySlot('{c}')), '127.0.0.1');
    try {
      assert.deepEqual(await held.smembers('ms:members:node:{c}:held'), [], 'nor on the node\'s list');
    } finally {
      held.disconnect();
    }
  });
});
