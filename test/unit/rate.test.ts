import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { takeFrame } from '../../src/core/rate.ts';

/** Takes a frame at each time of `at` (ms), the rate and burst given; true for each taken. */
function run(at: number[], perSecond: number | ((ms: number) => number), burst: number): boolean[] {
  let due = 0;
  return at.map((ms) => {
    const next = takeFrame(due, ms, typeof perSecond === 'number' ? perSecond : perSecond(ms), burst);
    if (next === undefined) return false;
    due = next;
    return true;
  });
}

describe('takeFrame', () => {
  it('takes a burst at once, then one frame an interval', () => {
    assert.deepEqual(run([0, 0, 0, 0], 1, 3), [true, true, true, false]);
    // After the burst at 0, one frame is due each second.
    assert.deepEqual(run([0, 0, 0, 999, 1000, 1500, 2000], 1, 3), [true, true, true, false, true, false, true]);
  });

  it('fills the burst again while no frame comes, never past it', () => {
    assert.deepEqual(run([0, 0, 100_000, 100_000, 100_000], 1, 2), [true, true, true, true, false]);
  });

  it('takes frames at exactly the rate over a long run, its float sums rounded in its favour', () => {
    const at = Array.from({ length: 30_000 }, (_, i) => (i * 1000) / 3);
    assert.ok(run(at, 3, 1).every(Boolean));
  });

  it('applies a lowered rate from the next frame on, with no debt from the old rate (a reload)', () => {
    // A frame at 0 and one at 60 s at 100/s, then the rate is 50/s: the next frame is taken.
    assert.deepEqual(run([0, 60_000, 60_001], (ms) => (ms < 60_001 ? 100 : 50), 10), [true, true, true]);
    // A burst spent at the old rate (30 ms of it at 10 ms a frame) is time spent: at 20 ms a frame, a flood gets two more.
    const spent = run([0, 0, 0, 0, 10, 10, 10], (ms) => (ms === 0 ? 100 : 50), 3);
    assert.deepEqual(spent, [true, true, true, false, true, true, false]);
  });

  it('takes every frame at an endless rate (1e999 in a config file)', () => {
    assert.deepEqual(run([0, 0, 0, 0, 1], Infinity, 1), [true, true, true, true, true]);
  });
});
