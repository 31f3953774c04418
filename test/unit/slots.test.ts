import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OneshotRunner } from '../../src/hooks/runners/oneshot.ts';
import { HookSlots } from '../../src/hooks/runners/slots.ts';
import { createNodeRuntime } from '../../src/runtime/node.ts';
import type { Acquired } from '../../src/hooks/runners/slots.ts';

const runtime = createNodeRuntime();

const granted = (a: Acquired): (() => void) => {
  assert.equal(a.ok, true, JSON.stringify(a));
  return (a as { release: () => void }).release;
};

/** Whether a promise has settled by the end of this turn of the event loop. */
async function settled<T>(promise: Promise<T>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('HookSlots', () => {
  it('runs up to the cap at once; the next waits until one is released, in order', async () => {
    const slots = new HookSlots({ processes: 2, queue: 10, authsPerHost: 10 });
    const a = granted(await slots.acquire());
    granted(await slots.acquire());
    const third = slots.acquire();
    const fourth = slots.acquire();
    assert.equal(await settled(third), false);
    assert.deepEqual({ running: slots.stats().running, queued: slots.stats().queued }, { running: 2, queued: 2 });
    a();
    assert.equal(await settled(third), true);
    assert.equal(await settled(fourth), false, 'the fourth still waits: FIFO, one slot freed');
    granted(await third);
  });

  it('asks, before it refuses as busy, whether waiters\' clients went; those leave, and the job waits in their place', async () => {
    const gone = new AbortController();
    let asked = 0;
    const slots = new HookSlots({ processes: 1, queue: 1, authsPerHost: 10 }, () => {
      asked++;
      gone.abort();
    });
    const release = granted(await slots.acquire());
    const vanished = slots.acquire({}, gone.signal);
    const next = slots.acquire();
    assert.equal(asked, 1);
    assert.deepEqual(await vanished, { ok: false, cancelled: true });
    assert.equal(await settled(next), false, 'queued, not refused');
    release();
    granted(await next);
    // Nobody to cancel: still busy, after asking.
    const full = new HookSlots({ processes: 1, queue: 0, authsPerHost: 10 }, () => asked++);
    granted(await full.acquire());
    const refused = await full.acquire();
    assert.equal(refused.ok, false);
    assert.match((refused as { busy: string }).busy, /busy: limits\.hookProcesses/);
    assert.equal(asked, 2);
  });

  it('cancels a job whose own client is found gone when it asks, rather than queue it; and asks before an async refusal too', async () => {
    const mine = new AbortController();
    const others = new AbortController();
    const slots = new HookSlots({ processes: 1, queue: 1, authsPerHost: 10 }, () => {
      mine.abort();
      others.abort();
    });
    const release = granted(await slots.acquire());
    const waiting = slots.acquire({}, others.signal);
    assert.deepEqual(await slots.acquire({}, mine.signal), { ok: false, cancelled: true });
    assert.deepEqual(await waiting, { ok: false, cancelled: true });
    assert.equal(slots.stats().queued, 0, 'neither holds a place');
    release();
    const refreshed = new AbortController();
    const queued = new HookSlots({ processes: 1, queue: 1, authsPerHost: 10 }, () => refreshed.abort());
    granted(await queued.acquire());
    const behind = queued.acquire({}, refreshed.signal);
    assert.equal(queued.refusal(), undefined, 'the place of the client that went is free');
    assert.deepEqual(await behind, { ok: false, cancelled: true });
  });

  it('is busy at once, spawning nothing, when the queue is full', async () => {
    const slots = new HookSlots({ processes: 1, queue: 2, authsPerHost: 10 });
    granted(await slots.acquire());
    void slots.acquire();
    void slots.acquire();
    const over = await slots.acquire();
    assert.equal(over.ok, false);
    assert.match((over as { busy: string }).busy, /^busy: limits\.hookProcesses .* is full$/);
    assert.match(slots.refusal() ?? '', /^busy: /, 'refusal() tells ahead of time');
    assert.equal(slots.stats().queued, 2);
  });

  it('a queued job whose signal aborts leaves the queue, and its place is free', async () => {
    const slots = new HookSlots({ processes: 1, queue: 1, authsPerHost: 10 });
    const release = granted(await slots.acquire());
    const controller = new AbortController();
    const waiting = slots.acquire({}, controller.signal);
    assert.ok(slots.refusal(), 'full now');
    controller.abort();
    assert.deepEqual(await waiting, { ok: false, cancelled: true });
    assert.equal(slots.stats().queued, 0);
    assert.equal(slots.refusal(), undefined, 'the queue has room again');
    const next = slots.acquire();
    release();
    granted(await next);
    assert.equal(slots.stats().running, 1, 'the aborted job never took the freed slot');
  });

  it('an already aborted signal starts nothing', async () => {
    const slots = new HookSlots({ processes: 1, queue: 1, authsPerHost: 1 });
    assert.deepEqual(await slots.acquire({}, AbortSignal.abort()), { ok: false, cancelled: true });
    assert.equal(slots.stats().running, 0);
  });

  it('caps auth hooks per host without holding up other hosts or other hooks', async () => {
    const slots = new HookSlots({ processes: 10, queue: 10, authsPerHost: 1 });
    const first = granted(await slots.acquire({ authHost: 'a' }));
    const secondA = slots.acquire({ authHost: 'a' });
    assert.equal(await settled(secondA), false);
    granted(await slots.acquire({ authHost: 'b' }));
    granted(await slots.acquire());
    first();
    granted(await secondA);
  });

  it('names the host cap when that is what is full', async () => {
    const slots = new HookSlots({ processes: 10, queue: 0, authsPerHost: 1 });
    granted(await slots.acquire({ authHost: 'a' }));
    const over = await slots.acquire({ authHost: 'a' });
    assert.match((over as { busy: string }).busy, /^busy: limits\.authsPerHost .* for a, .* is full$/);
  });

  it('a close hook waits even when the queue is full: the app must hear of every socket that went', async () => {
    const slots = new HookSlots({ processes: 1, queue: 1, authsPerHost: 1 });
    const release = granted(await slots.acquire());
    void slots.acquire();
    assert.equal((await slots.acquire()).ok, false, 'full');
    const close = slots.acquire({ neverBusy: true });
    assert.equal(slots.stats().queued, 2);
    release();
    assert.equal(await settled(close), false, 'in its turn, behind the one queued before it');
  });

  it('close hooks waiting take no place in the queue bound: a mass disconnect does not make every other hook busy', async () => {
    const slots = new HookSlots({ processes: 1, queue: 2, authsPerHost: 5 });
    granted(await slots.acquire());
    for (let i = 0; i < 50; i++) void slots.acquire({ neverBusy: true });
    assert.equal(slots.refusal(), undefined, 'fifty close hooks waiting, yet the queue has room');
    const waiting = slots.acquire();
    assert.equal(await settled(waiting), false, 'it waits (behind the close hooks), it is not refused');
    void slots.acquire();
    assert.equal((await slots.acquire()).ok, false, 'two bounded waiters fill a queue of 2');
  });

  it('a refusal costs no more with a mass disconnect\'s close hooks waiting: the bound does not walk them', async () => {
    const refusals = async (closes: number): Promise<number> => {
      const slots = new HookSlots({ processes: 1, queue: 1, authsPerHost: 5 });
      granted(await slots.acquire());
      void slots.acquire();
      for (let i = 0; i < closes; i++) void slots.acquire({ neverBusy: true });
      const started = performance.now();
      for (let i = 0; i < 2000; i++) {
        assert.ok(slots.refusal());
        assert.equal((await slots.acquire({ authHost: 'h' })).ok, false);
      }
      return performance.now() - started;
    };
    const alone = await refusals(0);
    // Walking 100,000 waiters per refusal took about 1 ms each here (2 s in all) against a few ms for all 2000 alone.
    const behindCloses = await refusals(100_000);
    assert.ok(behindCloses < Math.max(100, 10 * alone), `2000 refusals took ${behindCloses.toFixed(0)} ms behind 100,000 close hooks, ${alone.toFixed(0)} ms alone`);
  });

  it("serves waiting hosts in turn: one host's backlog does not hold another's hook behind all of it", async () => {
    const slots = new HookSlots({ processes: 1, queue: 100, authsPerHost: 10 });
    const order: string[] = [];
    // Each hook that gets the slot ends a turn later, so the next waiter is chosen by the queue alone.
    const wait = (host: string) => slots.acquire({ host }).then((a) => (order.push(host), setImmediate(granted(a))));
    const first = granted(await slots.acquire({ host: 'a' }));
    const waiting = [...Array.from({ length: 5 }, () => wait('a')), wait('b'), wait('c')];
    first();
    await Promise.all(waiting);
    assert.deepEqual(order, ['a', 'b', 'c', 'a', 'a', 'a', 'a']);
  });

  it('gives a host holding fewer places one of the fullest host\'s when the queue is full, refusing that host\'s newest', async () => {
    const slots = new HookSlots({ processes: 1, queue: 4, authsPerHost: 10 });
    granted(await slots.acquire({ host: 'a' }));
    const aWaiting = Array.from({ length: 4 }, () => slots.acquire({ host: 'a' }));
    // Full, and a holds all of it: a fifth of a's is refused, b's first is let in for a's newest.
    assert.match(((await slots.acquire({ host: 'a' })) as { busy: string }).busy, /hookProcesses/);
    const b = slots.acquire({ host: 'b' });
    const refused = await aWaiting[3]!;
    assert.equal(refused.ok, false);
    assert.match((refused as { busy: string }).busy, /shared between hosts/);
    assert.equal(await settled(b), false, 'b waits for a slot');
    assert.equal(slots.stats().queued, 4);
    // a holds 3, b 1: b's second gets a's newest place too (3 > 1 + 1); its third would not (2 > 2 + 1 is false).
    const b2 = slots.acquire({ host: 'b' });
    assert.equal((await aWaiting[2]!).ok, false);
    assert.equal((await slots.acquire({ host: 'b' })).ok, false);
    assert.equal(await settled(b2), false);
    assert.equal(slots.stats().queued, 4);
  });

  it('a release counts once, however often it is called (a failure path and a finally)', async () => {
    const slots = new HookSlots({ processes: 1, queue: 5, authsPerHost: 1 });
    const release = granted(await slots.acquire({ authHost: 'h' }));
    release();
    release();
    assert.equal(slots.stats().running, 0);
    granted(await slots.acquire({ authHost: 'h' }));
    assert.equal(slots.stats().running, 1);
  });

  it('new limits apply at once and keep what runs counted (a reload)', async () => {
    const slots = new HookSlots({ processes: 1, queue: 5, authsPerHost: 5 });
    const release = granted(await slots.acquire());
    const waiting = slots.acquire();
    slots.configure({ processes: 2, queue: 5, authsPerHost: 5 });
    granted(await waiting);
    assert.equal(slots.stats().running, 2);
    release();
    assert.equal(slots.stats().running, 1);
  });
});

describe('OneshotRunner under HookSlots', () => {
  const job = { host: 'h', hook: 'auth' as const, token: 't', socket: 's' };
  const runner = (slots: HookSlots, script: string) => new OneshotRunner({ command: ['sh', '-c', script, 'sh'], spawn: runtime.spawn, timeoutMs: 5000, slots, maxLine: 1024 });

  it('releases its slot when the process ends, well or badly', async () => {
    const slots = new HookSlots({ processes: 1, queue: 0, authsPerHost: 1 });
    assert.equal((await runner(slots, 'echo ok').run(job)).ok, true);
    assert.equal(slots.stats().running, 0);
    const failed = await runner(slots, 'exit 3').run(job);
    assert.equal(failed.ok, false);
    assert.equal(slots.stats().running, 0);
    assert.equal((await runner(slots, 'echo again').run(job)).ok, true, 'the one slot is still there');
  });

  it('answers busy at once, starting no process, when the queue is full', async () => {
    const slots = new HookSlots({ processes: 1, queue: 0, authsPerHost: 1 });
    const controller = new AbortController();
    const long = runner(slots, 'sleep 5').run(job, undefined, controller.signal);
    const started = performance.now();
    const busy = await runner(slots, 'echo never').run({ ...job, hook: 'connect' });
    assert.ok(performance.now() - started < 500);
    assert.deepEqual({ ok: busy.ok, busy: (busy as { busy?: true }).busy }, { ok: false, busy: true });
    controller.abort();
    const cancelled = await long;
    assert.deepEqual(cancelled, { ok: false, error: 'cancelled: the client went away', cancelled: true });
    assert.equal(slots.stats().running, 0);
  });
});
