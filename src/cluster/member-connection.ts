/**
 * The member store's own connection to Redis (redis-members.ts): how it is
 * opened, how long it waits between tries, and how the store's calls use it
 * (in the order they were made, one warning per outage).
 */
import type { Logger } from '../ops/log.ts';
import { runSteps, writesInOrder } from './member-scripts.ts';
import type { Call, RedisClient } from './member-scripts.ts';
import { redisOpener } from './redis.ts';

/** Waits a little longer after each failed attempt, up to two seconds (as the cluster's own link does). */
export const backoff = (attempt: number): number => Math.min(2000, 50 * 2 ** Math.min(attempt, 6));

/**
 * A connection for the store: commands fail at once while Redis is away (no
 * offline queue) and give up after `commandTimeoutMs`, and so does a
 * connect (the first calls wait for it), so a join never waits long on a
 * Redis that is gone or hangs.
 */
export function connectMembers(url: string, commandTimeoutMs = 2000): RedisClient {
  return redisOpener(url)({ enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: backoff, commandTimeout: commandTimeoutMs, connectTimeout: commandTimeoutMs });
}

/**
 * The store's connection as its calls use it. Redis being away never fails
 * a call: it answers undefined, and one warning per outage is logged (and
 * one line when Redis answers again).
 */
export class MemberLink {
  readonly redis: RedisClient;
  /** Resolves once the connection was first ready or first failed. */
  readonly attempted: Promise<void>;
  readonly inOrder: <T>(work: () => Promise<T>) => Promise<T>;
  readonly #log: Logger;
  /** The node's name for the log, once it is known. */
  readonly #node: () => string | undefined;
  /** Whether the last command failed: one warning per outage. */
  #failing = false;

  constructor(redis: RedisClient, log: Logger, node: () => string | undefined) {
    this.redis = redis;
    this.inOrder = writesInOrder(redis);
    this.#log = log;
    this.#node = node;
    // Failures are told by the calls that meet them; without a listener ioredis would print each to stderr.
    redis.on('error', () => {});
    this.attempted = new Promise<void>((resolve) => {
      if (redis.status === 'ready') return resolve();
      const events = ['ready', 'error', 'close', 'end'];
      const settled = () => {
        for (const event of events) redis.off(event, settled);
        resolve();
      };
      for (const event of events) redis.on(event, settled);
    });
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /** Runs the steps (runSteps); their replies, or undefined (logged) when Redis failed them. */
  async exec(op: string, steps: Call[][]): Promise<unknown[][] | undefined> {
    try {
      const answers = await this.inOrder(() => runSteps(this.redis, steps));
      this.succeeded();
      return answers;
    } catch (error) {
      this.failed(op, error);
      return undefined;
    }
  }

  succeeded(): void {
    if (this.#failing) this.#log.info('members store reachable', { node: this.#node() });
    this.#failing = false;
  }

  failed(op: string, error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#log.warn('members store unreachable', { node: this.#node(), op, error: (error as Error).message ?? String(error), note: 'joins and leaves go on; members and channel events are not told meanwhile' });
  }
}
