// Which keys a webhook's endpoint may not know the state of: out, lost, or past the cap of lost ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnsureKeys } from '../../src/protocols/pusher/webhook-unsure.ts';

describe('webhook unsure keys', () => {
  it('a key is unsure while an event of it is out, and after it was lost until one is delivered', () => {
    const unsure = new UnsureKeys(10);
    unsure.sent(['a', 'a', 'b']);
    assert.deepEqual([unsure.has('a'), unsure.has('b'), unsure.has('c')], [true, true, false]);
    unsure.answered(['a'], true);
    assert.equal(unsure.has('a'), true, 'one of its two is still out');
    unsure.answered(['a', 'b'], true);
    assert.deepEqual([unsure.has('a'), unsure.has('b')], [false, false]);
    unsure.sent(['a']);
    unsure.answered(['a'], false);
    assert.equal(unsure.has('a'), true, 'lost');
    unsure.lose('c');
    assert.equal(unsure.has('c'), true, 'dropped before it went out');
    unsure.sent(['a']);
    unsure.answered(['a'], true);
    assert.equal(unsure.has('a'), false, 'delivered again');
  });

  it('past its cap of lost keys, forgets the one lost longest ago', () => {
    const unsure = new UnsureKeys(2);
    unsure.lose('a');
    unsure.lose('b');
    unsure.lose('a');
    unsure.lose('c');
    assert.deepEqual(['a', 'b', 'c', 'z'].map((key) => unsure.has(key)), [true, false, true, false], 'b was lost longest ago: a was lost again after it');
  });
});
