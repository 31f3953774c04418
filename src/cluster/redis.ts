/**
 * The little of Redis that a cluster needs, behind one interface: publish and
 * subscribe for the bus, and one sorted set of the nodes by their last
 * heartbeat.
 * Backed by ioredis (it runs on Node, Bun and Deno alike), with two
 * connections, since a subscribed connection can do nothing else.
 *
 * Commands fail at once while Redis is away (no offline queue): a cast that
 * waited for Redis to come back would reach its sockets late and out of
 * order, so the cluster delivers locally instead and says it is degraded.
 */
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { parseRedisUrl } from '../config/redis-url.ts';
import type { StoredStream } from '../core/history/history.ts';

export interface RedisLink {
  publish(channel: string, message: string): Promise<void>;
  /** Messages of these channels go to `onMessage`, now and after every reconnect. */
  subscribe(channels: string[], onMessage: (channel: string, message: string) => void): Promise<void>;
  /**
   * Marks `node` as seen now in the sorted set `key`, drops the members not
   * seen within `ttlMs`, and returns those left. "Now" is Redis's clock, so
   * the nodes' clocks need not agree; and it is one script on one key, so a
   * beat costs the same however much else the Redis holds.
   */
  heartbeat(key: string, node: string, ttlMs: number): Promise<string[]>;
  /** Takes `node` out of the sorted set `key` (a graceful stop), rather than leaving it to expire. */
  leave(key: string, node: string): Promise<void>;
  /**
   * Numbers a publication of a stream with history and publishes it, in one
   * step: the stream's epoch (made once), the next offset, the frame kept in a
   * Redis Stream, and the bus message with the position put between `head`
   * and `tail`. Done in Redis in one script, so the bus carries publications
   * in the order of their offsets.
   */
  publishNumbered(stream: NumberedStream, frame: string, channel: string, head: string, tail: string): Promise<{ epoch: string; offset: number }>;
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

const NUMBER_AND_PUBLISH = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end
local offset = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. offset, 'f', ARGV[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
redis.call('PUBLISH', ARGV[5], ARGV[6] .. '{"epoch":"' .. epoch .. '","offset":' .. offset .. '}' .. ARGV[7])
return {epoch, offset}
`;

/**
 * KEYS[1] the set of nodes, ARGV: the node, its ttl, how long the set
 * outlives the last beat. Each member is scored by when it expires, by its
 * own ttl: a node with a short ttl does not drop one that beats more slowly.
 * TIME before writes is fine since Redis 5 (scripts replicate their effects,
 * not themselves). The set expires on its own so a cluster whose nodes are
 * all gone leaves nothing behind; twice the ttl, so it never goes before a
 * member would have dropped out anyway.
 */
const HEARTBEAT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/** The heartbeat script as a command of its own: ioredis sends it whole once per connection, then by its SHA. */
type WithHeartbeat = Redis & { wsgateHeartbeat(key: string, node: string, ttlMs: number, keepMs: number): Promise<string[]> };

/** Waits a little longer after each failed attempt, up to two seconds. */
const backoff = (attempt: number): number => Math.min(2000, 50 * 2 ** Math.min(attempt, 6));

/**
 * Whether the subscriber listens again on the connection it has now.
 *
 * ioredis's 'ready' does not say so. On a reconnect, readyHandler (ioredis
 * 6.0, lib/redis/event_handler.ts) sets the status to ready, which emits 'ready' on
 * the next tick, and in the same call writes the autoResubscribe SUBSCRIBE
 * without awaiting its answer or telling anyone when it comes. So at 'ready'
 * the SUBSCRIBE is at best on its way to Redis, and a publish made meanwhile on
 * another connection can be handled first and never reach this node: its own
 * copy of a request it then waits for in vain, or another node's request once
 * this one has said it is back. Hence the link counts the subscriber only once
 * Redis has answered a SUBSCRIBE of the same channels sent on 'ready': it goes
 * on the same connection, behind ioredis's own, and subscribing twice changes
 * nothing in Redis. (Not a PING: it would only follow the SUBSCRIBE because
 * ioredis happens to write that before emitting 'ready'.)
 */
function listening(subscriber: Redis, channels: () => string[], changed: () => void): () => boolean {
  // Connections closed so far: an answer that comes after its connection closed says nothing about the next one.
  let closes = 0;
  let confirmed = false;
  subscriber.on('close', () => {
    closes++;
    confirmed = false;
  });
  subscriber.on('ready', () => {
    const asked = closes;
    const wanted = channels();
    (wanted.length ? subscriber.subscribe(...wanted) : Promise.resolve()).then(
      () => {
        if (asked !== closes) return;
        confirmed = true;
        changed();
      },
      () => {
        // The connection went: its 'close' is what counts.
      },
    );
  });
  return () => confirmed && subscriber.status === 'ready';
}

/**
 * How a connection to the URL's Redis is made: to the instance it names, or,
 * for a Sentinel URL, to the master the sentinels name now. ioredis asks them
 * again on every reconnect, and follows a failover they announce
 * (`failoverDetector`), so both connections move to the new master.
 */
export function redisOpener(url: string): (options: RedisOptions) => Redis {
  const target = parseRedisUrl(url);
  if ('problem' in target) throw new Error(`cluster.redis: ${target.problem}`);
  if (target.kind === 'single') return (options) => new Redis(url, options);
  const { sentinels, name, username, password, sentinelPassword } = target;
  return (options) => new Redis({ ...options, sentinels, name, username, password, sentinelPassword, failoverDetector: true });
}

export function connectRedis(url: string): RedisLink {
  const options = { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: backoff, lazyConnect: false } as const;
  const open = redisOpener(url);
  const commands = open(options) as WithHeartbeat;
  commands.defineCommand('wsgateHeartbeat', { lua: HEARTBEAT, numberOfKeys: 1 });
  // The subscriber queues its SUBSCRIBE until it is connected, however long Redis takes to come (a node may start
  // first), and resubscribes by itself after a reconnect.
  const subscriber = open({ ...options, enableOfflineQueue: true, maxRetriesPerRequest: null });
  const channels: string[] = [];
  const listeners: Array<(state: 'up' | 'down', reason?: string) => void> = [];
  // Before the listeners below, so a subscriber that closes no longer counts as listening when they look.
  const listens = listening(subscriber, () => channels, () => update());
  // Unknown until the first connect succeeds or fails, so a node that starts without Redis says so too.
  let state: 'up' | 'down' | undefined;
  let lastError = 'connecting';
  const update = (failed = false) => {
    const next = commands.status === 'ready' && listens() ? 'up' : 'down';
    // Still connecting, and nothing failed yet: not down so far.
    if (next === state || (state === undefined && next === 'down' && !failed)) return;
    state = next;
    for (const listener of listeners) listener(state, state === 'down' ? lastError : undefined);
  };
  for (const client of [commands, subscriber]) {
    client.on('ready', () => update());
    client.on('close', () => update());
    client.on('end', () => update());
    client.on('error', (error: Error) => {
      lastError = error.message || String(error);
      update(true);
    });
  }
  return {
    async publish(channel, message) {
      await commands.publish(channel, message);
    },
    async publishNumbered(stream, frame, channel, head, tail) {
      const keys = [`${stream.key}:epoch`, `${stream.key}:offset`, `${stream.key}:stream`];
      const [epoch, offset] = (await commands.eval(NUMBER_AND_PUBLISH, 3, ...keys, stream.epoch, stream.size, frame, Math.round(stream.expireMs), channel, head, tail)) as [string, number];
      return { epoch, offset: Number(offset) };
    },
    async readStream(key, after) {
      const replies = await commands.multi().get(`${key}:epoch`).get(`${key}:offset`).xrange(`${key}:stream`, `(0-${after}`, '+').exec();
      if (!replies) throw new Error('the read was aborted');
      for (const [error] of replies) if (error) throw error;
      const [epoch, offset, entries] = replies.map(([, value]) => value) as [string | null, string | null, Array<[string, string[]]>];
      return {
        ...(epoch === null ? {} : { epoch }),
        offset: Number(offset ?? 0),
        entries: entries.map(([id, fields]) => ({ offset: Number(id.slice(2)), frame: fields[fields.indexOf('f') + 1] ?? 'null' })),
      };
    },
    async subscribe(wanted, onMessage) {
      channels.push(...wanted);
      subscriber.on('message', onMessage);
      await subscriber.subscribe(...wanted);
    },
    async heartbeat(key, node, ttlMs) {
      const ttl = Math.max(1, Math.round(ttlMs));
      return commands.wsgateHeartbeat(key, node, ttl, 2 * ttl);
    },
    async leave(key, node) {
      await commands.zrem(key, node);
    },
    onState(listener) {
      listeners.push(listener);
    },
    async close() {
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}
