/**
 * Two clusters on one Redis, told apart by the database number in their
 * URLs (`redis://host:6379/1`, `/2`) and nothing else. Keys are per
 * database, but Redis's pub/sub is not: a channel is heard on every
 * database. Each cluster must still see only its own casts and nodes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

describe(`two clusters on two databases of one Redis, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('keeps their casts and their nodes apart', async () => {
    const redis = await startRedis();
    const { port } = redis;
    // A deadline well above a loaded machine's stalls: Redis gets half of it to answer before a node says degraded.
    const configFor = (db: number, node: string) => ({ hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${port}/${db}`, node, heartbeat: 0.2, ttl: 5, deadline: 5 } });
    const a = await startServer({ config: configFor(1, 'a1') });
    const b = await startServer({ config: configFor(2, 'b1') });
    try {
      type Answer = { sent?: number; nodes?: { answered: string[]; missing: string[]; degraded?: string } };
      const cast = async (url: string, data: string) => (await (await fetch(`${url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'all', data }) })).json()) as Answer;
      for (const node of [a, b]) await waitFor(`${node.url} in its cluster`, async () => (await cast(node.url, 'probe')).nodes?.missing.length === 0 && !(await cast(node.url, 'probe')).nodes?.degraded);
      const onB = await connect(b.port, { host: 'c.test', token: 'bea' });
      const onA = await connect(a.port, { host: 'c.test', token: 'ann' });
      const fromA = await cast(a.url, 'for cluster a');
      assert.equal(await onA.next(), '"for cluster a"');
      const fromB = await cast(b.url, 'for cluster b');
      assert.equal(await onB.next(), '"for cluster b"');
      assert.deepEqual(fromA, { status: 'ok', host: 'c.test', sent: 1, nodes: { answered: ['a1'], missing: [] } } as Answer & { status: string; host: string });
      assert.deepEqual(fromB, { status: 'ok', host: 'c.test', sent: 1, nodes: { answered: ['b1'], missing: [] } } as Answer & { status: string; host: string });
      assert.deepEqual(onB.received, ['"for cluster b"'], "cluster a's cast reached a socket of cluster b");
      assert.deepEqual(onA.received, ['"for cluster a"'], "cluster b's cast reached a socket of cluster a");
      onA.ws.terminate();
      onB.ws.terminate();
    } finally {
      await a.stop();
      await b.stop();
      await redis.stop();
    }
  });
});
