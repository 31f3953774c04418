/**
 * The member store notes each deciding call in its node's `unanswered` set
 * (member-unanswered.ts) until the node has the answer; those notes go
 * along with later calls, from a bounded list. A burst of calls bigger than
 * that list (a reconnect storm) left the notes past it in Redis for as long
 * as the node ran. Notes older than the answer keep time tell nothing (their
 * answers expired): the node now trims them along with its calls.
 *
 * The store runs in this process, so it runs once, with the node target.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { RedisMembers, connectMembers } from '../../src/cluster/redis-members.ts';
import { nodeKeys } from '../../src/cluster/member-scripts.ts';
import { createLogger } from '../../src/ops/log.ts';
import { waitFor } from '../support/events.ts';
import { redisMissing, useRedis } from '../support/redis.ts';
import { TARGET } from '../support/server.ts';

const skip = redisMissing || (TARGET === 'node' ? false : 'runs under WSGATE_TARGET=node only: the store runs in this process, not in the server under test');

const HOST = 'app.example.com';
/** The node's list of drops, smaller than its default of 10 000 so that the test bursts past it quickly. */
const MAX_DROPS = 200;
/** More calls at once than that list holds. */
const BURST = 500;
const KEEP_MS = 300;

describe('cluster members over Redis, notes of a burst of calls', { skip, timeout: 30_000 }, () => {
  const redisServer = useRedis();

  it('are trimmed once older than the answer keep time, not left for as long as the node runs', async () => {
    const prefix = 'burst:';
    const connection = connectMembers(`redis://127.0.0.1:${redisServer.port}`);
    await once(connection, 'ready');
    const members = new RedisMembers(connection, { prefix, nodesKey: `${prefix}nodes`, answerKeepMs: KEEP_MS, maxDrops: MAX_DROPS }, createLogger(() => {}, 'error'));
    members.start('a');
    redisServer.cleanup(() => members.stop());
    const notes = () => redisServer.client.zcard(nodeKeys(prefix, 'a').unanswered);
    // One user's sockets: every call but the first decides nothing, so its note goes with a later call.
    const added = await Promise.all(Array.from({ length: BURST }, (_, i) => members.add(HOST, 'presence-storm', `s${i}`, { user: 'u' })));
    assert.equal(added.filter((one) => one === true).length, 1);
    assert.ok((await notes()) > BURST - 100, 'the burst noted its calls');
    let calls = 0;
    // The node goes on with its sockets: each call drops what it can of the notes, and should trim the old ones.
    await waitFor(
      'the notes of the burst gone',
      async () => {
        await members.add(HOST, 'presence-after', `t${calls++}`, { user: 'v' });
        return (await notes()) <= 2;
      },
      3000,
    ).catch(async (error: Error) => assert.fail(`${error.message}: ${await notes()} notes left after ${calls} calls`));
  });
});
