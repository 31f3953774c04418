/**
 * A PUBLISH that Redis carried out but whose reply the node never got (its
 * command connection dropped in between, as on a Sentinel failover, where
 * ioredis drops the old master's connections itself). The node's own copy
 * may come back on its subscriber before the failure is known or after it.
 * Either way, what the node sent is applied on it once: a bridge request
 * (request()), a numbered cast from a hook (send()) and a hook's cast it
 * delivered already and keeps for replay (notify() with echo).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from '../../src/cluster/cluster.ts';
import type { RedisLink } from '../../src/cluster/redis.ts';
import type { ClusterRequest } from '../../src/cluster/messages.ts';
import { createLogger } from '../../src/ops/log.ts';

/**
 * When the publisher learns that its PUBLISH failed: not at all, before its copy reaches the subscribers, or after;
 * `past deadline`: only once the request's deadline is over (a Redis that hung, then failed over), its copy after that.
 */
type Loss = false | 'before copy' | 'after copy' | 'past deadline';

/** Longer than the test nodes' deadline (deadlineMs below). */
const PAST_DEADLINE_MS = 150;

/** One Redis in memory: a PUBLISH reaches the subscribers a turn later; `loss` says whether and when the publisher is told it failed. */
function memoryLink(node: string, others: string[] = []) {
  const subscribers: Array<(channel: string, message: string) => void> = [];
  let state: ((state: 'up' | 'down', reason?: string) => void) | undefined;
  let delivered: { pattern: RegExp; resolve: () => void } | undefined;
  const control = {
    loss: false as Loss,
    /** Resolves once a PUBLISH matching `pattern` has reached the subscribers. */
    delivery: (pattern: RegExp) => new Promise<void>((resolve) => (delivered = { pattern, resolve })),
    up: () => state?.('up'),
    /** Every PUBLISH's reply as the publisher gets it, so a test can wait for them to settle. */
    replies: [] as Promise<unknown>[],
  };
  function carry<T>(message: string, reply: T): Promise<T> {
    const loss = control.loss;
    const copy = () =>
      new Promise<void>((resolve) =>
        setImmediate(() => {
          for (const subscriber of subscribers) subscriber('t:bus', message);
          if (delivered?.pattern.test(message)) delivered.resolve();
          resolve();
        }),
      );
    if (loss === 'past deadline') {
      const told = new Promise<T>((_resolve, reject) => setTimeout(() => reject(new Error('Connection is closed.')), PAST_DEADLINE_MS));
      void told.catch(copy);
      control.replies.push(told);
      return told;
    }
    const copied = copy();
    const lost = () => Promise.reject(new Error('Connection is closed.'));
    const told = loss === 'before copy' ? lost() : loss === 'after copy' ? copied.then(lost) : Promise.resolve(reply);
    control.replies.push(told);
    return told;
  }
  const link: RedisLink = {
    publish: (_channel, message) => carry(message, undefined),
    publishNumbered: (_stream, _frame, _channel, head, tail) => carry(`${head}{"epoch":"e","offset":1}${tail}`, { epoch: 'e', offset: 1 }),
    async subscribe(_channels, onMessage) {
      subscribers.push(onMessage);
    },
    heartbeat: async () => ({ nodes: [node, ...others], added: false }),
    leave: async () => {},
    isNode: async (_key, name) => name === node || others.includes(name),
    readStream: () => Promise.reject(new Error('not used here')),
    onState: (listener) => void (state = listener),
    close: async () => {},
  };
  return { link, control };
}

const cast: ClusterRequest = { t: 'cast', host: 'h', selection: { kind: 'all' }, frame: '"hi"' };

/** A node alone in its cluster (or with `others` that never answer), joined; `applied` lists what the bus made it apply, with whether as its echo. */
async function joinedNode(options: { others?: string[]; deadlineMs?: number } = {}) {
  const { link, control } = memoryLink('a', options.others);
  const applied: Array<{ request: ClusterRequest; echo: boolean }> = [];
  const settings = { node: 'a', prefix: 't:', heartbeatMs: 60_000, ttlMs: 180_000, deadlineMs: options.deadlineMs ?? 100 };
  const cluster = new Cluster(link, settings, createLogger(() => {}), (request, _own, echo = false) => {
    applied.push({ request, echo });
    return 1;
  });
  // Ready once it has told the others it is here.
  const joined = control.delivery(/"t":"joining"/);
  cluster.start();
  control.up();
  await joined;
  return { cluster, control, applied };
}

/** Waits until the copy has come back and every PUBLISH has settled, and what either set off has run. */
async function bothIn(control: { replies: Promise<unknown>[] }, back: Promise<void>): Promise<void> {
  await back;
  await Promise.allSettled(control.replies);
  await new Promise((resolve) => setImmediate(resolve));
}

for (const loss of ['before copy', 'after copy'] as const) {
  describe(`a PUBLISH whose reply was lost, its failure told ${loss}`, () => {
    it('a bridge request is applied on this node once', async () => {
      const { cluster, control, applied } = await joinedNode();
      try {
        control.loss = loss;
        const back = control.delivery(/"t":"cast"/);
        const gathered = await cluster.request(cast);
        await bothIn(control, back);
        assert.equal(applied.length, 1, 'applied once, here alone or on its copy');
        if (loss === 'before copy') assert.match(gathered.degraded ?? '', /Redis publish failed/);
        else assert.deepEqual([...gathered.results.keys()], ['a'], 'its own copy answered');
      } finally {
        await cluster.stop();
      }
    });

    it('a numbered cast sent by a hook is delivered on this node once', async () => {
      const { cluster, control, applied } = await joinedNode();
      try {
        control.loss = loss;
        const back = control.delivery(/"t":"cast"/);
        let deliveredAlone = 0;
        assert.equal(cluster.send(cast, { key: 'k', epoch: 'e', size: 10, expireMs: 1000 }, () => deliveredAlone++), true);
        await bothIn(control, back);
        assert.equal(applied.length + deliveredAlone, 1, `delivered once (on its copy ${applied.length}, alone ${deliveredAlone})`);
      } finally {
        await cluster.stop();
      }
    });

    it('a hook cast delivered already is kept for replay once', async () => {
      const { cluster, control, applied } = await joinedNode();
      try {
        control.loss = loss;
        const back = control.delivery(/"t":"cast"/);
        let keptAlone = 0;
        assert.equal(cluster.notify(cast, { failed: () => keptAlone++ }), true);
        await bothIn(control, back);
        const echoes = applied.filter((entry) => entry.echo).length;
        assert.equal(applied.length, echoes, 'only as an echo');
        assert.equal(echoes + keptAlone, 1, `kept once (on its echo ${echoes}, alone ${keptAlone})`);
      } finally {
        await cluster.stop();
      }
    });
  });
}

describe('a bridge request whose PUBLISH failure is told only after its deadline, its copy after that', () => {
  it('is applied on this node once: Redis carried it out, so on its copy', async () => {
    const { cluster, control, applied } = await joinedNode();
    try {
      control.loss = 'past deadline';
      const back = control.delivery(/"t":"cast"/);
      const gathered = await cluster.request(cast);
      assert.deepEqual(gathered.missing, ['a'], 'no answer within the deadline');
      await bothIn(control, back);
      assert.equal(applied.length, 1, 'applied once, on its copy (the other nodes applied theirs)');
    } finally {
      await cluster.stop();
    }
  });
});

describe('a bridge request whose own copy came back before its PUBLISH failed', () => {
  it('stops waiting for the other nodes then, as their answers would come through the Redis that failed', { timeout: 10_000 }, async () => {
    // A deadline the test's timeout is far below: waiting for it fails the test.
    const { cluster, control, applied } = await joinedNode({ others: ['b'], deadlineMs: 60_000 });
    try {
      control.loss = 'after copy';
      const gathered = await cluster.request(cast);
      assert.deepEqual([...gathered.results.keys()], ['a'], 'its own copy answered');
      assert.deepEqual(gathered.missing, ['b']);
      assert.equal(applied.length, 1);
    } finally {
      await cluster.stop();
    }
  });
});
