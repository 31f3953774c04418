/**
 * A client that resumes names the epoch it stopped in; on a node whose copy
 * cannot fill the gap, that costs a read of Redis. Every epoch wsgate gives
 * is 8 base64url characters: one of any other shape cannot be real, and is
 * answered "not recovered" with no read (a client could otherwise make a
 * Redis read per subscribe, bounded only by the frame rate).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectAware } from '../support/client.ts';
import type { WsgateFrame } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import { Redis } from 'ioredis';

const skip = targetAvailable() ?? redisMissing;
const HISTORY = { size: 20, ttl: 60 };

describe(`a resume from an epoch no node could have given, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('is answered "not recovered" without reading Redis; a real epoch is still read', async () => {
    const redis = await startRedis();
    const { port } = redis;
    const probe = new Redis(port, '127.0.0.1');
    const config = { hosts: { 'c.test': { app: APP, build: false, clientChannels: true, history: HISTORY, channels: { 'room:*': { history: HISTORY } } } }, cluster: { redis: `redis://127.0.0.1:${port}`, node: 'n1', heartbeat: 0.2, ttl: 1.5, deadline: 1 } };
    const node = await startServer({ config });
    /** XRANGE calls so far: what a read of a stream's entries costs. */
    const reads = async () => Number(/cmdstat_xrange:calls=(\d+)/.exec(await probe.info('commandstats'))?.[1] ?? 0);
    try {
      const cast = async (channel: string, data: string) => (await (await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: `channel:${channel}`, data }) })).json()) as { nodes?: { answered: string[] } };
      await waitFor('the node in the cluster', async () => (await cast('room:0', 'probe')).nodes?.answered.includes('n1'));
      const { c } = await connectAware(node.port, { host: 'c.test', token: 't' });
      const subscribe = async (channel: string, since: { epoch: string; offset: number }) => {
        c.send(JSON.stringify({ wsgate: 'subscribe', channel, since }));
        for (;;) {
          const frame = JSON.parse(await c.next()) as WsgateFrame & { ok?: boolean };
          if (frame.wsgate === 'subscribed' && frame.channel === channel) return frame;
        }
      };
      const before = await reads();
      for (const [i, epoch] of ['made-up-epoch-of-any-length', 'x"y', ''].entries()) {
        const answer = await subscribe(`room:fake${i}`, { epoch, offset: 5 });
        assert.deepEqual([answer.ok, answer.recovered], [true, false], JSON.stringify(answer));
      }
      assert.equal((await reads()) - before, 0, 'no read of Redis for an epoch that cannot be real');
      // Of the right shape, an epoch may be one this node never saw: that is still asked of Redis.
      const shaped = await subscribe('room:shaped', { epoch: 'AbCd-_12', offset: 5 });
      assert.equal(shaped.recovered, false);
      assert.equal((await reads()) - before, 1);
      c.ws.terminate();
    } finally {
      probe.disconnect();
      await node.stop('SIGKILL');
      await redis.stop();
    }
  });
});
