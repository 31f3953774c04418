/**
 * One byte budget for history and replay (limits.historyBytes): the oldest
 * frames go first, whichever stream or gone token holds them; what is
 * released comes off the count; reads of streams never published to cost
 * nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENTRY_OVERHEAD, MemoryBudget, STREAM_OVERHEAD, reportEvictions } from '../../src/core/history/budget.ts';
import { logObserver } from '../../src/ops/log-observer.ts';
import type { Logger } from '../../src/ops/log.ts';
import { MemoryHistory } from '../../src/core/history/history.ts';
import { Replay } from '../../src/core/history/replay.ts';
import { ReplaySync } from '../../src/core/history/replay-sync.ts';
import { ConfigError, parseConfig } from '../../src/config/config.ts';
import { holdWhileRecovering } from '../../src/core/history/recovering.ts';

const limits = { size: 100, ttlMs: 60_000 };
/** A frame whose entry costs exactly 1000 bytes. */
const frame = (tag: string): string => tag + 'x'.repeat(1000 - ENTRY_OVERHEAD - tag.length);
const held = (h: MemoryHistory, stream: string, now = 0) => h.since(stream, undefined, limits, now).publications.map((p) => p.frame[0]);

describe('MemoryBudget with history', () => {
  it('evicts the oldest publications first, across streams, and forgets streams left empty', () => {
    // Three streams and four frames fit; a fifth frame evicts the oldest of all.
    const budget = new MemoryBudget(3 * STREAM_OVERHEAD + 4000);
    const h = new MemoryHistory(budget);
    h.append('a', frame('1'), limits, 0);
    h.append('b', frame('2'), limits, 0);
    h.append('a', frame('3'), limits, 0);
    h.append('c', frame('4'), limits, 0);
    assert.equal(budget.bytes, 3 * STREAM_OVERHEAD + 4000);
    assert.equal(budget.evicted, 0);
    h.append('c', frame('5'), limits, 0);
    assert.deepEqual([held(h, 'a'), held(h, 'b'), held(h, 'c')], [['3'], ['2'], ['4', '5']]);
    h.append('a', frame('6'), limits, 0);
    // b's only frame was the oldest: b goes altogether, which frees its own cost as well.
    assert.deepEqual([held(h, 'a'), held(h, 'c')], [['3', '6'], ['4', '5']]);
    assert.equal(h.size, 2);
    assert.equal(budget.evicted, 2);
    assert.ok(budget.bytes <= budget.limit, `${budget.bytes} <= ${budget.limit}`);
    assert.equal(budget.bytes, 2 * STREAM_OVERHEAD + 4000);
  });

  it('tells a client from before an evicted publication that it did not recover, and one after it that it did', () => {
    const budget = new MemoryBudget(2 * STREAM_OVERHEAD + 3000);
    const h = new MemoryHistory(budget);
    const first = h.append('s', frame('1'), limits, 0);
    h.append('s', frame('2'), limits, 0);
    h.append('s', frame('3'), limits, 0);
    h.append('other', frame('4'), limits, 0);
    assert.equal(budget.evicted, 1);
    const before = h.since('s', { epoch: first.epoch, offset: 0 }, limits, 0);
    assert.deepEqual([before.recovered, before.publications.map((p) => p.offset)], [false, [2, 3]]);
    const after = h.since('s', first, limits, 0);
    assert.deepEqual([after.recovered, after.publications.map((p) => p.offset)], [true, [2, 3]]);
    // Evicted to empty: forgotten, and a later publication is another epoch, so its old position is not taken as current.
    h.append('other', frame('5'), limits, 0);
    h.append('other', frame('6'), limits, 0);
    assert.equal(held(h, 's').length, 0);
    const next = h.append('s', frame('7'), limits, 0);
    assert.notEqual(next.epoch, first.epoch);
    assert.equal(h.since('s', { epoch: first.epoch, offset: 3 }, limits, 0).recovered, false);
  });

  it('does not keep a frame larger than the whole budget', () => {
    const budget = new MemoryBudget(2048);
    const h = new MemoryHistory(budget);
    const position = h.append('s', 'y'.repeat(4096), limits, 0);
    assert.equal(position.offset, 1);
    assert.equal(h.size, 0);
    assert.equal(budget.bytes, 0);
    assert.equal(budget.evicted, 1);
    assert.equal(h.since('s', position, limits, 0).recovered, false);
  });

  it('counts bytes back to 0 as publications expire, are cut by size, and emptied streams are forgotten', () => {
    const budget = new MemoryBudget();
    const h = new MemoryHistory(budget);
    const small = { size: 2, ttlMs: 1000 };
    for (let i = 0; i < 5; i++) h.append('s', frame(String(i)), small, 0);
    h.append('t', frame('t'), small, 500);
    assert.equal(budget.bytes, 2 * STREAM_OVERHEAD + 3000, 'size 2 keeps 2 of 5');
    assert.equal(budget.entries, 3);
    h.sweep(1200);
    assert.equal(budget.bytes, 2 * STREAM_OVERHEAD + 1000, 's expired, t not yet');
    h.sweep(2000);
    assert.equal(budget.bytes, 2 * STREAM_OVERHEAD, 'emptied streams are kept for their epoch a while, at their own cost');
    h.sweep(2000 + 3_600_000);
    assert.equal(h.size, 0);
    assert.equal(budget.bytes, 0);
    assert.equal(budget.entries, 0);
    assert.equal(budget.evicted, 0);
  });

  it('forgets streams emptied by their ttl before it evicts any publication', () => {
    // Two streams and three frames fit: the third frame needs the quiet stream's own cost.
    const budget = new MemoryBudget(2 * STREAM_OVERHEAD + 3000);
    const h = new MemoryHistory(budget);
    h.append('quiet', frame('q'), { size: 5, ttlMs: 10 }, 0);
    h.append('a', frame('1'), limits, 0);
    h.sweep(100);
    assert.equal(h.size, 2, 'the emptied stream is kept for its epoch');
    h.append('b', frame('2'), limits, 100);
    h.append('b', frame('3'), limits, 100);
    assert.equal(h.size, 2, 'the quiet stream made room');
    assert.deepEqual([held(h, 'a'), held(h, 'b')], [['1'], ['2', '3']]);
    assert.equal(budget.evicted, 0);
  });

  it('evicts at once when the budget is made smaller (a reload)', () => {
    const budget = new MemoryBudget();
    const h = new MemoryHistory(budget);
    for (let i = 0; i < 10; i++) h.append(`s${i}`, frame(String(i)), limits, 0);
    budget.limit = 3 * (STREAM_OVERHEAD + 1000);
    assert.equal(h.size, 3);
    assert.deepEqual([held(h, 's7'), held(h, 's8'), held(h, 's9')], [['7'], ['8'], ['9']]);
    assert.equal(budget.evicted, 7);
  });

  it('still evicts the oldest after many publications were dropped by size behind it', () => {
    const budget = new MemoryBudget(2 * STREAM_OVERHEAD + 3000);
    const h = new MemoryHistory(budget);
    h.append('old', frame('o'), limits, 0);
    for (let i = 0; i < 20_000; i++) h.append('busy', frame(String(i % 10)), { size: 2, ttlMs: 60_000 }, 0);
    assert.equal(budget.evicted, 0);
    assert.equal(budget.entries, 3);
    h.append('busy', frame('n'), { size: 3, ttlMs: 60_000 }, 0);
    assert.deepEqual([held(h, 'old'), held(h, 'busy', 0).length], [[], 3]);
    assert.equal(budget.evicted, 1);
  });
});

describe('reads of streams never published to', () => {
  it('create nothing and cost nothing', () => {
    const budget = new MemoryBudget();
    const h = new MemoryHistory(budget);
    for (let i = 0; i < 1000; i++) {
      h.top(`never:${i}`, limits, 0);
      h.since(`never:${i}`, undefined, limits, 0);
      h.since(`never:${i}`, { epoch: 'abcdefgh', offset: 3 }, limits, 0);
    }
    assert.equal(h.size, 0);
    assert.equal(budget.bytes, 0);
    h.sweep(0);
    assert.equal(h.size, 0);
  });

  it('give the epoch a first publication then takes, so a client that read the top misses nothing after it', () => {
    const h = new MemoryHistory();
    const top = h.top('room', limits, 0);
    assert.deepEqual(h.top('room', limits, 0), top, 'the same epoch on every read');
    assert.equal(top.offset, 0);
    assert.match(top.epoch, /^[\w-]{8}$/);
    assert.deepEqual(h.since('room', top, limits, 0), { top, recovered: true, publications: [] });
    const first = h.append('room', 'one', limits, 0);
    assert.deepEqual(first, { epoch: top.epoch, offset: 1 });
    const back = h.since('room', top, limits, 0);
    assert.deepEqual([back.recovered, back.publications], [true, [{ offset: 1, frame: 'one' }]]);
    assert.notEqual(h.top('elsewhere', limits, 0).epoch, top.epoch);
  });

  it('never give the epoch of a forgotten stream again: a position of it is not recovered', () => {
    const h = new MemoryHistory();
    const first = h.append('s', 'one', { size: 5, ttlMs: 10 }, 0);
    h.sweep(10 + 3_600_000);
    assert.equal(h.size, 0);
    const top = h.top('s', limits, 0);
    assert.notEqual(top.epoch, first.epoch);
    assert.equal(h.since('s', first, limits, 0).recovered, false);
    assert.equal(h.append('s', 'again', limits, 0).epoch, top.epoch);
    assert.equal(h.since('s', { epoch: first.epoch, offset: 1 }, limits, 0).recovered, false);
    // Another process (a restart) gives another epoch for the same name.
    assert.notEqual(new MemoryHistory().top('s', limits, 0).epoch, top.epoch);
  });
});

describe('MemoryBudget with replay', () => {
  const replayLimits = { windowMs: 60_000, frames: 100 };

  it('counts gone tokens\' frames in the same budget, oldest first with history', () => {
    const budget = new MemoryBudget(STREAM_OVERHEAD + 3000);
    const h = new MemoryHistory(budget);
    const r = new Replay(budget);
    r.left('h', 'gone', ['room'], replayLimits, 0);
    r.record('h', { kind: 'channel', channel: 'room' }, frame('r'));
    r.record('h', { kind: 'all' }, frame('r'));
    assert.equal(budget.bytes, 2000);
    h.append('s', frame('1'), limits, 0);
    assert.equal(budget.evicted, 0);
    h.append('s', frame('2'), limits, 0);
    assert.equal(budget.evicted, 1, 'the oldest frame of all was the token\'s');
    assert.deepEqual(held(h, 's'), ['1', '2']);
    const missed = r.back('h', 'gone', 1);
    assert.deepEqual([missed?.frames.length, missed?.dropped], [1, 1]);
    assert.equal(budget.bytes, STREAM_OVERHEAD + 2000, 'what the token got back is no longer counted');
    // Now the history's own oldest goes.
    r.left('h', 'again', [], replayLimits, 0);
    r.record('h', { kind: 'all' }, frame('r'));
    r.record('h', { kind: 'all' }, frame('r'));
    assert.deepEqual(held(h, 's'), ['2']);
    assert.equal(r.missed('h', 'again'), 2);
  });

  it('counts bytes back to 0 when tokens expire or are forgotten, and when a token is replaced by adoption', () => {
    const budget = new MemoryBudget();
    const r = new Replay(budget);
    r.left('h', 'a', [], replayLimits, 0);
    r.left('h', 'b', [], replayLimits, 0);
    for (let i = 0; i < 5; i++) r.record('h', { kind: 'all' }, frame(String(i)));
    assert.equal(budget.bytes, 10_000);
    r.adopt({ host: 'h', token: 'a', channels: [], windowMs: 1000, frames: [frame('x'), frame('y')], dropped: 0 }, replayLimits, 0);
    assert.equal(budget.bytes, 7000);
    r.forget('h', 'b');
    assert.equal(budget.bytes, 2000);
    r.sweep(2000);
    assert.equal(r.size, 0);
    assert.equal(budget.bytes, 0);
    assert.equal(budget.entries, 0);
  });

  it('keeps a gone token\'s frames within the budget however many are cast to it', () => {
    const budget = new MemoryBudget(10_000);
    const r = new Replay(budget);
    r.left('h', 'gone', [], { windowMs: 60_000, frames: 1_000_000 }, 0);
    for (let i = 0; i < 1000; i++) r.record('h', { kind: 'token', token: 'gone' }, frame('z'));
    assert.equal(budget.bytes, 10_000);
    assert.equal(r.missed('h', 'gone'), 1000);
    assert.deepEqual(r.back('h', 'gone', 1)?.dropped, 990);
    assert.equal(budget.bytes, 0);
  });
});

describe('the budget\'s warning', () => {
  it('is logged when the budget first evicts, then at most once a minute', () => {
    const lines: string[] = [];
    const log = { warn: (event: string, fields: Record<string, unknown>) => lines.push(`${event} ${JSON.stringify(fields)}`) } as unknown as Logger;
    let clock = 0;
    const budget = new MemoryBudget(STREAM_OVERHEAD + 1000);
    const observer = logObserver(log);
    reportEvictions(budget, (full) => observer.notice!({ kind: 'historyBudgetFull', ...full }), () => clock);
    const h = new MemoryHistory(budget);
    h.append('s', frame('1'), limits, 0);
    assert.equal(lines.length, 0);
    h.append('s', frame('2'), limits, 0);
    clock = 30_000;
    h.append('s', frame('3'), limits, 0);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^history budget full .*"budget":1256.*"evicted":1/);
    clock = 61_000;
    h.append('s', frame('4'), limits, 0);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /"evicted":2,"evictedTotal":3/);
  });
});

describe('a replay sync during a flood', () => {
  it('gives up, rather than noting casts without end, past its limit', () => {
    const replay = new Replay();
    const sync = new ReplaySync(5000);
    sync.split(replay);
    for (let i = 0; i < 10; i++) sync.cast('h', { kind: 'all' }, frame(String(i)));
    assert.equal(sync.overflowed, true);
    const merged = sync.merge(replay, [[{ host: 'h', token: 't', channels: [], windowMs: 1000, frames: ['"a"'], dropped: 0 }]], { limits: () => ({ windowMs: 1000, frames: 10 }), present: () => false });
    assert.deepEqual(merged, { adopted: 0, forgotten: 0, invalid: 0 });
    assert.equal(replay.size, 0);
  });
});

describe('publications held for a socket that recovers from Redis', () => {
  it('are held up to the limit, then dropped altogether and said lost', () => {
    const held = { entries: [] as Array<{ position: { epoch: string; offset: number }; frame: string }>, limit: 3, lost: false };
    for (let offset = 1; offset <= 3; offset++) holdWhileRecovering(held, { epoch: 'e', offset }, String(offset));
    assert.deepEqual([held.entries.map((e) => e.frame), held.lost], [['1', '2', '3'], false]);
    for (let offset = 4; offset <= 1000; offset++) holdWhileRecovering(held, { epoch: 'e', offset }, String(offset));
    assert.deepEqual([held.entries.length, held.lost], [0, true]);
  });
});

describe('limits.historyBytes', () => {
  it('is 64 MiB unless said, and at least 1024 bytes', () => {
    assert.equal(parseConfig({ hosts: { 'a.test': '/srv/a/app.php' } }, 'f.json', '/').limits.historyBytes, 67_108_864);
    assert.equal(parseConfig({ hosts: { 'a.test': '/srv/a/app.php' }, limits: { historyBytes: 1024 } }, 'f.json', '/').limits.historyBytes, 1024);
    for (const bad of [1023, 2.5, '1M']) {
      assert.throws(() => parseConfig({ hosts: { 'a.test': '/srv/a/app.php' }, limits: { historyBytes: bad } }, 'f.json', '/'), (error: unknown) => error instanceof ConfigError && /historyBytes/.test(error.message), String(bad));
    }
  });
});
