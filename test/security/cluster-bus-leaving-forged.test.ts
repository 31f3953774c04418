/**
 * A `leaving` under the name of a node that is still in the set of nodes is
 * forged (a real node leaves the set before it says so): it must not hide
 * that node from requests, whose counts would then leave its sockets out
 * without saying so, until its next beat.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import { Redis } from 'ioredis';

const skip = targetAvailable() ?? redisMissing;

describe(`a forged leaving on the bus, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('does not hide a live node from requests; a real one still leaves at once', async () => {
    const redis = await startRedis();
    const { port } = redis;
    const writer = new Redis(port, '127.0.0.1');
    // Beats far apart: what n1 thinks between them comes from the bus, not from a beat.
    const config = (node: string) => ({ hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${port}`, node, heartbeat: 10, ttl: 30, deadline: 2 } });
    const n1 = await startServer({ config: config('n1') });
    const n2 = await startServer({ config: config('n2') });
    try {
      const ask = async () => {
        const body = (await (await fetch(`${n1.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'all', data: 'x' }) })).json()) as { nodes?: { answered: string[]; missing: string[] } };
        return { answered: body.nodes?.answered ?? [], missing: body.nodes?.missing ?? [] };
      };
      await waitFor('n2 answering n1', async () => (await ask()).answered.includes('n2'));
      const batch = writer.pipeline();
      batch.publish('wsgate:bus', JSON.stringify({ id: '', from: 'intruder', request: { t: 'leaving', node: 'n2' } }));
      // n1 reads the bus in order: once this is logged, it has heard the leaving above.
      batch.publish('wsgate:bus', '{"not":"a message"}');
      await batch.exec();
      await waitFor('n1 to read the batch', () => n1.logs.some((line) => line.includes('cluster message ignored')), 5000);
      assert.deepEqual((await ask()).answered.sort(), ['n1', 'n2'], 'n2 still answers: the leaving was forged');
      await n2.stop();
      // Gone from n1's nodes, not waited for and named missing (which a request would after the deadline).
      await waitFor('n2 gone at once once it really leaves', async () => {
        const { answered, missing } = await ask();
        return (!answered.includes('n2') && missing.length === 0) || undefined;
      }, 4000);
    } finally {
      writer.disconnect();
      await n2.stop('SIGKILL');
      await n1.stop('SIGKILL');
      await redis.stop();
    }
  });
});
