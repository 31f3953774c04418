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
  const keys = { prefix, nodesKey: `${prefix}nodes` };
  const quiet = createLogger(() => {}, 'error');
  const proxy = await replyHoldingProxy(redisServer.port);
  redisServer.cleanup(() => proxy.close());
  const connection = connectMembers(proxy.url, commandTimeoutMs);
  await once(connection, 'ready');
  const proxied = new RedisMembers(connection, keys, quiet);
  const direct = new RedisMembers(connectMembers(`redis://127.0.0.1:${redisServer.port}`), keys, quiet);
  const orphaned = { proxied: [] as OrphanedChange[], direct: [] as OrphanedChange[] };
  proxied.onOrphaned((change) => orphaned.proxied.push(change));
  direct.onOrphaned((change) => orphaned.direct.push(change));
  proxied.start('a');
  redisServer.cleanup(() => proxied.stop());
  direct.start('b');
  redisServer.cleanup(() => direct.stop());
  // a's first sync is done once a call through it answers (calls go in order on the one connection).
  await proxied.users(host, 'presence-warm');
  return { proxy, connection, proxied, direct, orphaned };
}
