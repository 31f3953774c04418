/**
 * A `joining` on the bus makes a node count another as live at once; anyone
 * who can PUBLISH there can send them under made-up names. Each such name
 * used to cost every node a "cluster node gone" warning and a clean-up once
 * its beats never came: now none is counted (its name is not in the set of
 * nodes), and they are refused in one line per beat. A real node's join
 * still counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import { Redis } from 'ioredis';

const skip = targetAvailable() ?? redisMissing;
const FORGED = 100;

describe(`forged joinings on the bus, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('cost one log line, not a warning and a clean-up per made-up name, and a real node still joins', async () => {
    const redis = await startRedis();
    const { port } = redis;
    const writer = new Redis(port, '127.0.0.1');
    const config = (node: string) => ({ hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${port}`, node, heartbeat: 0.2, ttl: 1.5, deadline: 1 } });
    const n1 = await startServer({ config: config('n1') });
    let n2: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const answered = async () => ((await (await fetch(`${n1.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'all', data: 'x' }) })).json()) as { nodes?: { answered: string[] } }).nodes?.answered ?? [];
      await waitFor('n1 in the cluster', async () => (await answered()).includes('n1'));
      const batch = writer.pipeline();
      for (let i = 0; i < FORGED; i++) batch.publish('wsgate:bus', JSON.stringify({ id: '', from: 'intruder', request: { t: 'joining', node: `ghost-${i}` } }));
      await batch.exec();
      // Each made-up name is refused (read once, or past the reads under way), and counted in one line per beat.
      const refusals = () => n1.logs.filter((line) => line.includes('cluster joinings refused'));
      const refused = () => refusals().reduce((sum, line) => sum + Number(/count=(\d+)/.exec(line)?.[1] ?? 0), 0);
      await waitFor('every made-up name refused', () => refused() === FORGED, 5000);
      assert.equal(n1.logs.filter((line) => /cluster node gone .*ghost-/.test(line)).length, 0, 'no warning per made-up name');
      assert.ok(refusals().length <= 5, `a line per beat, not per name: ${refusals().length}`);
      n2 = await startServer({ config: config('n2') });
      await waitFor('n2 answering n1', async () => (await answered()).includes('n2'), 5000);
    } finally {
      writer.disconnect();
      await n2?.stop('SIGKILL');
      await n1.stop('SIGKILL');
      await redis.stop();
    }
  });
});
