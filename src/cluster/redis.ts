/**
 * The little of Redis that a cluster needs, behind one interface: publish and
 * subscribe for the bus, and keys with a time to live for the heartbeats.
 * Backed by ioredis (it runs on Node, Bun and Deno alike), with two
 * connections, since a subscribed connection can do nothing else.
 *
 * Commands fail at once while Redis is away (no offline queue): a cast that
 * waited for Redis to come back would reach its sockets late and out of
 * order, so the cluster delivers locally instead and says it is degraded.
 */
import { Redis } from 'ioredis';

export interface RedisLink {
  publish(channel: string, message: string): Promise<void>;
  /** Messages of these channels go to `onMessage`, now and after every reconnect. */
  subscribe(channels: string[], onMessage: (channel: string, message: string) => void): Promise<void>;
  /** SET key value PX ttl. */
  setWithTtl(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Keys matching a glob, with their values (SCAN, then MGET). */
  scanValues(pattern: string): Promise<Map<string, string>>;
  /**
   * Numbers a publication of a stream with history and publishes it, in one
   * step: the stream's epoch (made once), the next offset, the frame kept in a
   * Redis Stream, and the bus message with the position put between `head`
   * and `tail`. Done in Redis in one script, so the bus carries publications
   * in the order of their offsets.
   */
  publishNumbered(stream: NumberedStream, frame: string, channel: string, head: string, tail: string): Promise<{ epoch: string; offset: number }>;
  /** A numbered stream as Redis holds it: its epoch, its newest offset, and the entries after `after`. */
  readStream(key: string, after: number): Promise<{ epoch?: string; offset: number; entries: Array<{ offset: number; frame: string }> }>;
  /** "up" once both connections are ready; "down" with why otherwise. */
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

/** Waits a little longer after each failed attempt, up to two seconds. */
const backoff = (attempt: number): number => Math.min(2000, 50 * 2 ** Math.min(attempt, 6));

export function connectRedis(url: string): RedisLink {
  const options = { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: backoff, lazyConnect: false } as const;
  const commands = new Redis(url, options);
  // The subscriber queues its SUBSCRIBE until it is connected, however long Redis takes to come (a node may start
  // first), and resubscribes by itself after a reconnect.
  const subscriber = new Redis(url, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null });
  const listeners: Array<(state: 'up' | 'down', reason?: string) => void> = [];
  // Unknown until the first connect succeeds or fails, so a node that starts without Redis says so too.
  let state: 'up' | 'down' | undefined;
  let lastError = 'connecting';
  const update = (failed = false) => {
    const next = commands.status === 'ready' && subscriber.status === 'ready' ? 'up' : 'down';
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
    async subscribe(channels, onMessage) {
      subscriber.on('message', onMessage);
      await subscriber.subscribe(...channels);
    },
    async setWithTtl(key, value, ttlMs) {
      await commands.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)));
    },
    async del(key) {
      await commands.del(key);
    },
    async scanValues(pattern) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await commands.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      const values = keys.length ? await commands.mget(...keys) : [];
      const found = new Map<string, string>();
      keys.forEach((key, i) => {
        const value = values[i];
        if (value !== null && value !== undefined) found.set(key, value);
      });
      return found;
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
