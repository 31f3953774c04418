// The waiting events of one webhook: order, batches, bytes, and an event
// that undoes the newest waiting one of its key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingEvents, type Toggle } from '../../src/protocols/pusher/webhook-pending.ts';

/** Queues an event as the webhook queue does: undoing a waiting opposite, or else appended; false when it undid one. */
function push(pending: PendingEvents, json: string, bytes: number, toggle?: Toggle): boolean {
  if (toggle && pending.undo(toggle)) return false;
  pending.append(json, bytes, toggle);
  return true;
}

const on = (key: string) => ({ key, on: true });
const off = (key: string) => ({ key, on: false });

describe('webhook pending events', () => {
  it('takes batches oldest first, within the count and the bytes (a larger first one goes alone)', () => {
    const pending = new PendingEvents();
    for (const [json, bytes] of [['a', 10], ['b', 10], ['c', 100], ['d', 10], ['e', 10], ['f', 10]] as const) push(pending, json, bytes);
    assert.deepEqual({ length: pending.length, bytes: pending.bytes }, { length: 6, bytes: 150 });
    assert.deepEqual(pending.take(5, 50).events, ['a', 'b']);
    assert.deepEqual(pending.take(5, 50).events, ['c']);
    assert.deepEqual(pending.take(2, 50).events, ['d', 'e']);
    assert.deepEqual({ length: pending.length, bytes: pending.bytes }, { length: 1, bytes: 10 });
    assert.deepEqual(pending.take(5, 50).events, ['f']);
    assert.deepEqual(pending.take(5, 50), { events: [], keys: [] });
  });

  it('an opposite takes the newest waiting event of its key out, from anywhere in the list', () => {
    const pending = new PendingEvents();
    push(pending, 'x', 1);
    assert.equal(push(pending, 'on a', 3, on('a')), true);
    push(pending, 'y', 1);
    assert.equal(push(pending, 'off a', 5, off('a')), false);
    assert.deepEqual({ length: pending.length, bytes: pending.bytes }, { length: 2, bytes: 2 });
    assert.equal(push(pending, 'on a', 3, on('a')), true, 'nothing of a waits now: queued');
    assert.deepEqual(pending.take(10, 100), { events: ['x', 'y', 'on a'], keys: ['a'] });
  });

  it('the same way twice (two nodes decided each) is queued, and the next opposite undoes the newest', () => {
    const pending = new PendingEvents();
    push(pending, 'on a 1', 1, on('a'));
    push(pending, 'on a 2', 1, on('a'));
    assert.equal(push(pending, 'off a', 1, off('a')), false);
    assert.deepEqual(pending.take(10, 100).events, ['on a 1']);
  });

  it('forgets an event once it is taken or shifted out: its opposite is queued then', () => {
    const pending = new PendingEvents();
    push(pending, 'on a', 1, on('a'));
    push(pending, 'on b', 1, on('b'));
    assert.deepEqual(pending.take(1, 100), { events: ['on a'], keys: ['a'] });
    assert.equal(push(pending, 'off a', 1, off('a')), true);
    assert.equal(pending.shift()?.json, 'on b');
    assert.equal(push(pending, 'off b', 1, off('b')), true);
    assert.deepEqual(pending.take(10, 100).events, ['off a', 'off b']);
  });

  it('keys are exact: another key, or an event without one, undoes nothing', () => {
    const pending = new PendingEvents();
    push(pending, 'on a', 1, on('a'));
    assert.equal(push(pending, 'off ab', 1, off('ab')), true);
    assert.equal(push(pending, 'plain', 1), true);
    assert.equal(pending.length, 3);
  });

  it('as a list of held events: append keeps a due time, firstDue and shift give the oldest, undo finds an opposite', () => {
    const pending = new PendingEvents();
    assert.equal(pending.firstDue, undefined);
    pending.append('off a', 1, off('a'), 100);
    pending.append('off b', 2, off('b'), 150);
    assert.equal(pending.firstDue, 100);
    assert.equal(pending.undo(off('a')), false, 'the same way undoes nothing');
    assert.equal(pending.undo(on('b')), true);
    assert.deepEqual(pending.shift(), { json: 'off a', bytes: 1, toggle: off('a') });
    assert.deepEqual({ length: pending.length, bytes: pending.bytes, firstDue: pending.firstDue, next: pending.shift() }, { length: 0, bytes: 0, firstDue: undefined, next: undefined });
    assert.equal(pending.undo(on('a')), false, 'a shifted event is forgotten');
  });

  it('clear() empties it, keys included, and says how many waited', () => {
    const pending = new PendingEvents();
    push(pending, 'on a', 1, on('a'));
    push(pending, 'b', 1);
    assert.equal(pending.clear(), 2);
    assert.deepEqual({ length: pending.length, bytes: pending.bytes }, { length: 0, bytes: 0 });
    assert.equal(pending.shift(), undefined);
    assert.equal(push(pending, 'off a', 1, off('a')), true);
  });
});
