/**
 * What a socket that resumes a channel from Redis is sent meanwhile: held
 * until the read is in, so it gets each publication once and in order
 * (Gateway.#joinFromRedis), but never without bound.
 */
import type { Position } from './history.ts';

/**
 * Publications of a channel held for a socket while what it missed is read
 * from Redis. At most `limit`: past it they are dropped (`lost`) and the
 * socket is given this node's copy instead, said as not recovered if it
 * cannot fill the gap, rather than held without bound while Redis is slow.
 */
export interface HeldWhileRecovering {
  entries: Array<{ position: Position; frame: string }>;
  limit: number;
  lost: boolean;
}

/** At most this many publications held per socket while it recovers from Redis (fewer for a stream that keeps fewer). */
export const RECOVERING_HELD = 1000;

export function holdWhileRecovering(held: HeldWhileRecovering, position: Position, frame: string): void {
  if (held.lost) return;
  if (held.entries.length < held.limit) held.entries.push({ position, frame });
  else {
    held.lost = true;
    held.entries = [];
  }
}
