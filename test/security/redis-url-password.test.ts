/**
 * A password given in a redis:// URL's query (`?password=`, which ioredis
 * takes as it takes the userinfo, and which the unix:// form documents) is
 * a credential like any other: the node authenticates with it, and neither
 * its log nor `wsgate check` shows it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

describe(`a Redis password in the URL's query, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('authenticates with it and logs the URL without it', async () => {
    const redis = await startRedis(undefined, ['--requirepass', 'query-secret-pw']);
    const { port } = redis;
    const node = await startServer({ config: { hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${port}/0?password=query-secret-pw&prefix=q:`, node: 'n1', heartbeat: 0.2, ttl: 1.5, deadline: 1 } } });
    try {
      await waitFor('the node in the cluster', async () => ((await (await fetch(`${node.url}/health`)).json()) as { cluster?: { redis: string } }).cluster?.redis === 'up');
      const line = await node.waitForLog(/ cluster node=n1 redis=/);
      assert.match(line, /password=\*\*\*/);
      assert.doesNotMatch(node.logs.join('\n'), /query-secret-pw/);
    } finally {
      await node.stop();
      await redis.stop();
    }
  });
});
