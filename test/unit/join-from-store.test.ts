// A client's own subscribe that resumes from the cluster's shared store
// (Recovery.joinFromStore): the socket joins once the store's read is in. The
// frames the client sent after it must find it joined, as they would on a
// node alone.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startCore } from '../support/core.ts';
import type { Core } from '../support/core.ts';
import { FakeSocket } from '../support/core.ts';
import { Client } from '../../src/core/client.ts';
import { AWARE } from '../../src/protocols/wsgate/protocol.ts';
import { MemoryBroker } from '../../src/core/memory-broker.ts';
import type { Broker } from '../../src/core/broker.ts';
import type { StoredStream } from '../../src/core/history/history.ts';

/** Of the shape newEpoch() gives: the gateway asks the store only about epochs that could be real. */
const REDIS_EPOCH = 'redis-01';

/** A node among others whose shared store answers when the test says. */
class SlowStoreBroker extends MemoryBroker implements Broker {
  readonly reads: Array<(stored: StoredStream | undefined) => void> = [];
  constructor() {
    super();
    // MemoryBroker's `shared` is a field of each instance, false.
    Object.defineProperty(this, 'shared', { value: true });
  }
  override readStream(): Promise<StoredStream | undefined> {
    return new Promise((resolve) => this.reads.push(resolve));
  }
  answerAll(): void {
    for (const resolve of this.reads.splice(0)) resolve({ epoch: REDIS_EPOCH, offset: 0, entries: [] });
  }
}

const HOST = { module: '/tmp/hooks.ts', clientChannels: true, channels: { 'room:*': { history: { size: 10, ttl: 60 } } } };
const since = { epoch: REDIS_EPOCH, offset: 0 };

describe('a subscribe resuming from the shared store', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('is done before the client\'s next frame: an unsubscribe right after it leaves the socket out of the channel', async () => {
    const broker = new SlowStoreBroker();
    core = startCore({ hosts: { 'a.test': HOST } }, { 'a.test': { subscribe: () => true } }, broker);
    const s = await core.connect('a.test', 'ann', { aware: true });
    s.take();
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'room:1', since }));
    core.send(s, JSON.stringify({ wsgate: 'unsubscribe', channel: 'room:1' }));
    await core.settle();
    broker.answerAll();
    await core.settle();
    const frames = s.take() as Array<{ wsgate: string }>;
    assert.deepEqual(frames.map((frame) => frame.wsgate), ['subscribed', 'unsubscribed']);
    assert.equal(s.client.channels?.has('room:1') ?? false, false, 'out of the channel it unsubscribed from');
  });

  it('counts toward channelsPerSocket for the subscribes that follow it', async () => {
    const broker = new SlowStoreBroker();
    core = startCore({ limits: { channelsPerSocket: 2 }, hosts: { 'a.test': HOST } }, { 'a.test': { subscribe: () => true } }, broker);
    const s = await core.connect('a.test', 'ann', { aware: true });
    s.take();
    for (let i = 1; i <= 5; i++) core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: `room:${i}`, since }));
    // Each read is answered as it comes, as a quick Redis would.
    for (let i = 0; i < 10; i++) {
      await core.settle();
      broker.answerAll();
    }
    await core.settle();
    assert.equal(s.client.channels?.size, 2, 'in at most channelsPerSocket channels');
  });

  it('of a channel the upgrade joins: "ready" comes after its "joined" and what it missed', async () => {
    const broker = new SlowStoreBroker();
    core = startCore({ paths: { '/ws/rooms/{room}': { channels: ['room:{room}'] } }, hosts: { 'a.test': { ...HOST, clientChannels: false } } }, { 'a.test': {} }, broker);
    const gateway = core.gateway;
    const admitted = gateway.admit('a.test', 'ann');
    assert.ok('ticket' in admitted);
    const recover = new Map([['room:1', since]]);
    const authorized = await gateway.authorize('a.test', 'ann', gateway.upgradePath('/ws/rooms/1'), { protocol: AWARE, recover });
    admitted.ticket.release();
    assert.ok(!('status' in authorized));
    const s = new FakeSocket();
    s.client = new Client(authorized);
    gateway.open(s.client, s);
    await core.settle();
    for (const resolve of broker.reads.splice(0)) resolve({ epoch: REDIS_EPOCH, offset: 2, entries: [{ offset: 1, frame: '"a"' }, { offset: 2, frame: '"b"' }] });
    await core.settle();
    const frames = (s.take() as Array<{ wsgate: string; channel?: string; offset?: number }>).map((f) => `${f.wsgate} ${f.channel ?? ''} ${f.offset ?? ''}`.trim());
    assert.deepEqual(frames, ['joined room:1 2', 'pub room:1 1', 'pub room:1 2', `ready`]);
  });
});

describe('two joins of one socket waiting for the same channel\'s read', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('do not end the wait of another socket that resumes the channel: it still gets what was cast meanwhile', async () => {
    const broker = new SlowStoreBroker();
    core = startCore({ paths: { '/ws/rooms/{room}': { channels: ['room:{room}'] } }, hosts: { 'a.test': HOST } }, { 'a.test': { subscribe: () => true } }, broker);
    const gateway = core.gateway;
    const admitted = gateway.admit('a.test', 'eve');
    assert.ok('ticket' in admitted);
    const authorized = await gateway.authorize('a.test', 'eve', gateway.upgradePath('/ws/rooms/1'), { protocol: AWARE, recover: new Map([['room:1', since]]) });
    admitted.ticket.release();
    assert.ok(!('status' in authorized));
    const eve = new FakeSocket();
    eve.client = new Client(authorized);
    // The path's join waits for its read; her own subscribe of the same channel waits for a second one.
    gateway.open(eve.client, eve);
    core.send(eve, JSON.stringify({ wsgate: 'subscribe', channel: 'room:1', since }));
    await core.settle();
    assert.equal(broker.reads.length, 2);
    const [pathRead, subscribeRead] = broker.reads.splice(0);
    pathRead!({ epoch: REDIS_EPOCH, offset: 0, entries: [] });
    await core.settle();
    const ann = await core.connect('a.test', 'ann', { aware: true });
    ann.take();
    core.send(ann, JSON.stringify({ wsgate: 'subscribe', channel: 'room:1', since }));
    await core.settle();
    assert.equal(broker.reads.length, 1, "ann's read");
    subscribeRead!({ epoch: REDIS_EPOCH, offset: 0, entries: [] });
    await core.settle();
    gateway.cast('a.test', { kind: 'channel', channel: 'room:1' }, 'meanwhile', undefined);
    broker.reads.splice(0)[0]!({ epoch: REDIS_EPOCH, offset: 0, entries: [] });
    await core.settle();
    const frames = ann.take() as Array<{ wsgate: string; data?: unknown; recovered?: boolean }>;
    assert.deepEqual(frames.map((f) => [f.wsgate, f.data ?? f.recovered]), [['subscribed', true], ['pub', 'meanwhile']]);
  });

  it('each give what was cast while they waited', async () => {
    const broker = new SlowStoreBroker();
    core = startCore({ paths: { '/ws/rooms/{room}': { channels: ['room:{room}'] } }, hosts: { 'a.test': HOST } }, { 'a.test': { subscribe: () => true } }, broker);
    const gateway = core.gateway;
    const admitted = gateway.admit('a.test', 'ann');
    assert.ok('ticket' in admitted);
    const authorized = await gateway.authorize('a.test', 'ann', gateway.upgradePath('/ws/rooms/1'), { protocol: AWARE, recover: new Map([['room:1', since]]) });
    admitted.ticket.release();
    assert.ok(!('status' in authorized));
    const s = new FakeSocket();
    s.client = new Client(authorized);
    gateway.open(s.client, s);
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'room:1', since }));
    await core.settle();
    assert.equal(broker.reads.length, 2);
    gateway.cast('a.test', { kind: 'channel', channel: 'room:1' }, 'meanwhile', undefined);
    for (const resolve of broker.reads.splice(0)) resolve({ epoch: REDIS_EPOCH, offset: 0, entries: [] });
    await core.settle();
    const pubs = (s.take() as Array<{ wsgate: string; data?: unknown }>).filter((f) => f.wsgate === 'pub').map((f) => f.data);
    assert.deepEqual(pubs, ['meanwhile'], 'the join that let it in gives what was cast while it waited');
  });
});
