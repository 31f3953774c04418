/**
 * The shared member store (src/cluster/redis-members.ts) when a node dies
 * with a call Redis ran but whose answer it never had: the survivor that
 * clears the node (nodeGone) tells what that call decided before what the
 * clearing changes, each once. A proxy of the test's own between the dying
 * node's store and a real redis-server holds Redis's replies past the
 * store's commandTimeout; the node then dies (its connection cut, no stop()).
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

describe('cluster members over Redis, a node that dies with an answer it never had', { skip, timeout: 30_000 }, () => {
  const redisServer = useRedis();
  let prefixes = 0;

  async function setup() {
    const prefix = `gone${++prefixes}:`;
    const { proxied: dying, direct: survivor, connection, proxy, orphaned: { direct: orphaned } } = await membersOverProxy(redisServer, prefix, COMMAND_TIMEOUT_MS, HOST);
    /** a dies: nothing of it reaches Redis any more, and it clears nothing (no stop()). */
    const dies = () => {
      proxy.cut();
      connection.disconnect();
    };
    const told = (user: string) => orphaned.filter((change) => change.member?.user === user).map((change) => (change.added ? ['added', change.member] : ['removed', change.member]));
    return { dying, survivor, proxy, dies, told, prefix };
  }

  it('tells the arrival a lost add decided, then the departure the clearing makes, once each', async () => {
    const { dying, survivor, proxy, dies, told, prefix } = await setup();
    proxy.hold();
    assert.equal(await dying.add(HOST, 'presence-room', 's1', { user: 'u', info: { name: 'Ann' } }), false, 'the add\'s answer was lost');
    await waitFor('Redis to run the add', async () => (await survivor.users(HOST, 'presence-room')).has('u'));
    dies();
    await survivor.nodeGone('a');
    assert.deepEqual(told('u'), [['added', { user: 'u', info: { name: 'Ann' } }], ['removed', { user: 'u', info: { name: 'Ann' } }]]);
    assert.deepEqual(await survivor.users(HOST, 'presence-room'), new Map());
    // Cleared: the same word of a's going, heard again, tells nothing more.
    await redisServer.client.del(`${prefix}members:node:{a}:cleanup`);
    await survivor.nodeGone('a');
    assert.equal(told('u').length, 2);
  });

  it('tells the departure a lost last remove decided, once', async () => {
    const { dying, survivor, proxy, dies, told } = await setup();
    assert.equal(await dying.add(HOST, 'presence-room', 's1', { user: 'v', info: 7 }), true);
    proxy.hold();
    assert.equal(await dying.remove(HOST, 'presence-room', 's1'), undefined, 'the remove\'s answer was lost');
    await waitFor('Redis to run the remove', async () => !(await survivor.users(HOST, 'presence-room')).has('v'));
    dies();
    await survivor.nodeGone('a');
    assert.deepEqual(told('v'), [['removed', { user: 'v', info: 7 }]]);
  });

  it('tells nothing again of what the node had its answer to before it died', async () => {
    const { dying, survivor, dies, told } = await setup();
    assert.equal(await dying.add(HOST, 'presence-room', 's1', { user: 'w' }), true);
    assert.equal(await dying.add(HOST, 'presence-room', 's2', { user: 'x' }), true);
    assert.deepEqual(await dying.remove(HOST, 'presence-room', 's2'), { user: 'x' });
    // Through the same connection, so what the answers above sent has reached Redis.
    await dying.users(HOST, 'presence-room');
    dies();
    await survivor.nodeGone('a');
    assert.deepEqual([told('w'), told('x')], [[['removed', { user: 'w' }]], []]);
  });
});
