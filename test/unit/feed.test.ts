import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Feed } from '../../src/ops/feed.ts';

describe('dashboard Feed', () => {
  it('keeps the newest events, numbered, and gives those after a number', () => {
    const feed = new Feed(3, 10);
    for (const socket of ['a', 'b', 'c', 'd']) feed.push('connect', 'h', socket, undefined, 1);
    assert.deepEqual(feed.since().map((e) => [e.seq, e.socket]), [[2, 'b'], [3, 'c'], [4, 'd']]);
    assert.deepEqual(feed.since(3).map((e) => e.socket), ['d']);
    feed.push('hook failed', 'h', 'e', 'x'.repeat(400));
    assert.equal(feed.since(4)[0]!.detail!.length, 300);
  });
  it("takes a page's cursor only from the feed that numbered it", () => {
    // The process the page polled last: another node behind the balancer, or this one before a restart.
    const before = new Feed();
    for (const socket of ['a', 'b', 'c', 'd', 'e']) before.push('connect', 'h', socket);
    const now = new Feed();
    now.push('connect', 'h', 'x');
    now.push('disconnect', 'h', 'x');
    assert.notEqual(now.id, before.id);
    const read = (feed: string | undefined, after: number) => now.since(now.resume(feed, after)).map((e) => `${e.kind} ${e.socket}`);
    assert.deepEqual(read(before.id, 5), ['connect x', 'disconnect x'], 'a cursor ahead of this feed would miss its events');
    assert.deepEqual(read(before.id, 1), ['connect x', 'disconnect x'], 'one behind would repeat some: all, for the page to replace its feed with');
    assert.deepEqual(read('', 0), ['connect x', 'disconnect x'], "the page's first poll");
    assert.deepEqual(read(now.id, 1), ['disconnect x'], 'its own cursor means what it says');
    assert.deepEqual(read(undefined, 1), ['disconnect x'], 'a caller that sends no feed id at all gets `after` as before');
  });
  it('samples casts and the mean hook latency per interval from running totals', () => {
    const feed = new Feed(10, 2);
    feed.sample({ casts: 5, runs: 2, seconds: 0.1 }, 0);
    assert.deepEqual(feed.samples(), [], 'the first call is the baseline');
    feed.sample({ casts: 9, runs: 4, seconds: 0.14 }, 1000);
    feed.sample({ casts: 9, runs: 4, seconds: 0.14 }, 2000);
    feed.sample({ casts: 10, runs: 5, seconds: 0.15 }, 3000);
    const samples = feed.samples();
    assert.equal(samples.length, 2, 'only the newest are kept');
    assert.deepEqual(samples[0], { at: 2000, casts: 0, hookRuns: 0, hookMs: 0 });
    assert.equal(samples[1]!.casts, 1);
    assert.ok(Math.abs(samples[1]!.hookMs - 10) < 1e-9);
  });
});
