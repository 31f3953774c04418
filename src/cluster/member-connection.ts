/**
 * The member store's own connection to Redis (redis-members.ts), and how
 * long it waits between tries.
 */
import type { RedisClient } from './member-scripts.ts';
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
