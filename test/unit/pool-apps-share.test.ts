/**
 * Two apps' pools under one worker cap (pool.cap): a job of one app that
 * finds the cap taken by the other's workers gets a worker once one of them
 * is free, not once one exits (an idle reap, a minute later by default), and
 * an app whose sockets keep its workers busy cannot keep the other app from
 * running at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/ops/log.ts';
import { Capacity } from '../../src/hooks/pool/capacity.ts';
import type { CappedPool } from '../../src/hooks/pool/capacity.ts';
import { Pool } from '../../src/hooks/pool/pool.ts';
import type { WorkerOutcome } from '../../src/hooks/pool/worker.ts';
import type { Child } from '../../src/runtime/types.ts';
import { scriptedChild } from '../support/scripted-worker.ts';

const log = createLogger(() => {}, 'error');
const settings = { idleMs: 60_000, maxJobs: 10_000, maxQueue: 100, timeoutMs: 10_000, bootTimeoutMs: 5000 };

/** A worker that answers each job after the milliseconds its first argument names. */
function worker(): Child {
  const { child, say } = scriptedChild({
    onWrite(text, say) {
      const { id, args } = JSON.parse(text) as { id: string; args: number[] };
      setTimeout(() => say(`{"id":"${id}","t":"done","result":"${id}"}\n`), args[0] ?? 0);
    },
  });
  setTimeout(() => say('{"t":"ready"}\n'), 1);
  return child;
}

const job = (ms: number, lane: string) => ({ target: 'jobs::run', args: [ms], stream: false, lane });

/** The outcome, or 'stuck' when it has not come within `ms`. */
const within = (outcome: Promise<WorkerOutcome>, ms: number) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([outcome, new Promise<'stuck'>((resolve) => (timer = setTimeout(resolve, ms, 'stuck')))]).finally(() => clearTimeout(timer));
};

describe("pools of two apps under one cap", { timeout: 30_000 }, () => {
  it("runs a job of one app as soon as the other app's only worker is free, not once it is reaped", async () => {
    const capacity = new Capacity(1);
    const a = new Pool('a', ['php'], settings, capacity, worker, log);
    const b = new Pool('b', ['php'], settings, capacity, worker, log);
    try {
      const first = a.run(job(200, 's1'));
      // Its worker is booting or busy: the cap is taken, b's job waits.
      const other = b.run(job(0, 's2'));
      assert.equal((await first).ok, true);
      // a's worker is idle now, for its idle time (60 s): b's job must not wait for that.
      const outcome = await within(other, 5000);
      assert.notEqual(outcome, 'stuck', "b's job still waited 5 s after a's worker was free");
      assert.equal((outcome as WorkerOutcome).ok, true);
      assert.ok(capacity.live <= 1, `${capacity.live} workers under a cap of 1`);
    } finally {
      await capacity.stop();
    }
  });

  it('runs a job of one app while sockets of the other keep its workers busy without a pause', async () => {
    const capacity = new Capacity(1);
    const a = new Pool('a', ['php'], settings, capacity, worker, log);
    const b = new Pool('b', ['php'], settings, capacity, worker, log);
    let flooding = true;
    let most = 0;
    // Two sockets of a, each sending its next message as soon as the last is answered: a's one worker never idles.
    const flood = async (lane: string) => {
      while (flooding) {
        await a.run(job(10, lane));
        most = Math.max(most, capacity.live);
      }
    };
    try {
      const floods = [flood('s1'), flood('s2')];
      await a.run(job(50, 's3'));
      const outcome = await within(b.run(job(0, 'victim')), 10_000);
      assert.notEqual(outcome, 'stuck', "b's job did not run within 10 s while a's sockets kept its worker busy");
      assert.equal((outcome as WorkerOutcome).ok, true);
      flooding = false;
      await Promise.all(floods);
      assert.ok(most <= 1, `${most} workers under a cap of 1`);
    } finally {
      flooding = false;
      await capacity.stop();
    }
  });

  it('two busy apps under a cap of 3 share it 2 and 1, without trading a worker (and a boot) back and forth', async () => {
    const capacity = new Capacity(3);
    let boots = 0;
    const counted = () => (boots++, worker());
    const a = new Pool('a', ['php'], settings, capacity, counted, log);
    const b = new Pool('b', ['php'], settings, capacity, counted, log);
    let flooding = true;
    const flood = async (pool: Pool, lane: string) => {
      while (flooding) await pool.run(job(10, lane));
    };
    try {
      const floods = ['s1', 's2', 's3'].map((lane) => flood(a, lane));
      await a.run(job(50, 's4'));
      floods.push(...['s5', 's6', 's7'].map((lane) => flood(b, lane)));
      // Three turns long: trading one worker each turn would boot three more.
      await new Promise((resolve) => setTimeout(resolve, 3500));
      flooding = false;
      await Promise.all(floods);
      assert.deepEqual([a.stats().workers, b.stats().workers].sort(), [1, 2]);
      assert.ok(boots <= 5, `${boots} workers booted for a split that needs 4`);
    } finally {
      flooding = false;
      await capacity.stop();
    }
  });

  it('hands over without end never: pools that each owe a worker to a third, which cannot claim yet, do not pump each other in a loop', () => {
    const capacity = new Capacity(1);
    let pumps = 0;
    // As Pool.pump does with an idle worker: asks whether it owes one, and hands over if so.
    const owing = (live: number): CappedPool => {
      const pool: CappedPool = {
        liveWorkers: live,
        queued: 1,
        settings: { idleMs: 60_000 },
        oldestIdle: () => undefined,
        stopOldestIdle() {},
        pump() {
          if (++pumps > 1000) throw new Error('pumped each other without end');
          if (capacity.owed(pool)) capacity.handOver(pool);
        },
        reap() {},
        stop: async () => {},
      };
      return pool;
    };
    const a = owing(1);
    const b = owing(1);
    // Waits for room and cannot take it now (booting, or its crash backoff): its pump claims nothing.
    const c: CappedPool = { ...owing(0), pump() {} };
    for (const pool of [a, b, c]) {
      capacity.pools.add(pool);
      assert.equal(capacity.claim(pool), false);
    }
    a.pump();
    assert.ok(pumps <= 3, `${pumps} pumps`);
  });
});
