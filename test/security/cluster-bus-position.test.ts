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
import { historyOf, sendThrough, startStreamNode } from '../support/bus-cluster.ts';
import { TARGET, targetAvailable } from '../support/server.ts';
import { redisMissing } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

describe(`a cast on the bus with a position no Redis gives, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('is ignored and logged, and the stream it named still answers', async () => {
    const { node, forge: publish, stop } = await startStreamNode('room:1');
    try {
      const forge = (offset: number) => publish({ t: 'cast', host: 'c.test', selection: { kind: 'channel', channel: 'room:1' }, frame: '"forged"', position: { epoch: 'forged', offset } });
      await forge(2 ** 53 + 2);
      // After the forged message on the bus, so taken once that is.
      await sendThrough(node, 'channel:room:2', 'marker');
      const read = await Promise.race([historyOf(node, 'room:1'), new Promise<undefined>((resolve) => setTimeout(resolve, 5000, undefined))]);
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
      await stop();
    }
  });
});
