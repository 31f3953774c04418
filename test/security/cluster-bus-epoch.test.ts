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
import { historyOf, sendThrough, startStreamNode } from '../support/bus-cluster.ts';
import { TARGET, targetAvailable } from '../support/server.ts';
import { redisMissing } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

describe(`a stream epoch in Redis that wsgate did not write, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('is replaced by a fresh one, logged, and the casts to the channel still arrive', async () => {
    const { node, writer, stop } = await startStreamNode('room:1');
    try {
      await waitFor('the probe in the history', async () => (await historyOf(node, 'room:1')).publications?.some((p) => p.data === 'probe'));
      const keys = await writer.keys('*:epoch');
      assert.equal(keys.length, 1, JSON.stringify(keys));
      const poisoned = 'bad"epoch\\';
      await writer.set(keys[0]!, poisoned);
      await sendThrough(node, 'channel:room:1', 'after');
      const read = await waitFor('the cast after the poisoned epoch in the history', async () => {
        const got = await historyOf(node, 'room:1');
        return got.publications?.some((p) => p.data === 'after') && got;
      }, 5000);
      assert.notEqual(read.epoch, poisoned);
      assert.match(await writer.get(keys[0]!) ?? '', /^[A-Za-z0-9_-]+$/);
      await node.waitForLog(/stream epoch .*replaced/);
    } finally {
      await stop();
    }
  });

  it("a cast on the bus whose position's epoch is not one wsgate makes is ignored, not written into clients' frames", async () => {
    const { node, forge, stop } = await startStreamNode('room:3', { clientChannels: true });
    try {
      const { c } = await connectAware(node.port, { host: 'c.test', token: 't' });
      c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'room:3' }));
      await waitFor('subscribed', () => c.received.some((frame) => frame.includes('"subscribed"')));
      const injected = 'x","data":"injected","y":"';
      await forge({ t: 'cast', host: 'c.test', selection: { kind: 'channel', channel: 'room:3' }, frame: '"forged"', position: { epoch: injected, offset: 99 } });
      await sendThrough(node, 'channel:room:3', 'marker');
      await waitFor('the marker', () => c.received.some((frame) => frame.includes('marker')), 5000);
      for (const frame of c.received) assert.doesNotThrow(() => JSON.parse(frame), frame);
      assert.ok(!c.received.some((frame) => frame.includes('forged')), JSON.stringify(c.received));
      assert.match(await node.waitForLog(/cluster message ignored/), /epoch/);
      c.ws.terminate();
    } finally {
      await stop();
    }
  });
});
