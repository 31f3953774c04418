import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplaySync } from '../../src/core/history/replay-sync.ts';
import { Replay } from '../../src/core/history/replay.ts';
import type { Kept } from '../../src/core/history/replay.ts';

const limits = { windowMs: 30_000, frames: 3 };
const options = { limits: (host: string) => (host === 'h' ? limits : undefined), present: () => false, now: 0 };
const kept = (token: string, frames: string[], more: Partial<Kept> = {}): Kept => ({ host: 'h', token, channels: [], windowMs: 10_000, frames, dropped: 0, ...more });

describe('Replay in a cluster', () => {
  it('gives at most a budget of frames in kept(), the newest of each token, the rest counted as dropped', () => {
    const r = new Replay();
    r.left('h', 'ann', [], limits, 0);
    for (const f of ['aaaa', 'bbbb', 'cccc']) r.record('h', { kind: 'all' }, f);
    assert.deepEqual(r.kept(0, 9), [{ host: 'h', token: 'ann', channels: [], windowMs: 30_000, frames: ['bbbb', 'cccc'], dropped: 1 }]);
    assert.deepEqual(r.kept(0)[0]!.frames, ['aaaa', 'bbbb', 'cccc']);
  });

  it('adopts another node\'s copy within this node\'s window and frame limit', () => {
    const r = new Replay();
    r.adopt(kept('ann', ['1', '2', '3', '4'], { windowMs: 99_000, dropped: 2 }), limits, 0);
    assert.deepEqual(r.kept(0), [{ host: 'h', token: 'ann', channels: [], windowMs: 30_000, frames: ['2', '3', '4'], dropped: 3 }]);
  });

  it('says each token that left unannounced once', () => {
    const r = new Replay();
    r.left('h', 'ann', ['room'], limits, 0, { here: true, solo: true });
    r.left('h', 'bob', [], limits, 0);
    assert.deepEqual(r.takeSolo(), [{ host: 'h', token: 'ann', channels: ['room'] }]);
    assert.deepEqual(r.takeSolo(), []);
  });
});

describe('ReplaySync.merge', () => {
  it('takes over what the others keep, the fullest copy of each token, then the casts since its split', () => {
    const r = new Replay();
    const sync = new ReplaySync();
    sync.cast('h', { kind: 'all' }, 'before the split');
    sync.split(r);
    sync.cast('h', { kind: 'token', token: 'ann' }, 'after');
    const merged = sync.merge(r, [[kept('ann', ['a1'])], [kept('ann', ['a1', 'a2']), kept('bob', ['b1'])]], options);
    assert.deepEqual(merged, { adopted: 2, forgotten: 0, invalid: 0 });
    assert.deepEqual(r.back('h', 'ann', 0)?.frames, ['a1', 'a2', 'after']);
    assert.deepEqual(r.back('h', 'bob', 0)?.frames, ['b1']);
  });

  it('skips tokens that came back since the split, or that hold a socket here, or on hosts it does not replay', () => {
    const r = new Replay();
    const sync = new ReplaySync();
    sync.split(r);
    sync.back('h', 'ann');
    const merged = sync.merge(r, [[kept('ann', ['x']), kept('bob', ['x']), { ...kept('cid', ['x']), host: 'other' }]], { ...options, present: (_h, token) => token === 'bob' });
    assert.equal(merged.adopted, 0);
    assert.equal(r.size, 0);
  });

  it('forgets what no answering node keeps any more, but keeps and later announces what left here unannounced', () => {
    const r = new Replay();
    r.left('h', 'stale', [], limits, 0, {});
    r.left('h', 'mine', [], limits, 0, { here: true, solo: true });
    const sync = new ReplaySync();
    sync.split(r);
    // Left after the split: the answers cannot know it yet.
    r.left('h', 'later', [], limits, 0, {});
    const merged = sync.merge(r, [[]], options);
    assert.deepEqual(merged, { adopted: 0, forgotten: 1, invalid: 0 });
    assert.deepEqual([...r.gone()].map(({ host, token }) => `${host}\n${token}`).sort(), ['h\nlater', 'h\nmine']);
  });

  it('keeps this node\'s copy when it is the fuller one, and forgets nothing without a valid answer', () => {
    const r = new Replay();
    r.left('h', 'ann', [], limits, 0, {});
    for (const f of ['1', '2']) r.record('h', { kind: 'all' }, f);
    const sync = new ReplaySync();
    sync.split(r);
    assert.deepEqual(sync.merge(r, [[kept('ann', ['1'])]], options), { adopted: 0, forgotten: 0, invalid: 0 });
    assert.deepEqual(r.back('h', 'ann', 0)?.frames, ['1', '2']);
    r.left('h', 'bob', [], limits, 0, {});
    const again = new ReplaySync();
    again.split(r);
    assert.deepEqual(again.merge(r, [{ not: 'a list' }], options), { adopted: 0, forgotten: 0, invalid: 1 });
    assert.equal(r.size, 1);
  });

  it('does nothing before its own request came back (no split to go by)', () => {
    const r = new Replay();
    const sync = new ReplaySync();
    assert.deepEqual(sync.merge(r, [[kept('ann', ['x'])]], options), { adopted: 0, forgotten: 0, invalid: 0 });
    assert.equal(r.size, 0);
  });
});
