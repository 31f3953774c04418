/**
 * The resident pool's queue, its reaper and its bound on frames, on real PHP
 * workers (test/fixtures/app.php phlo_serve).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../src/ops/log.ts';
import { FairQueue } from '../../src/hooks/pool/fair-queue.ts';
import { Capacity } from '../../src/hooks/pool/capacity.ts';
import { Pool } from '../../src/hooks/pool/pool.ts';
import type { PoolSettings } from '../../src/hooks/pool/pool.ts';
import type { Spawn } from '../../src/hooks/pool/worker.ts';
import { createNodeRuntime } from '../../src/runtime/node.ts';
import { APP, tempDir } from '../support/server.ts';

const runtime = createNodeRuntime();

const log = createLogger(() => {}, 'error');
const events = join(tempDir(), 'events.ndjson');
writeFileSync(events, '');
const spawn: Spawn = (argv, options = {}) => runtime.spawn(argv, { ...options, env: { ...options.env, WSGATE_TEST_EVENTS: events } });
const settings: PoolSettings = { idleMs: 60_000, maxJobs: 10_000, maxQueue: 1000, timeoutMs: 10_000, bootTimeoutMs: 10_000 };
const pools: Pool[] = [];
const newPool = (overrides: Partial<PoolSettings> = {}) => {
  const pool = new Pool(APP, ['php', APP, 'phlo_serve'], { ...settings, ...overrides }, new Capacity(1), spawn, log);
  pools.push(pool);
  return pool;
};
after(() => Promise.all(pools.map((p) => p.capacity.stop())));

describe('FairQueue', () => {
  const item = (lane: string, n: number) => ({ lane, bounded: true, n });
  it('serves lanes round-robin, each lane in its own order', () => {
    const q = new FairQueue<ReturnType<typeof item>>();
    for (let n = 0; n < 4; n++) q.push(item('a', n));
    q.push(item('b', 0));
    q.push(item('c', 0));
    q.push(item('b', 1));
    const order: string[] = [];
    for (let i = 0; i < 10 && q.length > 0; i++) {
      const next = q.shift()!;
      order.push(`${next.lane}${next.n}`);
    }
    assert.deepEqual(order, ['a0', 'b0', 'c0', 'a1', 'b1', 'a2', 'a3']);
  });
  it('serves hosts in turn, then the sockets of a host in turn, each socket in its own order; dispatch is a host of its own', () => {
    const job = (lane: string, sublane: string | undefined, n: number) => ({ lane, sublane, bounded: true, name: `${lane}${sublane ?? ''}#${n}` });
    const q = new FairQueue<ReturnType<typeof job>>();
    for (let n = 0; n < 3; n++) q.push(job('a', '/s1', n));
    q.push(job('a', '/s2', 0));
    q.push(job('b', '/s3', 0));
    q.push(job('dispatch', undefined, 0));
    q.push(job('a', '/s2', 1));
    const order: string[] = [];
    for (let i = 0; i < 10 && q.length > 0; i++) order.push(q.shift()!.name);
    assert.deepEqual(order, ['a/s1#0', 'b/s3#0', 'dispatch#0', 'a/s2#0', 'a/s1#1', 'a/s2#1', 'a/s1#2']);
  });

  it("when full, has room for a host holding two fewer places than the fullest, whose newest waiting job gives its place up", () => {
    const job = (lane: string, sublane: string, bounded = true) => ({ lane, sublane, bounded });
    const q = new FairQueue<ReturnType<typeof job>>();
    const a = [job('a', 's1'), job('a', 's2'), job('a', 's1'), job('a', 's3', false), job('a', 's2')];
    for (const j of a) q.push(j);
    assert.equal(q.bounded, 4, 'a close hook takes no place');
    assert.equal(q.hasRoom('a', 4), false, 'the flooding host has no room');
    assert.equal(q.hasRoom('b', 4), true, 'a host holding none has');
    assert.equal(q.giveWay('b'), a[4], "the flooding host's newest bounded job, whatever its socket");
    q.push(job('b', 's9'));
    assert.equal(q.hasRoom('b', 4), true, 'b holds 1, a holds 3');
    assert.equal(q.giveWay('b'), a[2]);
    q.push(job('b', 's9'));
    assert.equal(q.hasRoom('b', 4), false, 'b holds 2, as a: nothing to gain from taking turns refusing');
    assert.equal(q.hasRoom('a', 4), false);
    assert.equal(q.hasRoom('c', 4), true, 'c, holding none, holds two fewer');
    assert.equal(q.hasRoom('a', 5), true, 'a free place');
    assert.equal(q.length, 5);
  });

  it('puts a handed-back job first, and removes one wherever it waits', () => {
    const q = new FairQueue<ReturnType<typeof item>>();
    const a0 = item('a', 0);
    const b0 = item('b', 0);
    q.push(a0);
    q.push(b0);
    const back = item('b', 9);
    q.unshift(back);
    assert.equal(q.remove(a0), true);
    assert.equal(q.remove(a0), false);
    assert.equal(q.length, 2);
    assert.equal(q.shift(), back);
    assert.equal(q.shift(), b0);
    assert.equal(q.shift(), undefined);
    assert.equal(q.length, 0);
  });

  it('counts handed-back jobs in its bound as they come and go: cancelled, served or drained', () => {
    const job = (lane: string, bounded = true) => ({ lane, bounded });
    const q = new FairQueue<ReturnType<typeof job>>();
    q.push(job('a'));
    const back = [job('b'), job('b', false), job('b'), job('b')];
    for (const j of back) q.unshift(j);
    assert.equal(q.bounded, 4, 'a close hook handed back takes no place');
    assert.equal(q.hasRoom('c', 4), false, 'the handed-back jobs fill the bound');
    assert.equal(q.remove(back[2]!), true, 'a handed-back job cancelled');
    assert.equal(q.remove(back[2]!), false, 'and only once');
    assert.equal(q.bounded, 3);
    assert.equal(q.hasRoom('c', 4), true, 'its place is free again');
    assert.equal(q.remove(back[1]!), true, 'a close hook handed back, cancelled');
    assert.equal(q.bounded, 3, 'frees no place');
    assert.equal(q.shift(), back[3], 'the last handed back is first in line');
    assert.equal(q.bounded, 2);
    q.unshift(job('b', false));
    q.unshift(job('b'));
    assert.equal(q.bounded, 3);
    assert.equal(q.drain().length, 4);
    assert.equal(q.bounded, 0, 'a drained queue holds no place');
    assert.equal(q.hasRoom('c', 1), true);
  });
});

describe('Pool on PHP workers', { timeout: 60_000 }, () => {
  it("one lane's backlog does not hold up another lane's single job", async () => {
    const pool = newPool();
    await pool.run({ target: 'jobs::echo', args: [], stream: false }); // boots the one worker
    const finished: string[] = [];
    const runs: Promise<unknown>[] = [];
    for (let n = 0; n < 10; n++) runs.push(pool.run({ target: 'jobs::slow', args: [100], stream: false, lane: 'busy' }).then(() => finished.push(`busy${n}`)));
    runs.push(pool.run({ target: 'jobs::echo', args: ['quiet'], stream: false, lane: 'quiet' }).then(() => finished.push('quiet')));
    await Promise.all(runs);
    // FIFO would finish it last (after ten 100 ms jobs); round-robin after the one running and one turn of the busy lane.
    assert.ok(finished.indexOf('quiet') <= 2, `finished in order ${finished.join(',')}`);
    assert.deepEqual(
      finished.filter((f) => f !== 'quiet'),
      Array.from({ length: 10 }, (_, n) => `busy${n}`),
      'one lane stays in order',
    );
  });

  it("a full queue takes another host's job in place of the flooding host's newest, which is refused as busy", async () => {
    const pool = newPool({ maxQueue: 3 });
    await pool.run({ target: 'jobs::echo', args: [], stream: false }); // boots the one worker
    const job = (host: string, socket: number) => ({ target: 'jobs::echo', args: [`${host}${socket}`], stream: false, lane: `host:${host}`, sublane: `socket:${socket}` });
    const running = pool.run({ ...job('a', 0), target: 'jobs::slow', args: [200] });
    const waiting = [1, 2, 3].map((n) => pool.run(job('a', n)));
    const over = await pool.run(job('a', 4));
    assert.equal(over.ok === false && over.busy, true, "a's own job is refused when the queue is full of a's");
    const other = pool.run(job('b', 9));
    const given = await waiting[2]!;
    assert.equal(given.ok === false && given.busy, true, "a's newest waiting job gives its place up");
    assert.match((given as { error: string }).error, /queue full: 3 jobs wait .*shared between hosts/);
    assert.deepEqual(await other, { ok: true, result: ['b9'] }, "b's job waited and ran");
    assert.deepEqual(await Promise.all(waiting.slice(0, 2)), [{ ok: true, result: ['a1'] }, { ok: true, result: ['a2'] }]);
    assert.equal((await running).ok, true);
  });

  it('a queued job whose signal aborts is never sent to a worker; a running one is left to finish and reads as cancelled', async () => {
    const pool = newPool();
    await pool.run({ target: 'jobs::echo', args: [], stream: false });
    const controller = new AbortController();
    const running = pool.run({ target: 'jobs::slow', args: [300, 'running-marker'], stream: false, lane: 's' }, undefined, undefined, controller.signal);
    const queued = pool.run({ target: 'jobs::slow', args: [0, 'queued-marker'], stream: false, lane: 's' }, undefined, undefined, controller.signal);
    assert.equal(pool.stats().queued, 1);
    controller.abort();
    assert.deepEqual(await queued, { ok: false, error: 'cancelled: the client went away', cancelled: true });
    assert.equal(pool.stats().queued, 0);
    assert.equal((await running).ok, false);
    // The worker is still the same and still serves.
    assert.equal((await pool.run({ target: 'jobs::echo', args: ['after'], stream: false })).ok, true);
    const log = readFileSync(events, 'utf8');
    assert.match(log, /running-marker/, 'the running job ran');
    assert.doesNotMatch(log, /queued-marker/, 'the queued job never reached PHP');
    assert.equal(pool.stats().workers, 1);
  });

  it('asks before a full queue refuses: a job whose client went leaves, and the new one takes its place', async () => {
    let asked = 0;
    const gone = new AbortController();
    const pool = new Pool(APP, ['php', APP, 'phlo_serve'], { ...settings, maxQueue: 1 }, new Capacity(1, () => (asked++, gone.abort())), spawn, log);
    pools.push(pool);
    await pool.run({ target: 'jobs::echo', args: [], stream: false });
    const running = pool.run({ target: 'jobs::slow', args: [300, 'full-running'], stream: false });
    const left = pool.run({ target: 'jobs::slow', args: [0, 'full-left'], stream: false }, undefined, undefined, gone.signal);
    assert.equal(pool.stats().queued, 1);
    const taken = pool.run({ target: 'jobs::echo', args: ['full-taken'], stream: false });
    assert.equal(asked, 1);
    assert.deepEqual(await left, { ok: false, error: 'cancelled: the client went away', cancelled: true });
    assert.equal((await taken).ok, true, 'queued in the place that was freed, not refused');
    assert.equal((await running).ok, true);
    const busy = pool.run({ target: 'jobs::slow', args: [300, 'full-2'], stream: false });
    pool.run({ target: 'jobs::echo', args: [], stream: false });
    const refused = await pool.run({ target: 'jobs::echo', args: [], stream: false });
    assert.equal(refused.ok === false && refused.busy, true, 'still refused when nobody left');
    assert.equal(asked, 2);
    await busy;
  });

  it('reaps a worker idle past pool.idle within about twice the idle time', async () => {
    const idleMs = 250;
    const pool = newPool({ idleMs });
    await pool.run({ target: 'jobs::echo', args: [], stream: false });
    const idleFrom = performance.now();
    assert.equal(pool.stats().workers, 1);
    // Polled, bounded: the reaper leaves no event to wait for but the worker count.
    for (let i = 0; i < 100 && pool.stats().workers > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const took = performance.now() - idleFrom;
    assert.equal(pool.stats().workers, 0, 'reaped');
    assert.ok(took < 2 * idleMs, `reaped after ${Math.round(took)} ms, idle is ${idleMs} ms`);
  });

  it('a worker that prints a frame over the bound is killed, its job failed, nothing of it sent', async () => {
    const pool = newPool({ maxLine: 1000 });
    const lines: string[] = [];
    const outcome = await pool.run({ target: 'jobs::lines', args: ['short', 'x'.repeat(5000)], stream: true }, (line) => lines.push(line));
    assert.equal(outcome.ok, false);
    assert.match((outcome as { error: string }).error, /a line of output is longer than 1000 bytes/);
    assert.deepEqual(lines, ['short']);
    const next = await pool.run({ target: 'jobs::echo', args: ['again'], stream: false });
    assert.deepEqual(next, { ok: true, result: ['again'] }, 'a new worker serves the next job');
  });
});
