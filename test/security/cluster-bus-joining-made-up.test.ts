/**
 * A `joining` under a name that is not in the set of nodes is made up
 * (a real node beats before it announces itself): it must not make a
 * request wait for an answer that never comes, however often it is sent,
 * while a real node's joining still counts before the next heartbeat.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import { Redis } from 'ioredis';

const skip = targetAvailable() ?? redisMissing;
// Long enough that an answer on a slow, busy machine stays well clear of it, so that only waiting for a made-up node
// reaches it; a request that waits for none ends as soon as the answers are in.
const DEADLINE_S = 5;

describe(`made-up joinings on the bus, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('never delay a request, and a real node still counts at once', async () => {
    const redis = await startRedis();
    const { port } = redis;
    const writer = new Redis(port, '127.0.0.1');
    // Beats far apart: a node counted before n1's next beat was counted by its joining.
    const config = (node: string) => ({ hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${port}`, node, heartbeat: 10, ttl: 30, deadline: DEADLINE_S } });
    const n1 = await startServer({ config: config('n1') });
    let n2: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const ask = async () => {
        const started = performance.now();
        const body = (await (await fetch(`${n1.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'all', data: 'x' }) })).json()) as { nodes?: { answered: string[]; missing: string[] } };
        return { ms: performance.now() - started, answered: body.nodes?.answered ?? [], missing: body.nodes?.missing ?? [] };
      };
      await waitFor('n1 in the cluster', async () => (await ask()).answered.includes('n1'));
      for (let round = 0; round < 2; round++) {
        const batch = writer.pipeline();
        for (let i = 0; i < 5; i++) batch.publish('wsgate:bus', JSON.stringify({ id: '', from: 'intruder', request: { t: 'joining', node: `ghost-${i}` } }));
        // n1 reads the bus in order: once this is logged, it has heard every joining above.
        batch.publish('wsgate:bus', '{"not":"a message"}');
        await batch.exec();
        await waitFor('n1 to read the batch', () => n1.logs.filter((line) => line.includes('cluster message ignored')).length > round, 5000);
        const { ms, missing } = await ask();
        assert.deepEqual(missing, [], `round ${round}: no made-up node waited for`);
        assert.ok(ms < DEADLINE_S * 1000 * 0.75, `round ${round}: answered in ${Math.round(ms)} ms, not after the deadline`);
      }
      n2 = await startServer({ config: config('n2') });
      await waitFor('n2 answering n1 before n1 beats again', async () => (await ask()).answered.includes('n2'), 4000);
    } finally {
      writer.disconnect();
      await n2?.stop('SIGKILL');
      await n1.stop('SIGKILL');
      await redis.stop();
    }
  });
});
