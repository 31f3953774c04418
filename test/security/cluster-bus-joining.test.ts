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
import { askAll, startBusCluster } from '../support/bus-cluster.ts';
import { TARGET, targetAvailable } from '../support/server.ts';
import { redisMissing } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;
const FORGED = 100;

describe(`forged joinings on the bus, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('cost one log line, not a warning and a clean-up per made-up name, and a real node still joins', async () => {
    // A ttl and deadline well above a loaded machine's stalls of a node process: n1 and n2 are never taken for gone or missing.
    const cluster = await startBusCluster({ heartbeat: 0.2, ttl: 5, deadline: 5 });
    try {
      const n1 = await cluster.startNode('n1');
      await waitFor('n1 in the cluster', async () => (await askAll(n1)).answered.includes('n1'));
      await cluster.forge(...Array.from({ length: FORGED }, (_, i) => ({ t: 'joining', node: `ghost-${i}` })));
      // Each made-up name is refused (read once, or past the reads under way), and counted in one line per beat.
      const refusals = () => n1.logs.filter((line) => line.includes('cluster joinings refused'));
      const refused = () => refusals().reduce((sum, line) => sum + Number(/count=(\d+)/.exec(line)?.[1] ?? 0), 0);
      await waitFor('every made-up name refused', () => refused() === FORGED, 5000);
      assert.equal(n1.logs.filter((line) => /cluster node gone .*ghost-/.test(line)).length, 0, 'no warning per made-up name');
      assert.ok(refusals().length <= 5, `a line per beat, not per name: ${refusals().length}`);
      await cluster.startNode('n2');
      await waitFor('n2 answering n1', async () => (await askAll(n1)).answered.includes('n2'), 10_000);
    } finally {
      await cluster.stop();
    }
  });
});
