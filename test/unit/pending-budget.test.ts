/**
 * The process-wide budget of frames that wait for first-frame auth
 * (limits.preAuthBytes): shares add up against one limit, a refused take
 * holds nothing, and a share gives back all it holds exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingBudget } from '../../src/core/pending-budget.ts';

describe('PendingBudget', () => {
  it('counts every share against one limit and refuses what would pass it, taking nothing', () => {
    const budget = new PendingBudget();
    const a = budget.share();
    const b = budget.share();
    assert.equal(a.take(600, 1000), true);
    assert.equal(b.take(400, 1000), true, 'exactly at the limit still fits');
    assert.equal(b.take(1, 1000), false, 'one byte over the sum is refused, though b alone holds 400');
    assert.deepEqual([budget.bytes, a.held, b.held], [1000, 600, 400]);
  });

  it('gives back what a share holds once, whichever of its ends comes first, and takes nothing after', () => {
    const budget = new PendingBudget();
    const a = budget.share();
    const b = budget.share();
    a.take(300, 1000);
    a.take(300, 1000);
    b.take(200, 1000);
    a.release();
    assert.deepEqual([budget.bytes, a.held], [200, 0]);
    // A socket refused and then closed ends twice: the second end must not give back b's bytes.
    a.release();
    assert.equal(budget.bytes, 200);
    assert.equal(a.take(10, 1000), false, 'a released share is done');
    assert.equal(budget.bytes, 200);
    assert.equal(b.take(800, 1000), true, 'what a gave back is free for others');
    b.release();
    assert.equal(budget.bytes, 0);
  });

  it('reads the limit at each take, so a lower limit refuses new frames and keeps what is held', () => {
    const budget = new PendingBudget();
    const a = budget.share();
    a.take(800, 1000);
    assert.equal(budget.share().take(1, 500), false);
    assert.equal(budget.bytes, 800);
    a.release();
    assert.equal(budget.share().take(500, 500), true);
  });
});
