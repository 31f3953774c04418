/**
 * The little of Redis that a cluster needs, behind one interface: publish and
 * subscribe for the bus, and one sorted set of the nodes by their last
 * heartbeat.
 * Backed by ioredis (it runs on Node, Bun and Deno alike), with two
 * connections, since a subscribed connection can do nothing else. On a Redis
 * Cluster the bus uses sharded pub/sub (SPUBLISH, SSUBSCRIBE): its messages
 * stay on the shard that serves its slot rather than going to every node of
 * the cluster (config/redis-url.ts busPrefix puts all of it in one slot).
 *
 * Commands fail at once while Redis is away (no offline queue): a cast that
 * waited for Redis to come back would reach its sockets late and out of
 * order, so the cluster delivers locally instead and says it is degraded.
 */
import { Cluster, Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { parseRedisUrl } from '../config/redis-url.ts';
import type { RedisTarget } from '../config/redis-url.ts';
import { channelSubscriber, slotSubscriber } from './redis-subscriber.ts';
import { StallWatch } from './stall-watch.ts';
import { mayBeEpoch } from '../core/history/history.ts';
import type { StoredStream } from '../core/history/history.ts';

export interface RedisLink {
  publish(channel: string, message: string): Promise<void>;
  /** Messages of these channels go to `onMessage`, now and after every reconnect. */
  subscribe(channels: string[], onMessage: (channel: string, message: string) => void): Promise<void>;
  /**
   * Marks `node` as seen now in the sorted set `key`, drops the members not
   * seen within `ttlMs`, and returns those left. "Now" is Redis's clock, so
   * the nodes' clocks need not agree; and it is one script on one key, so a
   * beat costs the same however much else the Redis holds. `added`: `node`
   * was not in the set (its first beat, a Redis that lost the set, or one it
   * had dropped out of while the node could not beat).
   */
  heartbeat(key: string, node: string, ttlMs: number): Promise<{ nodes: string[]; added: boolean }>;
  /** Whether `node` is in the sorted set `key` and not expired: one read, so that a name nobody beats under is not taken for a node. */
  isNode(key: string, node: string): Promise<boolean>;
  /** Takes `node` out of the sorted set `key` (a graceful stop), rather than leaving it to expire. */
  leave(key: string, node: string): Promise<void>;
  /**
   * Numbers a publication of a stream with history and publishes it, in one
   * step: the stream's epoch (made once), the next offset, the frame kept in a
   * Redis Stream, and the bus message with the position put between `head`
   * and `tail`. Done in Redis in one script, so the bus carries publications
   * in the order of their offsets.
   */
  publishNumbered(stream: NumberedStream, frame: string, channel: string, head: string, tail: string): Promise<{ epoch: string; offset: number; replaced?: string }>;
  /** A numbered stream as Redis holds it: its epoch, its newest offset, and the entries after `after`. */
  readStream(key: string, after: number): Promise<StoredStream>;
  /** "up" once the command connection is ready and the subscriber listens; "down" with why otherwise. */
  onState(listener: (state: 'up' | 'down', reason?: string) => void): void;
  close(): Promise<void>;
}

export interface NumberedStream {
  /** The key the stream's epoch, offset and entries hang off. */
  key: string;
  /** An epoch to take when the stream has none. */
  epoch: string;
  /** Entries kept (about). */
  size: number;
  /** How long the keys outlive the last publication. */
  expireMs: number;
}

/**
 * The epoch goes into the bus message's JSON as it is, so one wsgate did not
 * make (newEpoch(): 8 base64url characters) is not taken: the stream starts again under
 * a fresh one, and the script returns what it found, for the log.
 */
const NUMBER_AND_PUBLISH = `
local epoch = redis.call('GET', KEYS[1])
local foreign = false
if epoch and (#epoch ~= 8 or not string.find(epoch, '^[%w_%-]+$')) then
  foreign = epoch
  epoch = false
end
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end
local offset = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. offset, 'f', ARGV[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
redis.call(ARGV[8], ARGV[5], ARGV[6] .. '{"epoch":"' .. epoch .. '","offset":' .. offset .. '}' .. ARGV[7])
return {epoch, offset, foreign}
`;

/**
 * KEYS[1] the set of nodes, ARGV: the node, its ttl, how long the set
 * outlives the last beat. Each member is scored by when it expires, by its
 * own ttl: a node with a short ttl does not drop one that beats more slowly.
 * TIME before writes is fine since Redis 5 (scripts replicate their effects,
 * not themselves). The set expires on its own so a cluster whose nodes are
 * all gone leaves nothing behind; twice the ttl, so it never goes before a
 * member would have dropped out anyway. The expired go before this node's
 * own ZADD, so its answer says whether the node had dropped out.
 */
const HEARTBEAT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now))
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {added, redis.call('ZRANGE', KEYS[1], 0, -1)}
`;

/** KEYS[1] the set of nodes, ARGV[1] a node: 1 when it is there and has not expired (a dead node stays until the next beat drops it). */
const IS_NODE = `
local expires = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expires then return 0 end
local time = redis.call('TIME')
if tonumber(expires) < tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) then return 0 end
return 1
`;

/** The scripts as commands of their own: ioredis sends each whole once per connection, then by its SHA. */
type WithHeartbeat = (Redis | Cluster) & {
  wsgateHeartbeat(key: string, node: string, ttlMs: number, keepMs: number): Promise<[number, string[]]>;
  wsgateIsNode(key: string, node: string): Promise<number>;
};

/** Waits a little longer after each failed attempt, up to two seconds. */
const backoff = (attempt: number): number => Math.min(2000, 50 * 2 ** Math.min(attempt, 6));

/** Options that the connections of one target share, whatever their role. */
function targetOptions(target: RedisTarget & { kind: 'sentinel' | 'cluster' | 'socket' }): RedisOptions {
  const { username, password } = target;
  return { ...(username !== undefined && { username }), ...(password !== undefined && { password }), ...(target.kind === 'cluster' && target.tls && { tls: {} }) };
}

/**
 * How a connection to the URL's Redis is made: to the instance it names; for
 * a Sentinel URL, to the master the sentinels name now (ioredis asks them
 * again on every reconnect, and follows a failover they announce,
 * `failoverDetector`, so every connection moves to the new master); for a
 * Redis Cluster, a cluster client that routes each command to the master of
 * its key's slot and follows the slots as they move.
 */
export function redisOpener(url: string): (options: RedisOptions) => Redis | Cluster {
  const target = parseRedisUrl(url);
  if ('problem' in target) throw new Error(`cluster.redis: ${target.problem}`);
  if (target.kind === 'single') return (options) => new Redis(target.url, options);
  if (target.kind === 'socket') return (options) => new Redis({ ...options, ...targetOptions(target), path: target.path, ...(target.db !== undefined && { db: target.db }) });
  if (target.kind === 'sentinel') {
    const { sentinels, name, sentinelPassword } = target;
    return (options) => new Redis({ ...options, ...targetOptions(target), sentinels, name, sentinelPassword, failoverDetector: true });
  }
  return ({ enableOfflineQueue, retryStrategy, ...options }) =>
    new Cluster(target.nodes, {
      redisOptions: { ...options, ...targetOptions(target) },
      // The slot map is asked for again on errors and MOVED; every 5 s besides, so a bus subscriber that lost its
      // master finds the new one even when nothing else fails (redis-subscriber.ts).
      slotsRefreshInterval: 5000,
      ...(enableOfflineQueue !== undefined && { enableOfflineQueue }),
      ...(retryStrategy && { clusterRetryStrategy: retryStrategy }),
    });
}

/**
 * `answerWithinMs`: how long the bus's commands may go unanswered before
 * the link counts Redis as gone (stall-watch.ts): `cluster.redisTimeout`,
 * which the config keeps below the deadline (half of it by default), so a
 * bridge request whose PUBLISH hangs is applied here, alone, within its
 * deadline.
 */
export function connectRedis(url: string, answerWithinMs = 500): RedisLink {
  // A connection dropped because Redis stopped answering waits this long at most for Redis to close its end.
  const options = { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: backoff, lazyConnect: false, disconnectTimeout: answerWithinMs } as const;
  const target = parseRedisUrl(url);
  const sharded = !('problem' in target) && target.kind === 'cluster';
  const open = redisOpener(url);
  const commands = open(options) as WithHeartbeat;
  commands.defineCommand('wsgateHeartbeat', { lua: HEARTBEAT, numberOfKeys: 1 });
  commands.defineCommand('wsgateIsNode', { lua: IS_NODE, numberOfKeys: 1 });
  // The subscriber queues its SUBSCRIBE until it is connected, however long Redis takes to come (a node may start
  // first), and resubscribes by itself after a reconnect.
  const listenOptions = { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null };
  const subscriber = sharded
    ? slotSubscriber(commands as Cluster, (address) => new Redis({ ...listenOptions, ...targetOptions(target), ...address }))
    : channelSubscriber(open(listenOptions) as Redis);
  const listeners: Array<(state: 'up' | 'down', reason?: string) => void> = [];
  // Unknown until the first connect succeeds or fails, so a node that starts without Redis says so too.
  let state: 'up' | 'down' | undefined;
  let lastError = 'connecting';
  // Redis stopped answering: down until the command connection is ready again, though ioredis still says ready.
  let stalled = false;
  const update = (failed = false) => {
    const next = !stalled && commands.status === 'ready' && subscriber.listens() ? 'up' : 'down';
    // Still connecting, and nothing failed yet: not down so far.
    if (next === state || (state === undefined && next === 'down' && !failed)) return;
    state = next;
    for (const listener of listeners) listener(state, state === 'down' ? lastError : undefined);
  };
  const failed = (error: Error) => {
    lastError = error.message || String(error);
    update(true);
  };
  commands.on('ready', () => {
    stalled = false;
    update();
  });
  for (const event of ['close', 'end']) commands.on(event, () => update());
  commands.on('error', failed);
  subscriber.onChange((error) => (error ? failed(error) : update()));
  // Both connections go, and come back when Redis answers again: the subscriber too, so that what the hung
  // PUBLISHes carry, should Redis wake up and carry them out, never comes back to a node that applied them alone.
  const watch = new StallWatch(answerWithinMs, () => {
    if (stalled) return;
    stalled = true;
    lastError = `Redis did not answer within ${answerWithinMs} ms`;
    update(true);
    commands.disconnect(true);
    subscriber.restart();
  });
  return {
    async publish(channel, message) {
      await watch.watch(sharded ? commands.spublish(channel, message) : commands.publish(channel, message));
    },
    async publishNumbered(stream, frame, channel, head, tail) {
      const keys = [`${stream.key}:epoch`, `${stream.key}:offset`, `${stream.key}:stream`];
      const [epoch, offset, replaced] = (await watch.watch(commands.eval(NUMBER_AND_PUBLISH, 3, ...keys, stream.epoch, stream.size, frame, Math.round(stream.expireMs), channel, head, tail, sharded ? 'SPUBLISH' : 'PUBLISH'))) as [string, number, string | null | undefined];
      return { epoch, offset: Number(offset), ...(typeof replaced === 'string' ? { replaced } : {}) };
    },
    async readStream(key, after) {
      const replies = await watch.watch(commands.multi().get(`${key}:epoch`).get(`${key}:offset`).xrange(`${key}:stream`, `(0-${after}`, '+').exec());
      if (!replies) throw new Error('the read was aborted');
      for (const [error] of replies) if (error) throw error;
      const [epoch, offset, entries] = replies.map(([, value]) => value) as [string | null, string | null, Array<[string, string[]]>];
      return {
        // One wsgate did not make has no history to give: the next publication replaces it.
        ...(epoch === null || !mayBeEpoch(epoch) ? {} : { epoch }),
        offset: Number(offset ?? 0),
        entries: entries.map(([id, fields]) => ({ offset: Number(id.slice(2)), frame: fields[fields.indexOf('f') + 1] ?? 'null' })),
      };
    },
    subscribe: (wanted, onMessage) => subscriber.subscribe(wanted, onMessage),
    async heartbeat(key, node, ttlMs) {
      const ttl = Math.max(1, Math.round(ttlMs));
      const [added, nodes] = await watch.watch(commands.wsgateHeartbeat(key, node, ttl, 2 * ttl));
      return { nodes, added: added === 1 };
    },
    async isNode(key, node) {
      return (await watch.watch(commands.wsgateIsNode(key, node))) === 1;
    },
    async leave(key, node) {
      await watch.watch(commands.zrem(key, node));
    },
    onState(listener) {
      listeners.push(listener);
    },
    async close() {
      commands.disconnect();
      subscriber.close();
    },
  };
}
