/**
 * Two nodes' shared member stores (src/cluster/redis-members.ts) on one real
 * redis-server, in the test's own process: node a's through a reply-holding
 * proxy (reply-proxy.ts), so that a test can make its answers come late or
 * never; node b's straight to Redis, so that what b is told shows what a's
 * lost answers left in the store.
 */
import { once } from 'node:events';
import { RedisMembers, connectMembers } from '../../src/cluster/redis-members.ts';
import type { OrphanedChange } from '../../src/core/members.ts';
import { createLogger } from '../../src/ops/log.ts';
import type { RedisForTests } from './redis.ts';
import { replyHoldingProxy } from './reply-proxy.ts';
import type { ReplyProxy } from './reply-proxy.ts';

/** A node's member store, in the test's process, with what it is told late (onOrphaned) in order. */
export interface StartedStore {
  connection: ReturnType<typeof connectMembers>;
  members: RedisMembers;
  orphaned: OrphanedChange[];
}

/**
 * Node `node`'s store over `url` (a proxy's, or Redis's own), its keys under
 * `prefix`, started; stopped when the test's Redis is. `log`: where its lines
 * go (none by default).
 */
export async function startedStore(redisServer: RedisForTests, url: string, prefix: string, node: string, options: { commandTimeoutMs?: number; log?: (line: string) => void } = {}): Promise<StartedStore> {
  const connection = connectMembers(url, options.commandTimeoutMs);
  await once(connection, 'ready');
  const members = new RedisMembers(connection, { prefix, nodesKey: `${prefix}nodes` }, createLogger(options.log ?? (() => {}), options.log ? 'info' : 'error'));
  const orphaned: OrphanedChange[] = [];
  members.onOrphaned((change) => orphaned.push(change));
  members.start(node);
  redisServer.cleanup(() => members.stop());
  return { connection, members, orphaned };
}

export interface MembersOverProxy {
  proxy: ReplyProxy;
  /** a's connection, through the proxy: disconnect() it for a node that dies without stop(). */
  connection: ReturnType<typeof connectMembers>;
  /** Node a's store, through the proxy, its first sync done. */
  proxied: RedisMembers;
  /** Node b's store, straight to Redis. */
  direct: RedisMembers;
  /** What each store was told late (onOrphaned), in order. */
  orphaned: { proxied: OrphanedChange[]; direct: OrphanedChange[] };
}

/**
 * Both stores started under `prefix`, a's giving up on a reply after
 * `commandTimeoutMs`; stopped, and the proxy closed, when the test's Redis is.
 */
export async function membersOverProxy(redisServer: RedisForTests, prefix: string, commandTimeoutMs: number, host: string): Promise<MembersOverProxy> {
  const proxy = await replyHoldingProxy(redisServer.port);
  redisServer.cleanup(() => proxy.close());
  const a = await startedStore(redisServer, proxy.url, prefix, 'a', { commandTimeoutMs });
  const b = await startedStore(redisServer, `redis://127.0.0.1:${redisServer.port}`, prefix, 'b');
  // a's first sync is done once a call through it answers (calls go in order on the one connection).
  await a.members.users(host, 'presence-warm');
  return { proxy, connection: a.connection, proxied: a.members, direct: b.members, orphaned: { proxied: a.orphaned, direct: b.orphaned } };
}
