/**
 * The shared member store (src/cluster/redis-members.ts) when a survivor
 * clears a node it took for dead (nodeGone) while that node comes back from
 * a stall (rejoined): whatever the order, the node's sockets are in the
 * store after, and each departure the survivor told is matched by an
 * arrival the node told. A proxy of the test's own between the survivor's
 * store and a real redis-server holds the survivor's replies at the step the
 * race is about.
 *
 * The store runs in this process, so it runs once, with the node target.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redisMissing, useRedis } from '../support/redis.ts';
import { replyHoldingProxy } from '../support/reply-proxy.ts';
import { startedStore } from '../support/members-over-proxy.ts';
import { TARGET } from '../support/server.ts';

const skip = redisMissing || (TARGET === 'node' ? false : 'runs under WSGATE_TARGET=node only: the store runs in this process, not in the server under test');

const HOST = 'app.example.com';

describe('cluster members over Redis, a cleanup racing a node that comes back', { skip, timeout: 30_000 }, () => {
  const redisServer = useRedis();
  let prefixes = 0;

  async function setup() {
    const prefix = `race${++prefixes}:`;
    const nodesKey = `${prefix}nodes`;
    const proxy = await replyHoldingProxy(redisServer.port);
    redisServer.cleanup(() => proxy.close());
    // The node that stalled goes through one of its own, which holds nothing: it shows what the node asks.
    const watch = await replyHoldingProxy(redisServer.port);
    redisServer.cleanup(() => watch.close());
    const store = (node: string, url: string) => startedStore(redisServer, url, prefix, node);
    // The survivor, in the set of nodes, behind the proxy; the node that stalled, out of the set.
    await redisServer.client.zadd(nodesKey, String(Date.now() + 60_000), 'survivor');
    const survivor = await store('survivor', proxy.url);
    const stalled = await store('stalled', watch.url);
    assert.equal(await stalled.members.add(HOST, 'presence-room', 's1', { user: 'z' }), true);
    const comesBack = async () => {
      await redisServer.client.zadd(nodesKey, String(Date.now() + 60_000), 'stalled');
      await stalled.members.rejoined();
    };
    /** Departures of z told by the survivor less arrivals told again by the node that came back: 0 when they match. */
    const unmatched = () => survivor.orphaned.filter((change) => change.member?.user === 'z' && !change.added).length - stalled.orphaned.filter((change) => change.member?.user === 'z' && change.added).length;
    return { survivor, stalled, proxy, watch, comesBack, unmatched };
  }

  it('leaves the node its entries when it comes back between the survivor\'s look at the set of nodes and its claim', async () => {
    const { survivor, stalled, proxy, comesBack, unmatched } = await setup();
    // The survivor looks (not there) and its answer is held: the node beats and puts its list right meanwhile.
    proxy.holdFrom('zscore');
    const looked = proxy.seen('zscore');
    const clearing = survivor.members.nodeGone('stalled');
    await looked;
    await comesBack();
    proxy.release();
    await clearing;
    assert.deepEqual(await survivor.members.users(HOST, 'presence-room'), new Map([['z', undefined]]), 'z\'s socket is still on the node');
    assert.equal(unmatched(), 0, JSON.stringify([survivor.orphaned, stalled.orphaned]));
    assert.deepEqual(await stalled.members.remove(HOST, 'presence-room', 's1'), { user: 'z' }, 'its last socket leaves: told once, by the node');
  });

  it('puts back what the survivor takes out when the node comes back while the survivor clears it', async () => {
    const { survivor, stalled, proxy, watch, comesBack, unmatched } = await setup();
    // The survivor has claimed the cleanup and reads the node's list; the list's reply is held while the node comes back.
    proxy.holdFrom('smembers');
    const reading = proxy.seen('smembers');
    const clearing = survivor.members.nodeGone('stalled');
    await reading;
    const looked = watch.seen('smembers');
    const back = comesBack();
    // The node reads its list while the survivor's reply is held (or waits for the survivor to be done): let the survivor go on after that.
    await Promise.race([looked, watch.seen('\r\nget\r\n')]);
    proxy.release();
    await Promise.all([clearing, back]);
    assert.deepEqual(await survivor.members.users(HOST, 'presence-room'), new Map([['z', undefined]]), 'z\'s socket is still on the node');
    assert.equal(unmatched(), 0, JSON.stringify([survivor.orphaned, stalled.orphaned]));
    assert.deepEqual(await stalled.members.remove(HOST, 'presence-room', 's1'), { user: 'z' }, 'its last socket leaves: told once, by the node');
  });
});
