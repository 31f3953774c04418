/** src/runtime/request-watch.ts: an upgrade's "client went away", followed until the answer, read late when asked to. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { followUntilAnswered, readUnreadNow } from '../../src/runtime/request-watch.ts';

describe('following an upgrade\'s request signal', () => {
  it('aborts when the request does, until the answer; after it, nothing', () => {
    const request = new AbortController();
    const watch = followUntilAnswered(() => request.signal);
    assert.equal(watch.signal.aborted, false);
    request.abort();
    assert.equal(watch.signal.aborted, true);
    const answered = new AbortController();
    const other = followUntilAnswered(() => answered.signal);
    other.done();
    answered.abort();
    assert.equal(other.signal.aborted, false, 'a runtime that aborts after the answer cancels nothing');
  });

  it('does not read the request\'s signal at all when the answer comes within lateMs', async () => {
    let reads = 0;
    const request = new AbortController();
    const watch = followUntilAnswered(() => (reads++, request.signal), 30);
    await sleep(5);
    watch.done();
    await sleep(40);
    assert.equal(reads, 0);
  });

  it('reads it once lateMs have passed, aborted already when the client went meanwhile', async () => {
    const request = new AbortController();
    request.abort();
    let reads = 0;
    const watch = followUntilAnswered(() => (reads++, request.signal), 10);
    assert.equal(watch.signal.aborted, false, 'not read yet');
    await new Promise((resolve) => watch.signal.addEventListener('abort', resolve));
    assert.equal(reads, 1);
    const later = new AbortController();
    const slow = followUntilAnswered(() => later.signal, 10);
    await sleep(20);
    later.abort();
    assert.equal(slow.signal.aborted, true, 'followed from then on');
    slow.done();
  });

  it('reads the signals still unread when asked (a full queue), and those already answered not at all', () => {
    const went = new AbortController();
    went.abort();
    const stays = new AbortController();
    let answeredReads = 0;
    const waiting = followUntilAnswered(() => went.signal, 60_000);
    const alive = followUntilAnswered(() => stays.signal, 60_000);
    const answered = followUntilAnswered(() => (answeredReads++, new AbortController().signal), 60_000);
    answered.done();
    readUnreadNow();
    assert.equal(waiting.signal.aborted, true, 'its client went: cancelled now');
    assert.equal(alive.signal.aborted, false);
    assert.equal(answeredReads, 0);
    stays.abort();
    assert.equal(alive.signal.aborted, true, 'followed from then on');
    waiting.done();
    alive.done();
  });
});
