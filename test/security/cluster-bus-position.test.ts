/**
 * The Redis bus is a boundary: whoever can PUBLISH on it (a hostile client of
 * the Redis, a corrupt or foreign node) must not take a node down. A cast's
 * position is a stream offset Redis counted with INCR: a whole number from 1.
 * One past 2^53 cannot be counted on by one (offset + 1 === offset), and
 * a node that kept it looped for good, filling memory, the next time anyone
 * read that stream's history.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import { Redis } from 'ioredis';

const skip = targetAvailable() ?? redisMissing;

describe(`a cast on the bus with a position no Redis gives, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('is ignored and logged, and the stream it named still answers', async () => {
    const redis = await startRedis();
    const { port } = redis;
    const writer = new Redis(port, '127.0.0.1');
    const config = { hosts: { 'c.test': { app: APP, build: false, channels: { 'room:*': { history: { size: 50, ttl: 60 } } } } }, cluster: { redis: `redis://127.0.0.1:${port}`, node: 'n1', heartbeat: 0.2, ttl: 1.5, deadline: 1 } };
    const node = await startServer({ config });
    try {
      const cast = async (data: string) => (await (await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'channel:room:1', data }) })).json()) as { nodes?: { answered: string[] } };
      await waitFor('the node in the cluster', async () => (await cast('probe')).nodes?.answered.includes('n1'));
      const forge = (offset: number) => writer.publish('wsgate:bus', JSON.stringify({ id: '', from: 'intruder', request: { t: 'cast', host: 'c.test', selection: { kind: 'channel', channel: 'room:1' }, frame: '"forged"', position: { epoch: 'forged', offset } } }));
      await forge(2 ** 53 + 2);
      // After the forged message on the bus, so taken once that is.
      await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'channel:room:2', data: 'marker' }) });
      const read = await Promise.race([
        fetch(`${node.url}/history?host=c.test&channel=room:1`).then(async (res) => (await res.json()) as { epoch?: string; publications?: Array<{ data: unknown }> }),
        new Promise<undefined>((resolve) => setTimeout(resolve, 5000, undefined)),
      ]);
      assert.ok(read, 'the node answers its history within 5 s');
      assert.notEqual(read.epoch, 'forged');
      assert.ok(read.publications?.length && read.publications.every((p) => p.data === 'probe'), JSON.stringify(read));
      assert.match(await node.waitForLog(/cluster message ignored/), /offset/);
      for (const offset of [1.5, -3, 0]) {
        node.logs.length = 0;
        await forge(offset);
        assert.match(await node.waitForLog(/cluster message ignored/), /offset/);
      }
    } finally {
      writer.disconnect();
      await node.stop('SIGKILL');
      await redis.stop();
    }
  });
});
