/**
 * The shared member store (src/cluster/redis-members.ts) when a node taken
 * for dead (it stalled past the ttl) has a first or last in hand that the
 * survivor clearing it (nodeGone) also tells from the answer Redis kept:
 * the node's reply was on its way while it stalled, or it asked its lost
 * call again while the survivor cleared it. Each decision is told once,
 * by one of them. Proxies of the test's own between each store and a real
 * redis-server hold replies at the step the race is about.
 *
 * The store runs in this process, so it runs once, with the node target.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { redisMissing, useRedis } from '../support/redis.ts';
import { replyHoldingProxy } from '../support/reply-proxy.ts';
import { startedStore } from '../support/members-over-proxy.ts';
import { TARGET } from '../support/server.ts';

const skip = redisMissing || (TARGET === 'node' ? false : 'runs under WSGATE_TARGET=node only: the store runs in this process, not in the server under test');

const HOST = 'app.example.com';
const ROOM = 'presence-room';

describe('cluster members over Redis, a node taken for dead with an answer in hand', { skip, timeout: 30_000 }, () => {
  const redisServer = useRedis();
  let prefixes = 0;

  /** `stalledTimeoutMs`: how long the stalled node waits for a reply (short: its held reply is lost; long: it comes late). */
  async function setup(stalledTimeoutMs: number) {
    const prefix = `stalled${++prefixes}:`;
    const nodesKey = `${prefix}nodes`;
    const store = async (node: string, commandTimeoutMs: number) => {
      const proxy = await replyHoldingProxy(redisServer.port);
      redisServer.cleanup(() => proxy.close());
      const { members, orphaned } = await startedStore(redisServer, proxy.url, prefix, node, { commandTimeoutMs });
      // The first sync is done once a call through the same connection answers.
      await members.users(HOST, 'presence-warm');
      return { members, orphaned, proxy };
    };
    await redisServer.client.zadd(nodesKey, String(Date.now() + 60_000), 'survivor');
    const survivor = await store('survivor', 2000);
    const stalled = await store('stalled', stalledTimeoutMs);
    /** Arrivals and departures of `user` told by either node: answers the stalled node's calls gave, and changes told late. */
    const told = { added: 0, removed: 0 };
    const counted = (user: string) => {
      const late = [...survivor.orphaned, ...stalled.orphaned].filter((change) => change.member?.user === user);
      return { added: told.added + late.filter((change) => change.added).length, removed: told.removed + late.filter((change) => !change.added).length };
    };
    const comesBack = async () => {
      await redisServer.client.zadd(nodesKey, String(Date.now() + 60_000), 'stalled');
      await stalled.members.rejoined();
    };
    const present = async () => [...(await survivor.members.users(HOST, ROOM)).keys()];
    return { survivor, stalled, told, counted, comesBack, present };
  }

  it('tells a first once when the node\'s reply comes after the survivor cleared it', async () => {
    const { survivor, stalled, told, counted, comesBack, present } = await setup(5000);
    stalled.proxy.hold();
    const adding = stalled.members.add(HOST, ROOM, 's1', { user: 'u' });
    await waitFor('Redis to run the add', async () => (await present()).includes('u'));
    // Taken for dead while its reply is on the way: the survivor tells the arrival, then the departure its clearing makes.
    await survivor.members.nodeGone('stalled');
    stalled.proxy.release();
    if ((await adding) === true) told.added++;
    await comesBack();
    assert.deepEqual(await present(), ['u'], 'u\'s socket is still on the node');
    assert.deepEqual(counted('u'), { added: 2, removed: 1 }, JSON.stringify([told, survivor.orphaned, stalled.orphaned]));
  });

  it('tells a last once when the node\'s reply comes after the survivor cleared it', async () => {
    const { survivor, stalled, told, counted, present } = await setup(5000);
    assert.equal(await stalled.members.add(HOST, ROOM, 's1', { user: 'v', info: 7 }), true);
    told.added++;
    stalled.proxy.hold();
    const removing = stalled.members.remove(HOST, ROOM, 's1');
    await waitFor('Redis to run the remove', async () => !(await present()).includes('v'));
    await survivor.members.nodeGone('stalled');
    stalled.proxy.release();
    if ((await removing) !== undefined) told.removed++;
    assert.deepEqual(counted('v'), { added: 1, removed: 1 }, JSON.stringify([told, survivor.orphaned, stalled.orphaned]));
  });

  it('tells a first once when the node asks its lost add again while the survivor clears it', async () => {
    const { survivor, stalled, told, counted, comesBack, present } = await setup(200);
    stalled.proxy.hold();
    assert.equal(await stalled.members.add(HOST, ROOM, 's1', { user: 'w' }), false, 'the add\'s answer was lost');
    // The survivor has read the node's unanswered calls; it goes on once the node had the answer it asked for again.
    survivor.proxy.holdFrom('zrange');
    const read = survivor.proxy.seen('zrange');
    const clearing = survivor.members.nodeGone('stalled');
    await read;
    stalled.proxy.release();
    await waitFor('the node to tell the arrival its lost add decided', () => stalled.orphaned.some((change) => change.member?.user === 'w'), 5000);
    survivor.proxy.release();
    await clearing;
    await comesBack();
    assert.deepEqual(await present(), ['w'], 'w\'s socket is still on the node');
    assert.deepEqual(counted('w'), { added: 2, removed: 1 }, JSON.stringify([told, survivor.orphaned, stalled.orphaned]));
  });
});
