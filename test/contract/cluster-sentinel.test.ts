/**
 * Cluster mode over Redis Sentinel: two wsgate nodes find the master through
 * a sentinel (`redis+sentinel://...`), cast with exact counts, and keep
 * casting through a failover. While the master moves, every answer is exact
 * or says which nodes did not answer; no socket gets a cast twice; once the
 * sentinel has switched, both nodes are on the new master and counts are
 * exact again. Skipped when redis-server is missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { join } from 'node:path';
import { ROOT, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';
import { redisMissing } from '../support/redis.ts';
import { startSentinelGroup } from '../support/redis-sentinel.ts';
import type { SentinelGroup } from '../support/redis-sentinel.ts';

const skip = targetAvailable() ?? redisMissing;

type Answer = { sent?: number; nodes?: { answered: string[]; missing: string[]; degraded?: string } };

describe(`cluster over Redis Sentinel on ${TARGET}`, { skip, timeout: 120_000 }, () => {
  let group: SentinelGroup;
  const nodes: Started[] = [];
  const clients: Client[] = [];

  before(async () => {
    group = await startSentinelGroup();
    // A ttl well above a loaded machine's stalls, so that no node is taken for gone (no test waits for a drop).
    // The deadline is 2 s, for a loaded machine's stalls: redisTimeout keeps Redis's commands at 0.5 s, so a node
    // notices a dead master as soon as with a 1 s deadline. Not longer: during the failover a cast that misses a node
    // waits the whole deadline.
    for (const name of ['n1', 'n2']) {
      nodes.push(await startServer({ config: { hosts: { 's.test': { module: join(ROOT, 'test', 'fixtures', 'hooks.ts') } }, cluster: { redis: group.url, node: name, heartbeat: 0.2, ttl: 5, deadline: 2, redisTimeout: 0.5 } } }));
    }
    for (const node of nodes) await waitFor(`${node.url} knows both nodes`, async () => ((await health(node)).cluster?.live.length === 2 ? true : undefined));
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const node of nodes) await node.stop();
    await group?.stop();
  });

  const health = async (node: Started) => (await (await fetch(`${node.url}/health`)).json()) as { cluster?: { live: string[] } };
  const cast = async (node: Started, data: unknown) => {
    const res = await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 's.test', target: 'all', data }) });
    return (await res.json()) as Answer;
  };
  const exact = (answer: Answer) => answer.sent === 2 && answer.nodes?.missing.length === 0 && !answer.nodes.degraded;

  it('finds the master through the sentinel and casts to both nodes with the exact sum', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const a = await connect(n1.port, { host: 's.test', token: 'a' });
    const b = await connect(n2.port, { host: 's.test', token: 'b' });
    clients.push(a, b);
    const answer = await cast(n1, 'hello');
    assert.equal(exact(answer), true, JSON.stringify(answer));
    assert.equal(await a.next(), '"hello"');
    assert.equal(await b.next(), '"hello"');
    // The log names the sentinel URL it was given.
    await n1.waitForLog(/ cluster node=n1 redis=redis\+sentinel:\/\/127\.0\.0\.1:\d+\/mymaster$/);
  });

  it('keeps casting through a failover: each answer exact or saying who is missing, no cast twice, exact again once switched', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const [a, b] = clients as [Client, Client];
    const before = group.masterPort();
    const got = { a: [] as string[], b: [] as string[] };
    a.ws.on('message', (data) => got.a.push(String(data)));
    b.ws.on('message', (data) => got.b.push(String(data)));
    const answers: Answer[] = [];
    let n = 0;
    let switched = false;
    const failover = group.failover().then(() => (switched = true));
    // Casts flow, alternating nodes, until the switch and a while after.
    let after = 0;
    while (!switched || after++ < 20) {
      answers.push(await cast(n % 2 === 0 ? n1 : n2, `c${n}`));
      n++;
    }
    await failover;
    assert.notEqual(group.masterPort(), before, 'the replica is the master now');
    for (const answer of answers) {
      const reported = answer.nodes && (answer.nodes.missing.length > 0 || answer.nodes.degraded !== undefined);
      assert.ok(exact(answer) || (reported && answer.sent !== undefined && answer.sent <= 2), `exact, or says who did not answer: ${JSON.stringify(answer)}`);
    }
    // Both nodes move to the new master: casts are exact again.
    let last: Answer = {};
    await waitFor('exact casts after the failover', async () => {
      last = await cast(n1, `after${n++}`);
      return exact(last) && exact(await cast(n2, `after${n++}`)) ? true : undefined;
    }, 30_000);
    for (const [name, frames] of Object.entries(got)) {
      assert.equal(new Set(frames).size, frames.length, `${name} got no cast twice`);
    }
    assert.ok(answers.length > 20);
  });
});
