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

/** Joinings checked against the set of nodes at once, at most: beyond, a joining waits for the next beat to find its node. */
export const MAX_UNCONFIRMED = 32;

/**
 * Nodes heard of by the `joining` they put on the bus, before a heartbeat
 * finds them in the set of nodes. A real node beats before it announces
 * itself, so its name is in the set already; anyone who can PUBLISH on the
 * bus can announce names that are not. Counted live, such a name would make
 * every request wait its whole deadline for an answer that never comes: so
 * a name counts only once one read of the set finds it there. The reads
 * under way are capped, a name already under way or live costs none, and
 * the names refused cost one log line per beat, not one each.
 */
export class Joinings {
  /** Names whose read is under way. */
  readonly #checking = new Set<string>();
  /** Names found by their read, not yet by a beat. */
  readonly #unconfirmed = new Set<string>();
  #refused = 0;
  readonly #node: string;
  readonly #log: Logger;
  readonly #isNode: (node: string) => Promise<boolean>;
  readonly #max: number;

  constructor(node: string, log: Logger, isNode: (node: string) => Promise<boolean>, max = MAX_UNCONFIRMED) {
    this.#node = node;
    this.#log = log;
    this.#isNode = isNode;
    this.#max = max;
  }

  /**
   * A joining of `node`: the live nodes with it, once it is found in the set
   * of nodes and counts from now (not when live already, past the cap, or
   * said leaving meanwhile); it is then seen now.
   */
  async heard(node: string, live: () => ReadonlySet<string>, seen: Map<string, number>): Promise<ReadonlySet<string> | undefined> {
    if (live().has(node) || this.#checking.has(node)) return undefined;
    if (this.#checking.size >= this.#max) return void this.#refused++;
    this.#checking.add(node);
    // Redis away: the next beat finds a real node all the same.
    const found = await this.#isNode(node).catch(() => false);
    // Said leaving meanwhile (forget()).
    if (!this.#checking.delete(node)) return undefined;
    if (!found) return void this.#refused++;
    if (live().has(node)) return undefined;
    this.#unconfirmed.add(node);
    seen.set(node, Date.now());
    return new Set([...live(), node]);
  }

  /** `node` said it is leaving: a read under way for it counts for nothing. */
  forget(node: string): void {
    this.#checking.delete(node);
    this.#unconfirmed.delete(node);
  }

  /**
   * After a count: nodes found are confirmed, those no longer seen are
   * forgotten. Returns the nodes of `gone` that were ever found by a beat,
   * to be told gone (and cleaned up after); the others are one line for all.
   */
  settle(found: readonly string[], seen: ReadonlyMap<string, number>, gone: readonly string[]): string[] {
    for (const node of found) this.#unconfirmed.delete(node);
    const real = gone.filter((node) => !this.#unconfirmed.has(node));
    const neverFound = gone.length - real.length;
    for (const node of this.#unconfirmed) if (!seen.has(node)) this.#unconfirmed.delete(node);
    if (neverFound) this.#log.warn('cluster joinings never confirmed', { node: this.#node, count: neverFound, reason: 'found in the set of nodes once, never by a beat: gone at once' });
    if (this.#refused) this.#log.warn('cluster joinings refused', { node: this.#node, count: this.#refused, reason: 'announced on the bus under names not in the set of nodes (made up), or past the reads under way' });
    this.#refused = 0;
    return real;
  }
}
