/** src/runtime/upgrade-watch.ts: an upgrade's "client went away", followed until the answer, late, or when asked to. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { followSignal, followUnfollowedNow, UpgradeWatch } from '../../src/runtime/upgrade-watch.ts';
import type { Follow } from '../../src/runtime/upgrade-watch.ts';

/** A client that can go, and counts how often it was followed and unfollowed. */
function client(goneAlready = false) {
  const seen = { follows: 0, unfollows: 0, gone: goneAlready, listener: undefined as (() => void) | undefined };
  const follow: Follow = (gone) => {
    seen.follows++;
    if (seen.gone) {
      gone();
      return () => {};
    }
    seen.listener = gone;
    return () => {
      seen.unfollows++;
      seen.listener = undefined;
    };
  };
  return { seen, follow, go: () => ((seen.gone = true), seen.listener?.()) };
}

describe('an upgrade\'s watch', () => {
  it('aborts when a request\'s signal does, until the answer; after it, nothing', () => {
    const request = new AbortController();
    const watch = new UpgradeWatch(followSignal(() => request.signal));
    let told = 0;
    watch.addEventListener('abort', () => told++);
    assert.equal(watch.aborted, false);
    request.abort();
    assert.equal(watch.aborted, true);
    assert.equal(told, 1);
    const answered = new AbortController();
    const other = new UpgradeWatch(followSignal(() => answered.signal));
    other.addEventListener('abort', () => told++);
    other.done();
    answered.abort();
    assert.equal(other.aborted, false, 'a runtime that aborts after the answer cancels nothing');
    assert.equal(told, 1);
  });

  it('tells each listener once, none that was removed, and none added after the abort', () => {
    const { follow, go } = client();
    const watch = new UpgradeWatch(follow);
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    watch.addEventListener('abort', () => calls.push('a'));
    watch.addEventListener('abort', removed);
    watch.addEventListener('abort', () => calls.push('b'));
    watch.removeEventListener('abort', removed);
    go();
    go();
    watch.addEventListener('abort', () => calls.push('late'));
    assert.deepEqual(calls, ['a', 'b']);
  });

  it('does not follow its client at all when the answer comes within lateMs', async () => {
    const { seen, follow } = client();
    const watch = new UpgradeWatch(follow, 30);
    await sleep(5);
    watch.done();
    await sleep(60);
    assert.equal(seen.follows, 0);
  });

  it('follows it once lateMs have passed, gone at once when the client went meanwhile, and stops at the answer', async () => {
    const went = client(true);
    const watch = new UpgradeWatch(went.follow, 10);
    assert.equal(watch.aborted, false, 'not followed yet');
    // The watch's timer does not hold the process open: this test does, while it waits.
    const hold = setInterval(() => {}, 1000);
    await new Promise<void>((resolve) => watch.addEventListener('abort', resolve));
    clearInterval(hold);
    assert.equal(went.seen.follows, 1);
    const later = client();
    const slow = new UpgradeWatch(later.follow, 10);
    await sleep(40);
    assert.equal(later.seen.follows, 1);
    later.go();
    assert.equal(slow.aborted, true, 'followed from then on');
    const answered = client();
    const done = new UpgradeWatch(answered.follow, 10);
    await sleep(40);
    done.done();
    assert.deepEqual([answered.seen.follows, answered.seen.unfollows], [1, 1], 'the answer stops the following');
  });

  it('follows the watches still unfollowed when asked (a full queue), and those already answered not at all', () => {
    const went = client(true);
    const stays = client();
    const answered = client();
    const waiting = new UpgradeWatch(went.follow, 60_000);
    const alive = new UpgradeWatch(stays.follow, 60_000);
    new UpgradeWatch(answered.follow, 60_000).done();
    followUnfollowedNow();
    assert.equal(waiting.aborted, true, 'its client went: cancelled now');
    assert.equal(alive.aborted, false);
    assert.equal(answered.seen.follows, 0);
    stays.go();
    assert.equal(alive.aborted, true, 'followed from then on');
    waiting.done();
    alive.done();
  });
});
