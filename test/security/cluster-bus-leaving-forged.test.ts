/**
 * A `leaving` under the name of a node that is still in the set of nodes is
 * forged (a real node leaves the set before it says so): it must not hide
 * that node from requests, whose counts would then leave its sockets out
 * without saying so, until its next beat.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { askAll, startBusCluster } from '../support/bus-cluster.ts';
import { TARGET, targetAvailable } from '../support/server.ts';
import { redisMissing } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

describe(`a forged leaving on the bus, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('does not hide a live node from requests; a real one still leaves at once', async () => {
    // Beats far apart: what n1 thinks between them comes from the bus, not from a beat.
    const cluster = await startBusCluster({ heartbeat: 10, ttl: 30, deadline: 2 });
    try {
      const n1 = await cluster.startNode('n1');
      const n2 = await cluster.startNode('n2');
      await waitFor('n2 answering n1', async () => (await askAll(n1)).answered.includes('n2'));
      // n1 reads the bus in order: once the second is logged, it has heard the leaving.
      await cluster.forge({ t: 'leaving', node: 'n2' }, '{"not":"a message"}');
      await waitFor('n1 to read the batch', () => n1.logs.some((line) => line.includes('cluster message ignored')), 5000);
      assert.deepEqual((await askAll(n1)).answered.sort(), ['n1', 'n2'], 'n2 still answers: the leaving was forged');
      await n2.stop();
      // Gone from n1's nodes, not waited for and named missing (which a request would after the deadline).
      await waitFor('n2 gone at once once it really leaves', async () => {
        const { answered, missing } = await askAll(n1);
        return (!answered.includes('n2') && missing.length === 0) || undefined;
      }, 4000);
    } finally {
      await cluster.stop();
    }
  });
});
