/**
 * A bridge request whose PUBLISH Redis carried out but whose reply the node
 * never got (its command connection dropped in between, as on a Sentinel
 * failover, where ioredis drops the old master's connections itself): the
 * node applies it here alone, and the copy the bus still brings back to its
 * subscriber must not be applied a second time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from '../../src/cluster/cluster.ts';
import type { RedisLink } from '../../src/cluster/redis.ts';
import type { ClusterRequest } from '../../src/cluster/messages.ts';
import { createLogger } from '../../src/ops/log.ts';

/** One Redis in memory: a PUBLISH reaches the subscribers a turn later; with `replyLost`, the publisher is told it failed first. */
function memoryLink(node: string) {
  const subscribers: Array<(channel: string, message: string) => void> = [];
  let state: ((state: 'up' | 'down', reason?: string) => void) | undefined;
  let delivered: { pattern: RegExp; resolve: () => void } | undefined;
  const control = {
    replyLost: false,
    /** Resolves once a PUBLISH matching `pattern` has reached the subscribers. */
    delivery: (pattern: RegExp) => new Promise<void>((resolve) => (delivered = { pattern, resolve })),
    up: () => state?.('up'),
  };
  const link: RedisLink = {
    publish(channel, message) {
      setImmediate(() => {
        for (const subscriber of subscribers) subscriber(channel, message);
        if (delivered?.pattern.test(message)) delivered.resolve();
      });
      return control.replyLost ? Promise.reject(new Error('Connection is closed.')) : Promise.resolve();
    },
    async subscribe(_channels, onMessage) {
      subscribers.push(onMessage);
    },
    heartbeat: async () => ({ nodes: [node], added: false }),
    leave: async () => {},
    publishNumbered: () => Promise.reject(new Error('not used here')),
    readStream: () => Promise.reject(new Error('not used here')),
    onState: (listener) => void (state = listener),
    close: async () => {},
  };
  return { link, control };
}

describe('a bridge request whose PUBLISH lost its reply', () => {
  it('is applied on this node once, not again when its own copy comes back', async () => {
    const { link, control } = memoryLink('a');
    const applied: ClusterRequest[] = [];
    const cluster = new Cluster(link, { node: 'a', prefix: 't:', heartbeatMs: 60_000, ttlMs: 180_000, deadlineMs: 1000 }, createLogger(() => {}), (request) => {
      applied.push(request);
      return 1;
    });
    // Ready once it has told the others it is here.
    const joined = control.delivery(/"t":"joining"/);
    cluster.start();
    control.up();
    await joined;
    const cast: ClusterRequest = { t: 'cast', host: 'h', selection: { kind: 'all' }, frame: '"hi"' };
    try {
      control.replyLost = true;
      const back = control.delivery(/"t":"cast"/);
      const gathered = await cluster.request(cast);
      assert.match(gathered.degraded ?? '', /Redis publish failed/);
      assert.equal(applied.length, 1, 'applied here alone');
      await back;
      assert.equal(applied.length, 1, 'the copy the bus brought back is not applied again');
    } finally {
      await cluster.stop();
    }
  });
});
