/**
 * The cluster's heartbeat and its Redis link, against a redis-server of the
 * test's own: the live nodes are one sorted set scored by Redis's clock (no
 * SCAN of the keyspace), a node whose beats stop drops out, one that stops
 * gracefully takes itself out, and a reconnected subscriber counts as up only
 * once Redis has its subscription again. Skipped when redis-server is missing.
 *
 * A contract test, not a unit test: it needs a real Redis (its clock, its Lua,
 * its commandstats, its reconnects), which no fake RedisLink has. It runs the
 * cluster code in this Node process, whatever WSGATE_TARGET says, so it runs
 * once, with the node target; cluster.test.ts runs the cluster on each target.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Cluster } from '../../src/cluster/cluster.ts';
import { connectRedis } from '../../src/cluster/redis.ts';
import type { RedisLink } from '../../src/cluster/redis.ts';
import { createLogger } from '../../src/ops/log.ts';
import { waitFor } from '../support/events.ts';
import { redisMissing, useRedis } from '../support/redis.ts';
import { TARGET } from '../support/server.ts';

const skip = redisMissing || (TARGET === 'node' ? false : 'runs under WSGATE_TARGET=node only: the link and heartbeat run in this process, not in the server under test');

/** A logger that keeps its lines, and says when one matching a pattern comes. */
function recordingLogger() {
  const lines: string[] = [];
  const events = new EventEmitter();
  const log = createLogger((line) => {
    lines.push(line);
    events.emit('line', line);
  }, 'debug');
  const waitForLine = (pattern: RegExp) =>
    new Promise<string>((resolve) => {
      const found = lines.find((line) => pattern.test(line));
      if (found) return resolve(found);
      const check = (line: string) => {
        if (!pattern.test(line)) return;
        events.off('line', check);
        resolve(line);
      };
      events.on('line', check);
    });
  return { log, lines, waitForLine };
}

/** The link's states as they come, and a way to await the next one. */
function watchStates(link: RedisLink) {
  const seen: string[] = [];
  const events = new EventEmitter();
  link.onState((state) => {
    seen.push(state);
    events.emit(state);
  });
  return { seen, next: (state: 'up' | 'down') => once(events, state) };
}

/** Milliseconds by Redis's clock. */
async function redisNow(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

describe('cluster heartbeat over Redis', { skip, timeout: 60_000 }, () => {
  const redisServer = useRedis();
  let prefix = 0;

  /** A node on a prefix of the test's own, and its link and log. */
  function node(name: string, options: { prefix: string; heartbeatMs?: number; ttlMs?: number }) {
    const link = connectRedis(`redis://127.0.0.1:${redisServer.port}`);
    const logger = recordingLogger();
    const cluster = new Cluster(link, { node: name, prefix: options.prefix, heartbeatMs: options.heartbeatMs ?? 50, ttlMs: options.ttlMs ?? 300, deadlineMs: 1000 }, logger.log, () => 0);
    redisServer.cleanup(() => cluster.stop());
    cluster.start();
    return { cluster, link, ...logger };
  }

  const freshPrefix = () => `hb${++prefix}:`;

  /**
   * Until these nodes are in the set. A node that starts after them then finds them on its first beat, and logs
   * "cluster node up" for each (one it heard of on the bus first, from its "joining", it would count without a word).
   */
  const beating = (p: string, ...names: string[]) =>
    waitFor(`${names.join(', ')} in the set`, async () => {
      const scores = await Promise.all(names.map((name) => redisServer.client.zscore(`${p}nodes`, name)));
      return scores.every((score) => score !== null);
    });

  it('keeps the live nodes in one sorted set scored by Redis\'s clock, never scanning the keyspace', async () => {
    const p = freshPrefix();
    await redisServer.client.config('RESETSTAT');
    const from = await redisNow(redisServer.client);
    // A ttl well above a loaded machine's stalls: all nodes beat from this process, and after a stall longer than the
    // ttl the first to beat again drops the others until they beat too, so the set could be read without one.
    const TTL = 1500;
    const timing = { prefix: p, heartbeatMs: 100, ttlMs: TTL };
    node('a', timing);
    await beating(p, 'a');
    const b = node('b', timing);
    await b.waitForLine(/cluster node up node=a/);
    const members = await redisServer.client.zrange(`${p}nodes`, '0', '-1', 'WITHSCORES');
    // After the read: a node may beat again between any earlier reading of the clock and it.
    const to = await redisNow(redisServer.client);
    const scores = new Map<string, number>();
    for (let i = 0; i < members.length; i += 2) scores.set(members[i]!, Number(members[i + 1]));
    assert.deepEqual([...scores.keys()].sort(), ['a', 'b']);
    // Scored by when each expires: Redis's time at its beat plus its ttl.
    for (const [name, score] of scores) assert.ok(score - TTL >= from && score - TTL <= to, `${name}'s score ${score} is Redis's time between ${from} and ${to}, plus its ttl`);
    // Left alone, the set goes away: twice the ttl after the last beat.
    const ttl = await redisServer.client.pttl(`${p}nodes`);
    assert.ok(ttl > 0 && ttl <= 2 * TTL, `the set expires (pttl ${ttl})`);
    assert.equal(await redisServer.client.exists(`${p}node:a`, `${p}node:b`), 0, 'no key per node');
    const stats = await redisServer.client.info('commandstats');
    assert.doesNotMatch(stats, /cmdstat_(scan|keys|mget):/);
  });

  it('drops the members whose ttl ran out, by Redis\'s clock, each by its own ttl', async () => {
    const p = freshPrefix();
    const link = connectRedis(`redis://127.0.0.1:${redisServer.port}`);
    redisServer.cleanup(() => link.close());
    const states = watchStates(link);
    await states.next('up');
    const now = await redisNow(redisServer.client);
    // ghost's ttl ran out a moment ago; slow beats rarely but has a ttl of a minute.
    await redisServer.client.zadd(`${p}nodes`, String(now - 1), 'ghost', String(now + 4000), 'fresh', String(now + 60_000), 'slow');
    assert.deepEqual((await link.heartbeat(`${p}nodes`, 'a', 5000)).nodes, ['fresh', 'a', 'slow']);
    assert.equal(await redisServer.client.zscore(`${p}nodes`, 'ghost'), null);
  });

  it('counts a node whose beats stop as gone, and takes one that stops gracefully out of the set', async () => {
    const p = freshPrefix();
    // A ttl well above a loaded machine's stalls, so that only b, which stops beating, drops out.
    const timing = { prefix: p, heartbeatMs: 100, ttlMs: 1500 };
    const b = node('b', timing);
    const c = node('c', timing);
    await beating(p, 'b', 'c');
    const a = node('a', timing);
    await a.waitForLine(/cluster node up node=b/);
    await a.waitForLine(/cluster node up node=c/);
    // b dies without a word: its link is cut, so it beats no more.
    await b.link.close();
    await a.waitForLine(/cluster node gone node=b/);
    assert.equal(await redisServer.client.zscore(`${p}nodes`, 'b'), null, 'b expired from the set');
    assert.deepEqual(a.cluster.nodes(), ['a', 'c']);
    // c's entry would still be fresh for the ttl: it is gone because c took it out.
    await c.cluster.stop();
    assert.equal(await redisServer.client.zscore(`${p}nodes`, 'c'), null, 'c took itself out');
  });

  it('says the link is up after a reconnect only once Redis has the subscription back', async () => {
    const proxy = await holdingProxy(redisServer.port);
    redisServer.cleanup(() => proxy.close());
    const link = connectRedis(`redis://127.0.0.1:${proxy.port}`);
    redisServer.cleanup(() => link.close());
    const states = watchStates(link);
    const received = new EventEmitter();
    const first = states.next('up');
    await link.subscribe(['hb:channel'], (_channel, message) => received.emit('message', message));
    await first;

    // Cut the subscriber's connection, and hold its SUBSCRIBE on the way back: ioredis's 'ready' comes before Redis
    // has it (it is emitted on the next tick after the SUBSCRIBE is written, before the proxy can even read it).
    proxy.holdSubscribes = true;
    const down = states.next('down');
    const held = once(proxy, 'held');
    proxy.cutSubscriber();
    await down;
    const up = states.next('up');
    await held;
    assert.deepEqual(states.seen.slice(-1), ['down'], 'not up while Redis does not have the subscription yet');

    proxy.release();
    await up;
    // Up means listening: a message published now reaches it.
    const message = once(received, 'message');
    await link.publish('hb:channel', 'after the reconnect');
    assert.deepEqual(await message, ['after the reconnect']);
  });
});

/**
 * A TCP proxy in front of Redis that can hold back what a client sends from
 * its first SUBSCRIBE on, until released; it says 'held' when it does.
 */
async function holdingProxy(redisPort: number) {
  interface Pair {
    client: Socket;
    upstream: Socket;
    subscriber: boolean;
    held?: Buffer[];
  }
  const pairs = new Set<Pair>();
  const proxy = Object.assign(new EventEmitter(), {
    port: 0,
    holdSubscribes: false,
    cutSubscriber() {
      for (const pair of pairs) {
        if (!pair.subscriber) continue;
        pair.client.destroy();
        pair.upstream.destroy();
      }
    },
    release() {
      proxy.holdSubscribes = false;
      for (const pair of pairs) {
        for (const chunk of pair.held ?? []) pair.upstream.write(chunk);
        delete pair.held;
      }
    },
    close: () => new Promise<void>((resolve) => {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      server.close(() => resolve());
    }),
  });
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    const pair: Pair = { client, upstream, subscriber: false };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      const subscribing = /subscribe/i.test(chunk.toString('latin1'));
      if (subscribing) pair.subscriber = true;
      if (pair.held) pair.held.push(chunk);
      else if (subscribing && proxy.holdSubscribes) {
        pair.held = [chunk];
        proxy.emit('held');
      } else upstream.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}
