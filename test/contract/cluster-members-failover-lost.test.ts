/**
 * The shared member store (src/cluster/redis-members.ts) when Redis fails
 * over to a replica that missed the last writes: a leave the node had the
 * answer to, and told, is gone from the new master, which still holds the
 * socket. Putting its list right, the node takes the socket out again: what
 * it told already is not told again. A proxy of the test's own moves the
 * store's connection from the master to the replica, promoted once it
 * stopped following the master (so it misses what comes after).
 *
 * The store runs in this process, so it runs once, with the node target.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { waitFor } from '../support/events.ts';
import { redisMissing, startRedis, useRedis } from '../support/redis.ts';
import { replyHoldingProxy } from '../support/reply-proxy.ts';
import { startedStore } from '../support/members-over-proxy.ts';
import { switchingProxy } from '../support/switching-proxy.ts';
import { TARGET } from '../support/server.ts';

const skip = redisMissing || (TARGET === 'node' ? false : 'runs under WSGATE_TARGET=node only: the store runs in this process, not in the server under test');

const HOST = 'app.example.com';
const ROOM = 'presence-room';
/** Short, so that a held reply times out fast; the store's default is 2000 ms. */
const COMMAND_TIMEOUT_MS = 200;

describe('cluster members over Redis, a failover that lost the last writes', { skip, timeout: 30_000 }, () => {
  const master = useRedis();
  let prefixes = 0;

  async function setup() {
    const prefix = `failover${++prefixes}:`;
    // The replica loads the master's data from memory, and keeps any file it writes in a directory of its own.
    const dir = mkdtempSync(join(tmpdir(), 'wsgate-failover-'));
    const replicaServer = await startRedis(undefined, ['--dir', dir, '--repl-diskless-load', 'swapdb']);
    master.cleanup(async () => (await replicaServer.stop(), rmSync(dir, { recursive: true, force: true })));
    await master.client.config('SET', 'repl-diskless-sync-delay', '0');
    const replica = new Redis(replicaServer.port, '127.0.0.1');
    master.cleanup(async () => replica.disconnect());
    await replica.replicaof('127.0.0.1', master.port);
    await waitFor('the replica to follow the master', async () => /master_link_status:up/.test(await replica.info('replication')));
    const switching = await switchingProxy(master.port);
    master.cleanup(() => switching.close());
    // Replies held in front of the switch, for a leave whose answer is lost.
    const holding = await replyHoldingProxy(Number(new URL(switching.url).port));
    master.cleanup(() => holding.close());
    const logs: string[] = [];
    const { members, orphaned } = await startedStore(master, holding.url, prefix, 'a', { commandTimeoutMs: COMMAND_TIMEOUT_MS, log: (line) => logs.push(line) });
    await members.users(HOST, 'presence-warm');
    const replicated = (user: string) => waitFor(`${user} on the replica`, async () => (await replica.hexists(`${prefix}members:{${HOST}:${ROOM}}:users`, user)) === 1);
    /** The replica stops following (it misses what comes next), then takes over: the store's connection is cut and goes to it. */
    const lagging = () => replica.replicaof('NO', 'ONE');
    const failover = async () => {
      const synced = waitFor('the store to put its list right on the new master', () => logs.some((line) => line.includes('members list put right')), 10_000);
      switching.switchTo(replicaServer.port);
      await synced;
    };
    const departures = (user: string) => orphaned.filter((change) => change.member?.user === user && !change.added).length;
    const vacancies = () => orphaned.filter((change) => change.vacated).length;
    const replicatedNodes = (channel: string) => waitFor(`${channel}'s node on the replica`, async () => (await replica.scard(`${prefix}members:{${HOST}:${channel}}:nodes`)) === 1);
    return { members, holding, replicated, replicatedNodes, lagging, failover, departures, vacancies };
  }

  it('tells a departure once when the new master lost the leave', async () => {
    const { members, replicated, lagging, failover, departures } = await setup();
    assert.equal(await members.add(HOST, ROOM, 's1', { user: 'u' }), true);
    await replicated('u');
    await lagging();
    assert.deepEqual(await members.remove(HOST, ROOM, 's1'), { user: 'u' });
    await failover();
    assert.equal(departures('u'), 0, 'the node told u\'s departure already');
  });

  it('tells a departure once when the new master lost a leave whose answer came late', async () => {
    const { members, holding, replicated, lagging, failover, departures } = await setup();
    assert.equal(await members.add(HOST, ROOM, 's1', { user: 'v' }), true);
    await replicated('v');
    await lagging();
    holding.hold();
    assert.equal(await members.remove(HOST, ROOM, 's1'), undefined, 'the leave\'s answer was lost');
    holding.release();
    await waitFor('v\'s departure told once the node asks again', () => departures('v') > 0, 5000);
    await failover();
    assert.equal(departures('v'), 1);
  });

  it('tells a channel vacated once when the new master lost the vacate', async () => {
    const { members, replicatedNodes, lagging, failover, vacancies } = await setup();
    assert.equal(await members.occupancy(HOST, 'room', true, 1), true);
    await replicatedNodes('room');
    await lagging();
    assert.equal(await members.occupancy(HOST, 'room', false, 0), true);
    await failover();
    assert.equal(vacancies(), 0, 'the node told the vacancy already');
  });
});
