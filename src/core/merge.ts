/**
 * Answers of several nodes made into one: presence of a channel, and the
 * sockets per host of /health. Pure functions: what another node sent is
 * checked for shape, and what does not fit is left out rather than trusted.
 */
import type { HostStats } from './hub.ts';
import type { Presence } from './presence.ts';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** Sockets per channel over the nodes: each node's counts added up. */
export function mergeCounts(results: unknown[]): Record<string, number> {
  // A Map: a client names its channels, and `constructor` or `__proto__` would find the prototype's.
  const merged = new Map<string, number>();
  for (const result of results) {
    if (!isRecord(result)) continue;
    for (const [channel, n] of Object.entries(result)) merged.set(channel, (merged.get(channel) ?? 0) + count(n));
  }
  return Object.fromEntries(merged);
}

export function mergePresence(results: unknown[]): Presence {
  const merged: Presence = { sockets: 0, tokens: {}, members: [] };
  for (const result of results) {
    if (!isRecord(result) || !Array.isArray(result.members)) continue;
    for (const member of result.members) {
      if (!isRecord(member) || typeof member.socket !== 'string' || typeof member.token !== 'string') continue;
      merged.members.push('info' in member ? { socket: member.socket, token: member.token, info: member.info } : { socket: member.socket, token: member.token });
      merged.tokens[member.token] = (merged.tokens[member.token] ?? 0) + 1;
    }
  }
  merged.sockets = merged.members.length;
  return merged;
}

/** Sockets per host over all nodes (tokens by hash, so a user on two nodes counts once), and each node's totals in order. */
export function mergeStats(results: unknown[]): { sockets: Record<string, HostStats>; perNode: Array<{ sockets: number; workers: number }> } {
  // A Map, not an object: hosts are named by clients (under `*`), and `constructor` or `__proto__` would find the prototype's.
  const sockets = new Map<string, HostStats>();
  const perNode: Array<{ sockets: number; workers: number }> = [];
  for (const result of results) {
    const node = { sockets: 0, workers: isRecord(result) ? count(result.workers) : 0 };
    perNode.push(node);
    if (!isRecord(result) || !isRecord(result.sockets)) continue;
    for (const [host, stats] of Object.entries(result.sockets)) {
      if (!isRecord(stats) || !isRecord(stats.perToken)) continue;
      let into = sockets.get(host);
      if (!into) sockets.set(host, (into = { tokens: 0, sockets: 0, perToken: {} }));
      for (const [hash, n] of Object.entries(stats.perToken)) into.perToken[hash] = (into.perToken[hash] ?? 0) + count(n);
      into.sockets += count(stats.sockets);
      node.sockets += count(stats.sockets);
    }
  }
  for (const stats of sockets.values()) stats.tokens = Object.keys(stats.perToken).length;
  return { sockets: Object.fromEntries(sockets), perNode };
}
