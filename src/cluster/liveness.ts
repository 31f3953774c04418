/**
 * Which nodes count as live after a heartbeat, from what it found in the set
 * of nodes. A node found is seen now. One not found stays live for two
 * heartbeats after it was last seen, so that one beat that misses it (the
 * set being filled again after a Redis restart) does not make requests stop
 * waiting for it.
 *
 * When this node itself could not beat for longer than that (Redis away, or
 * a failover of the master that holds the set), not finding a node says
 * nothing about it: its own beats may have failed the same way, and the
 * master that took over may hold an older copy of the set. A node that was
 * live then stays live for a ttl from this beat, as its own entry would in
 * Redis. Until it beats again, requests wait for it and, if it is dead,
 * name it among the nodes that did not answer: never a count short of a
 * node that is there and not said.
 */
import type { Logger } from '../ops/log.ts';

export interface LivenessTiming {
  heartbeatMs: number;
  ttlMs: number;
}

/**
 * `seen`: when each node was last seen, by this node's clock; changed in
 * place. `lastBeat`: when this node last recounted (0: never). Returns the
 * live nodes.
 */
export function recount(seen: Map<string, number>, found: readonly string[], live: ReadonlySet<string>, now: number, lastBeat: number, timing: LivenessTiming): Set<string> {
  const grace = 2 * timing.heartbeatMs;
  if (lastBeat > 0 && now - lastBeat > grace) {
    for (const node of live) seen.set(node, Math.max(seen.get(node) ?? 0, now + timing.ttlMs - grace));
  }
  for (const node of found) seen.set(node, now);
  const after = new Set<string>();
  for (const [node, at] of seen) {
    if (now - at < grace) after.add(node);
    else seen.delete(node);
  }
  return after;
}

/** Names heard of by their joining only, at most: beyond, a joining waits for the next beat to find its node. */
export const MAX_UNCONFIRMED = 32;

/**
 * Nodes known only by the `joining` they put on the bus, until a heartbeat
 * finds them in the set of nodes. A real node beats before it announces
 * itself, so the next beat finds it; anyone who can PUBLISH on the bus can
 * announce names that are never found. Those are capped, and when they drop
 * out they cost one log line per count, not a warning and a clean-up each.
 */
export class Joinings {
  readonly #unconfirmed = new Set<string>();
  readonly #node: string;
  readonly #log: Logger;
  readonly #max: number;

  constructor(node: string, log: Logger, max = MAX_UNCONFIRMED) {
    this.#node = node;
    this.#log = log;
    this.#max = max;
  }

  /** A joining of `node`: the live nodes with it, when it counts from now (not when live already, nor past the cap); it is then seen now. */
  heard(node: string, live: ReadonlySet<string>, seen: Map<string, number>): ReadonlySet<string> | undefined {
    if (live.has(node) || this.#unconfirmed.size >= this.#max) return undefined;
    this.#unconfirmed.add(node);
    seen.set(node, Date.now());
    return new Set([...live, node]);
  }

  /**
   * After a count: nodes found are confirmed, those no longer seen are
   * forgotten. Returns the nodes of `gone` that were ever found, to be told
   * gone (and cleaned up after); the others are one line for all.
   */
  settle(found: readonly string[], seen: ReadonlyMap<string, number>, gone: readonly string[]): string[] {
    for (const node of found) this.#unconfirmed.delete(node);
    const real = gone.filter((node) => !this.#unconfirmed.has(node));
    const neverFound = gone.length - real.length;
    for (const node of this.#unconfirmed) if (!seen.has(node)) this.#unconfirmed.delete(node);
    if (neverFound) this.#log.warn('cluster joinings never confirmed', { node: this.#node, count: neverFound, reason: 'announced on the bus, never found in the set of nodes: made up, or gone at once' });
    return real;
  }
}
