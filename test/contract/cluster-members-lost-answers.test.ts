/**
 * The shared member store (src/cluster/redis-members.ts) when Redis runs a
 * script but its answer never reaches the node in time: a proxy of the
 * test's own between the store and a real redis-server holds Redis's replies
 * past the store's commandTimeout, then lets them through. Each first and
 * last must still be told exactly once: by the call's answer, or later as an
 * orphaned change once the node asks again.
 *
 * The store runs in this process, so it runs once, with the node target.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { redisMissing, useRedis } from '../support/redis.ts';
import { membersOverProxy } from '../support/members-over-proxy.ts';
import { TARGET } from '../support/server.ts';

const skip = redisMissing || (TARGET === 'node' ? false : 'runs under WSGATE_TARGET=node only: the store runs in this process, not in the server under test');

const HOST = 'app.example.com';
/** Short, so that a held reply times out fast; the store's default is 2000 ms. */
const COMMAND_TIMEOUT_MS = 200;

describe('cluster members over Redis, answers that come too late', { skip, timeout: 30_000 }, () => {
  const redisServer = useRedis();
  let prefixes = 0;

  async function setup() {
    const prefix = `lost${++prefixes}:`;
    const { proxied: members, direct: other, orphaned, proxy } = await membersOverProxy(redisServer, prefix, COMMAND_TIMEOUT_MS, HOST);
    return { members, other, orphaned: orphaned.proxied, proxy, prefix };
  }

  /** Runs `call` with Redis's replies held past the timeout; Redis runs it all the same. */
  async function withRepliesHeld<T>(proxy: { hold(): void; release(): void }, call: () => Promise<T>): Promise<T> {
    proxy.hold();
    try {
      return await call();
    } finally {
      proxy.release();
    }
  }

  it('tells a user\'s first socket once when the add\'s answer came too late, and its last socket once when the remove\'s did', async () => {
    const { members, other, orphaned, proxy, prefix } = await setup();
    const added = await withRepliesHeld(proxy, () => members.add(HOST, 'presence-room', 's1', { user: 'u', info: { name: 'Ann' } }));
    assert.deepEqual(await other.users(HOST, 'presence-room'), new Map([['u', { name: 'Ann' }]]), 'Redis ran the add');
    const addedTold = () => (added === true ? 1 : 0) + orphaned.filter((change) => change.member?.user === 'u' && change.added).length;
    if (added !== true) await waitFor('u\'s arrival told once the node asks again', () => addedTold() > 0, 5000);
    // Another socket of u: not news, on this node or the other.
    assert.equal(await members.add(HOST, 'presence-room', 's2', { user: 'u' }), false);
    assert.equal(await other.add(HOST, 'presence-room', 's3', { user: 'u' }), false);
    assert.equal(await other.remove(HOST, 'presence-room', 's3'), undefined);
    assert.equal(await members.remove(HOST, 'presence-room', 's2'), undefined);
    assert.equal(addedTold(), 1, `u's arrival told once: answer ${added}, orphaned ${JSON.stringify(orphaned)}`);

    const removed = await withRepliesHeld(proxy, () => members.remove(HOST, 'presence-room', 's1'));
    assert.deepEqual(await other.users(HOST, 'presence-room'), new Map(), 'Redis ran the remove');
    const removedTold = () => (removed ? 1 : 0) + orphaned.filter((change) => change.member?.user === 'u' && !change.added).length;
    if (!removed) await waitFor('u\'s departure told once the node asks again', () => removedTold() > 0, 5000);
    assert.deepEqual(removed ?? orphaned.find((change) => change.member?.user === 'u' && !change.added)?.member, { user: 'u', info: { name: 'Ann' } });
    // u comes back on the other node: a first socket again, told there, and nothing more here.
    assert.equal(await other.add(HOST, 'presence-room', 's4', { user: 'u' }), true);
    assert.equal(await members.add(HOST, 'presence-room', 's5', { user: 'u' }), false);
    assert.equal(addedTold(), 1, JSON.stringify(orphaned));
    assert.equal(removedTold(), 1, JSON.stringify(orphaned));
    // The answers Redis kept for a went with its next call, once a had them.
    assert.deepEqual(await redisServer.client.keys(`${prefix}*answer:a%0A*`), []);
  });

  it('tells a channel occupied once when the occupy\'s answer came too late, and vacated once when the vacate\'s did', async () => {
    const { members, other, orphaned, proxy } = await setup();
    const occupied = await withRepliesHeld(proxy, () => members.occupancy(HOST, 'room', true, 1));
    const occupiedTold = () => (occupied ? 1 : 0) + orphaned.filter((change) => change.occupied).length;
    if (!occupied) await waitFor('the channel\'s occupancy told once the node asks again', () => occupiedTold() > 0, 5000);
    assert.equal(await other.occupancy(HOST, 'room', true, 1), false, 'a holds the channel');
    assert.equal(await other.occupancy(HOST, 'room', false, 0), false);
    const vacated = await withRepliesHeld(proxy, () => members.occupancy(HOST, 'room', false, 0));
    const vacatedTold = () => (vacated ? 1 : 0) + orphaned.filter((change) => change.vacated).length;
    if (!vacated) await waitFor('the channel\'s vacancy told once the node asks again', () => vacatedTold() > 0, 5000);
    assert.equal(await other.occupancy(HOST, 'room', true, 1), true, 'vacant: the other node is the first again');
    assert.equal(await members.occupancy(HOST, 'room', true, 1), false);
    assert.equal(occupiedTold(), 1, JSON.stringify(orphaned));
    assert.equal(vacatedTold(), 1, JSON.stringify(orphaned));
  });

  it('tells a user\'s first socket once when the connection drops after Redis ran the add, once it is back', async () => {
    const { members, other, orphaned, proxy } = await setup();
    proxy.hold();
    const adding = members.add(HOST, 'presence-cut', 's1', { user: 'c', info: 1 });
    // Redis runs the add; its reply is held, then the connection goes with it.
    await waitFor('Redis to run the add', async () => (await other.users(HOST, 'presence-cut')).has('c'));
    proxy.cut();
    const added = await adding;
    const told = () => (added === true ? 1 : 0) + orphaned.filter((change) => change.member?.user === 'c' && change.added).length;
    if (added !== true) await waitFor('c\'s arrival told once the connection is back', () => told() > 0, 5000);
    assert.equal(await members.add(HOST, 'presence-cut', 's2', { user: 'c' }), false);
    assert.equal(told(), 1, JSON.stringify(orphaned));
    assert.deepEqual(await members.remove(HOST, 'presence-cut', 's2'), undefined);
    assert.deepEqual(await members.remove(HOST, 'presence-cut', 's1'), { user: 'c', info: 1 });
  });

  it('tells a first and a last once when a socket leaves before the node asks again about its join', async () => {
    const { members, orphaned, proxy } = await setup();
    proxy.hold();
    const added = await members.add(HOST, 'presence-quick', 's1', { user: 'q' });
    // The leave goes while Redis's replies are still held: both answers come too late.
    const removed = await members.remove(HOST, 'presence-quick', 's1');
    proxy.release();
    const told = (kind: 'added' | 'removed') => orphaned.filter((change) => change.member?.user === 'q' && (kind === 'added') === Boolean(change.added)).length;
    const addedTold = () => (added === true ? 1 : 0) + told('added');
    const removedTold = () => (removed ? 1 : 0) + told('removed');
    await waitFor('both told once the node asks again', () => addedTold() > 0 && removedTold() > 0, 5000);
    // Settled: another call through the same connection answers after any re-ask that was queued ahead of it.
    await members.users(HOST, 'presence-quick');
    assert.deepEqual([addedTold(), removedTold()], [1, 1], JSON.stringify(orphaned));
    // Arrival before departure.
    const order = orphaned.filter((change) => change.member?.user === 'q').map((change) => (change.added ? 'added' : 'removed'));
    if (order.length === 2) assert.deepEqual(order, ['added', 'removed']);
  });
});
