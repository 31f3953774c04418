/**
 * Two live nodes under one name (`cluster.node` copied from one machine's
 * config to another's): the others cannot tell them apart, and each takes the
 * other's casts from hooks for its own. Each must say so, in its log and in
 * /health, rather than lose casts quietly. Against a real redis-server;
 * skipped when it is missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import type { RedisServer } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

type Health = { status: string; reason?: string; cluster?: { node: string; redis: string; live: string[] } };
const health = async (node: Started) => (await (await fetch(`${node.url}/health`)).json()) as Health;

describe(`cluster node names on ${TARGET}`, { skip, timeout: 120_000 }, () => {
  let redis: RedisServer;
  let redisPort: number;
  const nodes: Started[] = [];
  // A ttl and deadline well above a loaded machine's stalls of a node process: no node is taken for gone or named missing.
  const config = (name: string, prefix: string) => ({
    hosts: { 'c.test': { app: APP, build: false } },
    cluster: { redis: `redis://127.0.0.1:${redisPort}`, node: name, prefix, heartbeat: 0.2, ttl: 5, deadline: 5 },
  });

  before(async () => {
    redis = await startRedis();
    redisPort = redis.port;
  });
  after(async () => {
    for (const node of nodes) await node.stop();
    await redis?.stop();
  });

  it('distinct names: neither node reports a clash', async () => {
    const a = await startServer({ config: config('n1', 'distinct:') });
    const b = await startServer({ config: config('n2', 'distinct:') });
    nodes.push(a, b);
    await waitFor('both nodes live on each', async () => ((await health(a)).cluster?.live.length === 2 && (await health(b)).cluster?.live.length === 2 ? true : undefined));
    // Bridge requests of each are heard by the other: the same path that reveals a clash.
    for (const node of [a, b]) assert.equal((await health(node)).status, 'ok');
    assert.ok(![...a.logs, ...b.logs].some((line) => /cluster node name taken/.test(line)));
  });

  it('one name on two live nodes: both log it and /health is degraded with why', async () => {
    const a = await startServer({ config: config('twin', 'same:') });
    const b = await startServer({ config: config('twin', 'same:') });
    nodes.push(a, b);
    // The later one's join reaches the earlier; the earlier's /health (a bridge request over the bus) reaches the later.
    await a.waitForLog(/cluster node name taken .*node=twin/);
    await health(a);
    await b.waitForLog(/cluster node name taken .*node=twin/);
    for (const node of [a, b]) {
      const body = await health(node);
      assert.equal(body.status, 'degraded');
      assert.match(body.reason ?? '', /another live node is named twin/);
      assert.equal(body.cluster?.redis, 'up');
    }
  });
});
