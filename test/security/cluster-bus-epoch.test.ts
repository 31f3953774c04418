/**
 * A stream's epoch key in Redis is read back into the bus message the
 * numbering script builds. A value wsgate never writes there (a `"`, by a
 * client of the Redis or a foreign program sharing its keys) must not make
 * that message unreadable, which silently lost every cast to the channel on
 * every node, this one too: the stream starts again under a fresh epoch, and
 * the node says so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectAware } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import { Redis } from 'ioredis';

const skip = targetAvailable() ?? redisMissing;

describe(`a stream epoch in Redis that wsgate did not write, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('is replaced by a fresh one, logged, and the casts to the channel still arrive', async () => {
    const redis = await startRedis();
    const { port } = redis;
    const writer = new Redis(port, '127.0.0.1');
    const config = { hosts: { 'c.test': { app: APP, build: false, channels: { 'room:*': { history: { size: 50, ttl: 60 } } } } }, cluster: { redis: `redis://127.0.0.1:${port}`, node: 'n1', heartbeat: 0.2, ttl: 1.5, deadline: 1 } };
    const node = await startServer({ config });
    try {
      const cast = async (data: string) => (await (await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'channel:room:1', data }) })).json()) as { nodes?: { answered: string[] } };
      const history = async () => (await (await fetch(`${node.url}/history?host=c.test&channel=room:1`)).json()) as { epoch?: string; publications?: Array<{ data: unknown }> };
      await waitFor('the node in the cluster', async () => (await cast('probe')).nodes?.answered.includes('n1'));
      await waitFor('the probe in the history', async () => (await history()).publications?.some((p) => p.data === 'probe'));
      const keys = await writer.keys('*:epoch');
      assert.equal(keys.length, 1, JSON.stringify(keys));
      const poisoned = 'bad"epoch\\';
      await writer.set(keys[0]!, poisoned);
      await cast('after');
      const read = await waitFor('the cast after the poisoned epoch in the history', async () => {
        const got = await history();
        return got.publications?.some((p) => p.data === 'after') && got;
      }, 5000);
      assert.notEqual(read.epoch, poisoned);
      assert.match(await writer.get(keys[0]!) ?? '', /^[A-Za-z0-9_-]+$/);
      await node.waitForLog(/stream epoch .*replaced/);
    } finally {
      writer.disconnect();
      await node.stop('SIGKILL');
      await redis.stop();
    }
  });

  it("a cast on the bus whose position's epoch is not one wsgate makes is ignored, not written into clients' frames", async () => {
    const redis = await startRedis();
    const { port } = redis;
    const writer = new Redis(port, '127.0.0.1');
    const config = { hosts: { 'c.test': { app: APP, build: false, clientChannels: true, channels: { 'room:*': { history: { size: 50, ttl: 60 } } } } }, cluster: { redis: `redis://127.0.0.1:${port}`, node: 'n1', heartbeat: 0.2, ttl: 1.5, deadline: 1 } };
    const node = await startServer({ config });
    try {
      const cast = async (data: string) => (await (await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'channel:room:3', data }) })).json()) as { nodes?: { answered: string[] } };
      await waitFor('the node in the cluster', async () => (await cast('probe')).nodes?.answered.includes('n1'));
      const { c } = await connectAware(node.port, { host: 'c.test', token: 't' });
      c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'room:3' }));
      await waitFor('subscribed', () => c.received.some((frame) => frame.includes('"subscribed"')));
      const injected = 'x","data":"injected","y":"';
      await writer.publish('wsgate:bus', JSON.stringify({ id: '', from: 'intruder', request: { t: 'cast', host: 'c.test', selection: { kind: 'channel', channel: 'room:3' }, frame: '"forged"', position: { epoch: injected, offset: 99 } } }));
      await cast('marker');
      await waitFor('the marker', () => c.received.some((frame) => frame.includes('marker')), 5000);
      for (const frame of c.received) assert.doesNotThrow(() => JSON.parse(frame), frame);
      assert.ok(!c.received.some((frame) => frame.includes('forged')), JSON.stringify(c.received));
      assert.match(await node.waitForLog(/cluster message ignored/, 3000), /epoch/);
      c.ws.terminate();
    } finally {
      writer.disconnect();
      await node.stop('SIGKILL');
      await redis.stop();
    }
  });
});
