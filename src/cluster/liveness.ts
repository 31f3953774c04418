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
