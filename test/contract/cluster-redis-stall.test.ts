/**
 * A Redis that stops answering without closing its connections (here
 * SIGSTOP; a frozen VM or a network that drops packets looks the same):
 * the node must notice, deliver locally and say it is degraded, as when
 * Redis is gone, and, once Redis answers again, rejoin without any socket
 * getting a cast twice from the PUBLISHes that waited in the frozen Redis.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

describe(`a Redis that stops answering, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('delivers locally within the deadline, says degraded, and rejoins once Redis answers, each cast once', async () => {
    const redis = await startRedis();
    const { port } = redis;
    const config = { hosts: { 'c.test': { app: APP, build: false, channels: { 'room:*': { history: { size: 50, ttl: 60 } } } } }, cluster: { redis: `redis://127.0.0.1:${port}`, node: 'n1', heartbeat: 0.2, ttl: 1.5, deadline: 1 } };
    const node = await startServer({ config });
    try {
      type Answer = { sent?: number; nodes?: { answered: string[]; missing: string[]; degraded?: string } };
      const cast = async (data: string) => (await (await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'all', data }) })).json()) as Answer;
      const health = async () => (await (await fetch(`${node.url}/health`)).json()) as { status: string; reason?: string };
      await waitFor('the node in the cluster', async () => (await cast('probe')).nodes?.answered.includes('n1'));
      const client = await connect(node.port, { host: 'c.test', token: 'ann' });
      assert.deepEqual((await cast('before')).nodes, { answered: ['n1'], missing: [] });
      assert.equal(await client.next(), '"before"');

      redis.child.kill('SIGSTOP');
      const frozen = await cast('frozen');
      assert.equal(frozen.sent, 1, `the node's own socket gets it though Redis hangs: ${JSON.stringify(frozen)}`);
      assert.match(String(frozen.nodes?.degraded), /did not answer within 500 ms/);
      assert.equal(await client.next(), '"frozen"');
      const h = await waitFor('/health degraded', async () => {
        const now = await health();
        return now.status === 'degraded' ? now : undefined;
      });
      assert.match(String(h.reason), /Redis unreachable: .*did not answer within 500 ms/);
      await node.waitForLog(/cluster degraded node=n1/);
      const alone = await cast('alone');
      assert.equal(alone.sent, 1);
      assert.match(String(alone.nodes?.degraded), /Redis/);
      assert.equal(await client.next(), '"alone"');

      redis.child.kill('SIGCONT');
      const back = await waitFor('the node back in the cluster', async () => {
        const answer = await cast('after');
        return answer.nodes && !answer.nodes.degraded ? answer : undefined;
      });
      assert.deepEqual(back, { status: 'ok', host: 'c.test', sent: 1, nodes: { answered: ['n1'], missing: [] } } as Answer & { status: string; host: string });
      await waitFor('the cast after', () => client.received.at(-1) === '"after"');
      // Casts tried while the node was still coming back went out alone too; none came twice.
      const received = client.received.filter((text) => text !== '"after"');
      assert.deepEqual(received, ['"before"', '"frozen"', '"alone"'], 'the PUBLISHes that waited in the frozen Redis reach no socket again');
      assert.equal(client.received.filter((text) => text === '"after"').length >= 1, true);
      client.ws.terminate();
    } finally {
      redis.child.kill('SIGCONT');
      await node.stop();
      await redis.stop();
    }
  });

  it('notices within redisTimeout, however long the deadline', async () => {
    const redis = await startRedis();
    // A deadline of 5 s would make the old half-deadline timeout 2.5 s: the node must say so after 0.5 s.
    const config = { hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${redis.port}`, node: 'n1', heartbeat: 0.2, ttl: 1.5, deadline: 5, redisTimeout: 0.5 } };
    const node = await startServer({ config });
    try {
      type Answer = { sent?: number; nodes?: { answered: string[]; missing: string[]; degraded?: string } };
      const cast = async (data: string) => (await (await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'all', data }) })).json()) as Answer;
      await waitFor('the node in the cluster', async () => {
        const { nodes } = await cast('probe');
        return nodes?.answered.includes('n1') && !nodes.degraded;
      });

      redis.child.kill('SIGSTOP');
      const started = performance.now();
      const frozen = await cast('frozen');
      const took = performance.now() - started;
      assert.match(String(frozen.nodes?.degraded), / within 500 ms/, JSON.stringify(frozen));
      assert.ok(took < 2000, `answered after ${Math.round(took)} ms, not within the 2.5 s half the deadline would take`);
      await node.waitForLog(/cluster degraded node=n1 .*did not answer within 500 ms/, 2000);
    } finally {
      redis.child.kill('SIGCONT');
      await node.stop();
      await redis.stop();
    }
  });
});
