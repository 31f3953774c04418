/**
 * A `joining` on the bus makes a node count another as live at once; anyone
 * who can PUBLISH there can send them under made-up names. Each such name
 * used to cost every node a "cluster node gone" warning and a clean-up once
 * its beats never came: now at most a few are counted, and those never found
 * in the set of nodes drop out in one line. A real node's join still counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { freePort, redisMissing, startRedis } from '../support/redis.ts';
import { Redis } from 'ioredis';

const skip = targetAvailable() ?? redisMissing;
const FORGED = 100;

describe(`forged joinings on the bus, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('cost one log line, not a warning and a clean-up per made-up name, and a real node still joins', async () => {
    const port = await freePort();
    const redis = await startRedis(port);
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
      await n1.waitForLog(/cluster joinings never confirmed|cluster node gone .*ghost-/);
      // A line n1 writes after the made-up names dropped out (they go in one count): every line of theirs is in by then.
      await writer.publish('wsgate:bus', '{"not":"a message"}');
      await n1.waitForLog(/cluster message ignored/);
      const gone = n1.logs.filter((line) => /cluster node gone .*ghost-/.test(line));
      assert.equal(gone.length, 0, `no warning per made-up name (got ${gone.length})`);
      assert.equal(n1.logs.filter((line) => line.includes('cluster joinings never confirmed')).length, 1, n1.logs.join('\n'));
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
