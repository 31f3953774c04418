/**
 * The requests a node waits on (src/cluster/waiting-requests.ts): done once
 * every expected node answered, or at the deadline, with one timer for all;
 * answers counted once per node; unknown nodes' answers bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_UNKNOWN_ANSWERS, WaitingRequests } from '../../src/cluster/waiting-requests.ts';

const settled = async (promise: Promise<void>): Promise<boolean> => {
  let done = false;
  void promise.then(() => (done = true));
  // Two turns of microtasks: a resolved promise's then has run by now.
  await Promise.resolve();
  await Promise.resolve();
  return done;
};

describe('the requests a node waits on', () => {
  it('stops waiting once every expected node has answered, each counted once', async () => {
    const waiting = new WaitingRequests(60_000);
    const { results, done } = waiting.wait('r1', new Set(['a', 'b']));
    waiting.answer('r1', 'a', 1);
    waiting.answer('r1', 'a', 1);
    assert.equal(await settled(done), false, 'a twice is not a and b');
    waiting.answer('r1', 'late-joiner', 3);
    assert.equal(await settled(done), false, 'a node it did not expect does not stand in for b');
    waiting.answer('r1', 'b', 2);
    assert.equal(await settled(done), true);
    assert.deepEqual([...results], [['a', 1], ['late-joiner', 3], ['b', 2]]);
    assert.equal(waiting.size, 0);
    assert.equal(waiting.answer('r1', 'b', 9), undefined, 'an answer after the end is dropped');
    assert.equal(results.get('b'), 2);
  });

  it('stops each request at its own deadline, the earliest first', async () => {
    const waiting = new WaitingRequests(40);
    const started = performance.now();
    const first = waiting.wait('r1', new Set(['a', 'b']));
    const second = waiting.wait('r2', new Set(['a']));
    waiting.answer('r1', 'a', 1);
    await first.done;
    assert.ok(performance.now() - started >= 39, 'not before its deadline');
    assert.deepEqual([...first.results], [['a', 1]], 'with what came by then');
    await second.done;
    assert.equal(waiting.size, 0);
    const third = waiting.wait('r3', new Set(['a']));
    assert.equal(waiting.size, 1, 'a request after a sweep is waited on again');
    await third.done;
    assert.equal(waiting.size, 0);
  });

  it('takes at most MAX_UNKNOWN_ANSWERS answers from nodes it did not expect, and says so once', () => {
    const waiting = new WaitingRequests(60_000);
    const { results } = waiting.wait('r1', new Set(['a']));
    for (let i = 0; i < MAX_UNKNOWN_ANSWERS + 1; i++) assert.equal(waiting.answer('r1', `made-up-${i}`, i), undefined);
    assert.equal(waiting.answer('r1', 'made-up-again', 0), 'overflow');
    assert.equal(waiting.answer('r1', 'and-again', 0), undefined, 'said once per request');
    assert.equal(results.size, MAX_UNKNOWN_ANSWERS + 1);
    waiting.answer('r1', 'a', 'still');
    assert.equal(results.get('a'), 'still', 'the expected node is still heard');
    assert.equal(waiting.size, 0);
  });

  it('stops every request when the node stops', async () => {
    const waiting = new WaitingRequests(60_000);
    const all = ['r1', 'r2', 'r3'].map((id) => waiting.wait(id, new Set(['a'])).done);
    waiting.finishAll();
    await Promise.all(all);
    assert.equal(waiting.size, 0);
  });
});
