import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogBudget, OVERFLOW } from '../../src/ops/log-budget.ts';
import { createLogger } from '../../src/ops/log.ts';
import { throttledLog } from '../../src/ops/throttled-log.ts';
import { logObserver } from '../../src/ops/log-observer.ts';

/** A clock the test moves. */
function clock() {
  const state = { now: 0 };
  return Object.assign(state, { read: () => state.now });
}

describe('LogBudget', () => {
  it('writes a burst whole and counts the rest, per key', () => {
    const time = clock();
    const budget = new LogBudget<string>({ burst: 3, perSecond: 1, windowMs: 1000, overflow: 'other', now: time.read });
    const a = Array.from({ length: 10 }, () => budget.take('a', () => 'A'));
    assert.deepEqual(a, [true, true, true, false, false, false, false, false, false, false]);
    assert.equal(budget.take('b', () => 'B'), true, 'another key has a bucket of its own');
    time.now = 999;
    assert.deepEqual(budget.sweep(), [], 'nothing is summed before a window has passed since the first line counted');
    assert.equal(Math.round(budget.nextSweep()!), 1000);
    time.now = 1000;
    assert.deepEqual(budget.sweep(), [{ key: 'a', detail: 'A', count: 7 }]);
    assert.equal(budget.take('a', () => 'A'), true, 'a second later, a line a second is written again');
    assert.equal(budget.take('a', () => 'A'), false);
  });

  it('writes a few lines a second, however long a flood lasts, and sums the rest each window', () => {
    const time = clock();
    const budget = new LogBudget<string>({ burst: 10, perSecond: 5, windowMs: 1000, overflow: '', now: time.read });
    let written = 0;
    let summed = 0;
    let summaries = 0;
    // 10 s of 1000 lines a second, swept as the timer would.
    for (let ms = 0; ms < 10_000; ms++) {
      time.now = ms;
      if (budget.take('flood', () => 'F')) written++;
      for (const { count } of budget.sweep()) {
        summed += count;
        summaries++;
      }
    }
    time.now = 11_000;
    for (const { count } of budget.sweep()) {
      summed += count;
      summaries++;
    }
    assert.equal(written + summed, 10_000, 'each line written or counted, once');
    assert.ok(written <= 10 + 5 * 10, `${written} lines written`);
    assert.ok(summaries >= 9 && summaries <= 11, `${summaries} summaries: one a second`);
  });

  it('asks for the detail only when a key is new', () => {
    const budget = new LogBudget<number>({ burst: 1, overflow: 0, now: () => 0 });
    let asked = 0;
    for (let i = 0; i < 100; i++) budget.take('k', () => ++asked);
    assert.equal(asked, 1);
  });

  it('forgets a key once its bucket is full again and nothing is counted', () => {
    const time = clock();
    const budget = new LogBudget<string>({ burst: 2, perSecond: 2, overflow: '', now: time.read });
    budget.take('a', () => 'A');
    budget.take('a', () => 'A');
    assert.equal(budget.held, 1);
    assert.equal(budget.nextSweep(), 1000, 'when its bucket is full again');
    time.now = 999;
    budget.sweep();
    assert.equal(budget.held, 1);
    time.now = 1000;
    assert.deepEqual(budget.sweep(), []);
    assert.equal(budget.held, 0);
    assert.equal(budget.nextSweep(), undefined);
  });

  it('puts keys past its bound in one shared bucket', () => {
    const budget = new LogBudget<string>({ burst: 1, keys: 2, overflow: 'other', now: () => 0 });
    assert.equal(budget.take('a', () => 'A'), true);
    assert.equal(budget.take('b', () => 'B'), true);
    const made = Array.from({ length: 1000 }, (_, i) => budget.take(`peer-${i}`, () => 'X'));
    assert.equal(made.filter(Boolean).length, 1, 'the shared bucket writes its own burst');
    assert.equal(budget.held, 3);
    assert.equal(budget.take('a', () => 'A'), false, 'a key held keeps its own bucket');
    assert.equal(budget.take(OVERFLOW, () => 'ignored'), false);
  });
});

describe('throttledLog', () => {
  /** A throttled log on a test clock: its lines, and the callbacks it asked for, run by `advance`. */
  function setup(burst: number, perSecond: number) {
    const time = clock();
    const written: string[] = [];
    const log = createLogger((line) => written.push(line.slice(25)), 'debug');
    const due: Array<{ at: number; callback: () => void }> = [];
    const limited = throttledLog(log, { burst, perSecond, windowMs: 1000, now: time.read, later: (callback, ms) => due.push({ at: time.now + ms, callback }) });
    const advance = (to: number) => {
      time.now = to;
      for (let next = due.findIndex((d) => d.at <= to); next >= 0; next = due.findIndex((d) => d.at <= to)) due.splice(next, 1)[0]!.callback();
    };
    return { written, limited, advance, due };
  }

  it('writes a burst whole, then one summary with the count a second later', () => {
    const { written, limited, advance, due } = setup(2, 1);
    for (let i = 0; i < 1234; i++) limited('origin', 'warn', 'upgrade refused', { host: 'a.test', origin: `https://evil${i}.test` }, { host: 'a.test', kind: 'origin' });
    assert.deepEqual(written, ['WARN  upgrade refused host=a.test origin=https://evil0.test', 'WARN  upgrade refused host=a.test origin=https://evil1.test']);
    assert.equal(due.length, 1, 'one timer, not one per line');
    advance(999);
    assert.equal(written.length, 2);
    advance(1001);
    assert.deepEqual(written.slice(2), ['WARN  upgrade refused host=a.test kind=origin suppressed=1232 seconds=1']);
    advance(10_000);
    assert.equal(due.length, 0, 'no timer once no key is held');
  });

  it('sums each second while a flood lasts, and writes a one-off line whole', () => {
    const { written, limited, advance } = setup(1, 1);
    const line = (n: number) => limited('k', 'info', 'limit', { n }, { kind: 'k' });
    line(1);
    line(2);
    line(3);
    advance(1001);
    line(4);
    line(5);
    advance(2002);
    advance(5000);
    line(6);
    advance(7000);
    assert.deepEqual(written, ['INFO  limit n=1', 'INFO  limit kind=k suppressed=2 seconds=1', 'INFO  limit n=4', 'INFO  limit kind=k suppressed=1 seconds=1', 'INFO  limit n=6']);
  });

  it("sums a new key's flood a second on, though another key's timer is set for later (its bucket refilling)", () => {
    const { written, limited, advance } = setup(20, 5);
    for (let i = 0; i < 30; i++) limited('a', 'warn', 'hook stderr', { n: i }, { host: 'a.test' });
    // Key a's summary; the next sweep it needs is when its bucket is full again, 3 s on.
    advance(1001);
    assert.deepEqual(written.slice(20), ['WARN  hook stderr host=a.test suppressed=10 seconds=1']);
    advance(1100);
    for (let i = 0; i < 30; i++) limited('b', 'error', 'hook failed', { n: i }, { host: 'b.test' });
    advance(2200);
    assert.deepEqual(written.slice(41), ['ERROR hook failed host=b.test suppressed=10 seconds=1'], 'the summary was due at 2.1 s');
  });

  it('writes what it counted when the process is about to exit, before its second is up', () => {
    const time = clock();
    const written: string[] = [];
    const log = createLogger((line) => written.push(line.slice(25)));
    const limited = throttledLog(log, { burst: 1, now: time.read, later: () => {} });
    for (let i = 0; i < 4; i++) limited('stopping', 'info', 'upgrade refused', { reason: 'the gateway is stopping' }, { kind: 'stopping' });
    time.now = 10;
    for (const flush of log.held ?? []) flush();
    assert.deepEqual(written, ['INFO  upgrade refused reason="the gateway is stopping"', 'INFO  upgrade refused kind=stopping suppressed=3 seconds=1']);
    for (const flush of log.held ?? []) flush();
    assert.equal(written.length, 2, 'each count once');
  });

  it('sums keys past its bound in a line of its own', () => {
    const time = clock();
    const written: string[] = [];
    const due: Array<() => void> = [];
    const limited = throttledLog(createLogger((line) => written.push(line.slice(25))), { burst: 1, keys: 1, now: time.read, later: (callback) => due.push(callback) });
    for (let i = 0; i < 5; i++) limited(`app-${i}`, 'warn', 'pusher api refused', { app: `app-${i}` }, { status: 401 });
    time.now = 1000;
    due.shift()!();
    assert.deepEqual(written, ['WARN  pusher api refused app=app-0', 'WARN  pusher api refused app=app-1', 'WARN  log lines suppressed note="too many kinds of line at once to sum each" suppressed=3 seconds=1']);
  });
});

describe('refused upgrades in the log', () => {
  it("keep a warning that the gateway is full apart from a flood of a peer's own info-level refusals of the same kind", () => {
    const written: string[] = [];
    const observer = logObserver(createLogger((line) => written.push(line.slice(25)), 'warn'));
    for (let i = 0; i < 50; i++) observer.refused!({ host: 'a.test', kind: 'limit', reason: 'too many pings before auth finished', level: 'info' }, 'a.test');
    observer.refused!({ host: 'a.test', kind: 'limit', reason: 'every socket place is taken', level: 'warn' }, 'a.test');
    assert.deepEqual(written, ['WARN  upgrade refused host=a.test reason="every socket place is taken"']);
  });
});

describe('hook lines in the log', () => {
  it('are throttled per configured host and kind: a flood of one sums away no other line, and ok runs stay debug lines', () => {
    const written: string[] = [];
    const observer = logObserver(createLogger((line) => written.push(line.slice(25)), 'debug'));
    const run = { host: 'a.test', socket: 's', hook: 'receive' as const, label: 'a.test', mode: 'resident', seconds: 0 };
    for (let i = 0; i < 30; i++) observer.hook!({ ...run, outcome: 'ok', stderr: 'PHP Warning' });
    for (let i = 0; i < 30; i++) observer.hook!({ ...run, outcome: 'failed', error: 'exited with code 1' });
    for (let i = 0; i < 30; i++) observer.hook!({ ...run, outcome: 'busy', error: 'queue full' });
    observer.hook!({ ...run, host: 'b.test', label: 'b.test', outcome: 'ok', stderr: 'PHP Warning' });
    for (let i = 0; i < 30; i++) observer.hook!({ ...run, outcome: 'ok' });
    const count = (pattern: RegExp) => written.filter((line) => pattern.test(line)).length;
    assert.equal(count(/^WARN  hook stderr host=a\.test socket=s hook=receive ms=0 stderr="PHP Warning"$/), 20);
    assert.equal(count(/^ERROR hook failed host=a\.test socket=s hook=receive ms=0 error="exited with code 1"$/), 20);
    assert.equal(count(/^WARN  hook refused host=a\.test socket=s hook=receive error="queue full"$/), 20);
    assert.equal(count(/^WARN  hook stderr host=b\.test /), 1, "another host's line is written whole");
    assert.equal(count(/^DEBUG hook host=a\.test /), 30, 'every ok run without stderr');
  });
});
