/**
 * A gone node's entries in the shared member store, cleared by one survivor
 * (redis-members.ts nodeGone): it claims the node's cleanup, looks again
 * that the node did not come back meanwhile, tells what the node's
 * unanswered calls decided (member-unanswered.ts), then takes out what its
 * list holds. The claim says "clearing" while it clears, so that a node
 * coming back waits for it, and "done" after, for a survivor that hears late.
 * Nodes that died with no other node up to see them go are found here too.
 */
import type { OrphanedChange } from '../core/members.ts';
import { backoff } from './member-connection.ts';
import { parseListed, removeListed } from './member-held.ts';
import { holdersKey, nodeKeys } from './member-scripts.ts';
import type { RedisClient } from './member-scripts.ts';
import { tellUnanswered } from './member-unanswered.ts';

/** A claim on a gone node's cleanup while the survivor clears it (then `done\n<node>`). */
export const CLEARING = 'clearing\n';

export interface GoneNode {
  prefix: string;
  nodesKey: string;
  lockMs: number;
}

/** Clears `node` for survivor `self`; what that changed and how many lines its list had, or undefined when another survivor has it or it is back. */
export async function clearGone(redis: RedisClient, { prefix, nodesKey, lockMs }: GoneNode, self: string, node: string): Promise<{ changes: OrphanedChange[]; listed: number } | undefined> {
  if ((await redis.zscore(nodesKey, node)) !== null) return undefined;
  const cleanup = nodeKeys(prefix, node).cleanup;
  const claimed = await redis.set(cleanup, `${CLEARING}${self}`, 'PX', lockMs, 'NX');
  if (claimed !== 'OK') return undefined;
  // Back between the look and the claim: it beat before it looked for a claim (rejoined), so it found none and
  // puts its list right itself.
  if ((await redis.zscore(nodesKey, node)) !== null) return void (await redis.del(cleanup));
  // What its calls decided that it never had the answer to first: an arrival before the departure the clearing makes.
  const late = await tellUnanswered(redis, prefix, node);
  const listed = (await redis.smembers(nodeKeys(prefix, node).held)).map(parseListed);
  const changes = [...late, ...(await removeListed(redis, prefix, node, listed))];
  // Done, for a node that comes back meanwhile (it waits for this); still claimed, for a survivor that hears late.
  await redis.set(cleanup, `done\n${self}`, 'PX', lockMs);
  await redis.srem(holdersKey(prefix), node);
  return { changes, listed: listed.length + late.length };
}

/** Waits while a survivor clears `node` (its claim says so), at most until the claim runs out or `stopped`. */
export async function whileCleared(redis: RedisClient, prefix: string, node: string, stopped: () => boolean): Promise<void> {
  const cleanup = nodeKeys(prefix, node).cleanup;
  for (let attempt = 0; !stopped(); attempt++) {
    if (!((await redis.get(cleanup).catch(() => null)) ?? '').startsWith(CLEARING)) return;
    await new Promise((resolve) => setTimeout(resolve, backoff(attempt)));
  }
}

/**
 * Names `node` among the nodes that ever held entries, and returns those of
 * them not in the set of nodes now (throws when Redis cannot say).
 */
export async function unseenNodes(redis: RedisClient, { prefix, nodesKey }: Omit<GoneNode, 'lockMs'>, node: string): Promise<string[]> {
  const [, names] = await Promise.all([redis.sadd(holdersKey(prefix), node), redis.smembers(holdersKey(prefix))]);
  const unseen: string[] = [];
  for (const name of names) if (name !== node && (await redis.zscore(nodesKey, name).catch(() => '')) === null) unseen.push(name);
  return unseen;
}
