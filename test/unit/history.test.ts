import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryHistory, joinStored } from '../../src/core/history/history.ts';
import { Replay } from '../../src/core/history/replay.ts';

const limits = { size: 3, ttlMs: 1000 };

describe('MemoryHistory', () => {
  it('numbers publications per stream within one epoch', () => {
    const h = new MemoryHistory();
    const a1 = h.append('a', '1', limits, 0);
    const a2 = h.append('a', '2', limits, 0);
    const b1 = h.append('b', 'x', limits, 0);
    assert.deepEqual([a1.offset, a2.offset, b1.offset], [1, 2, 1]);
    assert.equal(a1.epoch, a2.epoch);
    assert.notEqual(a1.epoch, b1.epoch);
    assert.deepEqual(h.top('a', limits, 0), a2);
    assert.deepEqual(h.top('new', limits, 0).offset, 0);
  });

  it('gives what came after a position while the ring still holds it all', () => {
    const h = new MemoryHistory();
    for (const f of ['1', '2', '3', '4']) h.append('s', f, limits, 0);
    const { epoch } = h.top('s', limits, 0);
    assert.deepEqual(h.since('s', { epoch, offset: 2 }, limits, 0), { top: { epoch, offset: 4 }, recovered: true, publications: [{ offset: 3, frame: '3' }, { offset: 4, frame: '4' }] });
    assert.deepEqual(h.since('s', { epoch, offset: 1 }, limits, 0).publications.map((p) => p.offset), [2, 3, 4]);
    assert.equal(h.since('s', { epoch, offset: 1 }, limits, 0).recovered, true);
    // 1 is gone (size 3): a client at 0 missed it.
    const lost = h.since('s', { epoch, offset: 0 }, limits, 0);
    assert.deepEqual([lost.recovered, lost.publications.map((p) => p.offset)], [false, [2, 3, 4]]);
    assert.equal(h.since('s', { epoch, offset: 4 }, limits, 0).publications.length, 0);
    assert.equal(h.since('s', { epoch, offset: 4 }, limits, 0).recovered, true);
    assert.equal(h.since('s', { epoch, offset: 5 }, limits, 0).recovered, false, 'ahead of the stream');
    // Not recovered, same epoch: still what is held after the position.
    for (const f of ['5', '6', '7']) h.append('s', f, limits, 0);
    assert.deepEqual(h.since('s', { epoch, offset: 3 }, limits, 0).publications.map((p) => p.offset), [5, 6, 7]);
    assert.deepEqual(h.since('s', { epoch, offset: 4 }, limits, 0).publications.map((p) => p.offset), [5, 6, 7]);
    assert.equal(h.since('s', { epoch, offset: 4 }, limits, 0).recovered, true);
    assert.equal(h.since('s', { epoch: 'other', offset: 3 }, limits, 0).recovered, false);
  });

  it('expires publications after their ttl, and keeps the epoch of a quiet stream for an hour', () => {
    const h = new MemoryHistory();
    const { epoch } = h.append('s', '1', limits, 0);
    h.append('s', '2', limits, 600);
    assert.deepEqual(h.since('s', undefined, limits, 1200).publications, [{ offset: 2, frame: '2' }]);
    assert.equal(h.since('s', { epoch, offset: 0 }, limits, 1200).recovered, false);
    h.sweep(1700);
    assert.equal(h.size, 1, 'an emptied stream is kept');
    assert.deepEqual(h.since('s', { epoch, offset: 2 }, limits, 1800), { top: { epoch, offset: 2 }, recovered: true, publications: [] });
    h.sweep(1800 + 1000 + 3_600_000);
    assert.equal(h.size, 0);
    assert.notEqual(h.top('s', limits, 0).epoch, epoch);
  });

  it("gives a stream's newest publication and when its ttl drops it, until it does", () => {
    const h = new MemoryHistory();
    assert.equal(h.last('s', limits, 0), undefined);
    h.append('s', '1', limits, 0);
    h.append('s', '2', limits, 600);
    assert.deepEqual(h.last('s', limits, 700), { frame: '2', expires: 600 + limits.ttlMs });
    assert.equal(h.last('s', limits, 600 + limits.ttlMs), undefined);
  });

  it('keeps the newest publications when a reload changes the size', () => {
    const h = new MemoryHistory();
    for (const f of ['1', '2', '3']) h.append('s', f, limits, 0);
    const smaller = { size: 2, ttlMs: 1000 };
    assert.deepEqual(h.since('s', undefined, smaller, 0).publications.map((p) => p.frame), ['2', '3']);
    h.append('s', '4', { size: 5, ttlMs: 1000 }, 0);
    assert.deepEqual(h.since('s', undefined, { size: 5, ttlMs: 1000 }, 0).publications.map((p) => [p.offset, p.frame]), [[2, '2'], [3, '3'], [4, '4']]);
  });
});

describe('Replay', () => {
  const window = { windowMs: 1000, frames: 3 };
  it('keeps for a gone token what each kind of cast would have brought it', () => {
    const r = new Replay();
    r.left('h', 'ann', ['room:1'], window, 0);
    r.record('h', { kind: 'all' }, 'all');
    r.record('h', { kind: 'channel', channel: 'room:1' }, 'room 1');
    r.record('h', { kind: 'channel', channel: 'room:2' }, 'room 2');
    r.record('h', { kind: 'token', token: 'bob' }, 'bob');
    r.record('h', { kind: 'notToken', token: 'ann' }, 'not ann');
    r.record('other', { kind: 'all' }, 'other host');
    r.record('h', { kind: 'sockets', ids: ['x'] }, 'socket');
    assert.deepEqual(r.back('h', 'ann', 10), { frames: ['all', 'room 1'], dropped: 0 });
    assert.equal(r.back('h', 'ann', 10), undefined, 'given once');
    assert.equal(r.size, 0);
  });

  it('keeps the newest frames, counts the dropped, and forgets after the window', () => {
    const r = new Replay();
    r.left('h', 'ann', [], window, 0);
    for (const f of ['1', '2', '3', '4']) r.record('h', { kind: 'token', token: 'ann' }, f);
    assert.deepEqual(r.back('h', 'ann', 999), { frames: ['2', '3', '4'], dropped: 1 });
    r.left('h', 'ann', [], window, 0);
    r.record('h', { kind: 'all' }, 'late');
    const expired: Array<[string, number]> = [];
    r.sweep(1000, (host, _token, frames) => expired.push([host, frames]));
    assert.deepEqual(expired, [['h', 1]]);
    assert.equal(r.back('h', 'ann', 1001), undefined);
  });

  it('keeps what a token missed when it leaves a second node, for the channels of both', () => {
    const r = new Replay();
    r.left('h', 'ann', ['room:1'], window, 0);
    r.record('h', { kind: 'token', token: 'ann' }, 'first');
    r.left('h', 'ann', ['room:2'], window, 500);
    r.record('h', { kind: 'channel', channel: 'room:1' }, 'room 1');
    r.record('h', { kind: 'channel', channel: 'room:2' }, 'room 2');
    assert.equal(r.size, 1);
    // The window runs from the second leave.
    assert.deepEqual(r.back('h', 'ann', 1200), { frames: ['first', 'room 1', 'room 2'], dropped: 0 });
  });

  it('begins again when the window ran out before the sweep, and forgets a token back elsewhere', () => {
    const r = new Replay();
    r.left('h', 'ann', [], window, 0);
    r.record('h', { kind: 'all' }, 'stale');
    r.left('h', 'ann', [], window, 2000);
    r.record('h', { kind: 'all' }, 'fresh');
    assert.deepEqual(r.back('h', 'ann', 2100), { frames: ['fresh'], dropped: 0 });
    r.left('h', 'bob', ['room:1'], window, 0);
    r.forget('h', 'bob');
    r.record('h', { kind: 'channel', channel: 'room:1' }, 'x');
    assert.equal(r.size, 0);
    assert.equal(r.back('h', 'bob', 10), undefined);
  });
});

describe('MemoryHistory.put: a copy of a stream numbered elsewhere', () => {
  const limits = { size: 3, ttlMs: 1000 };
  it('keeps the given positions, ignores repeats, and starts over on another epoch or a gap', () => {
    const h = new MemoryHistory();
    h.put('s', 'a', { epoch: 'E', offset: 5 }, limits, 0);
    h.put('s', 'b', { epoch: 'E', offset: 6 }, limits, 0);
    h.put('s', 'b again', { epoch: 'E', offset: 6 }, limits, 0);
    assert.deepEqual(h.since('s', { epoch: 'E', offset: 4 }, limits, 0), { top: { epoch: 'E', offset: 6 }, recovered: true, publications: [{ offset: 5, frame: 'a' }, { offset: 6, frame: 'b' }] });
    h.put('s', 'd', { epoch: 'E', offset: 8 }, limits, 0);
    assert.deepEqual(h.since('s', { epoch: 'E', offset: 6 }, limits, 0).recovered, false, 'offset 7 never came here');
    h.put('s', 'x', { epoch: 'F', offset: 1 }, limits, 0);
    assert.deepEqual(h.since('s', undefined, limits, 0).publications, [{ offset: 1, frame: 'x' }]);
    assert.equal(h.top('s', limits, 0).epoch, 'F');
  });
  it('numbers its own publications in an epoch of its own after a copied one', () => {
    const h = new MemoryHistory();
    h.put('s', 'a', { epoch: 'E', offset: 5 }, limits, 0);
    const own = h.append('s', 'alone', limits, 0);
    assert.notEqual(own.epoch, 'E');
    assert.equal(own.offset, 1);
  });
});

describe('joinStored: what Redis held, then this node\'s copy', () => {
  const limits = { size: 10, ttlMs: 1000 };
  const asked = { epoch: 'E', offset: 2 };
  const stored = { epoch: 'E', offset: 4, entries: [{ offset: 3, frame: 'c' }, { offset: 4, frame: 'd' }] };
  const copy = (fill: (h: MemoryHistory) => void) => {
    const h = new MemoryHistory();
    fill(h);
    return (after: { epoch: string; offset: number }) => h.since('s', after, limits, 0);
  };

  it('gives Redis\'s entries followed by what this node received after them', () => {
    const local = copy((h) => {
      h.put('s', 'e', { epoch: 'E', offset: 5 }, limits, 0);
      h.put('s', 'f', { epoch: 'E', offset: 6 }, limits, 0);
    });
    assert.deepEqual(joinStored(asked, stored, local), {
      top: { epoch: 'E', offset: 6 },
      recovered: true,
      publications: ['c', 'd', 'e', 'f'].map((frame, i) => ({ offset: i + 3, frame })),
    });
  });

  it('gives Redis\'s entries alone when this node saw none of the epoch, or lags behind Redis', () => {
    const expected = { top: { epoch: 'E', offset: 4 }, recovered: true, publications: stored.entries };
    assert.deepEqual(joinStored(asked, stored, copy(() => {})), expected);
    assert.deepEqual(joinStored(asked, stored, copy((h) => h.put('s', 'c', { epoch: 'E', offset: 3 }, limits, 0))), expected);
  });

  it('gives nothing when Redis lost part of the gap, has another epoch, or this node\'s copy has a gap after it', () => {
    const none = copy(() => {});
    assert.equal(joinStored(asked, { ...stored, entries: stored.entries.slice(1) }, none), undefined);
    assert.equal(joinStored(asked, { ...stored, epoch: 'F' }, none), undefined);
    const gap = copy((h) => h.put('s', 'g', { epoch: 'E', offset: 7 }, limits, 0));
    assert.equal(joinStored(asked, stored, gap), undefined);
  });

  it('says nothing was missed when Redis is where the client stopped', () => {
    assert.deepEqual(joinStored(asked, { epoch: 'E', offset: 2, entries: [] }, copy(() => {})), { top: asked, recovered: true, publications: [] });
  });
});
