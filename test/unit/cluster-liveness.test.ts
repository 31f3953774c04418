import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recount } from '../../src/cluster/liveness.ts';

const timing = { heartbeatMs: 100, ttlMs: 1500 };
const sorted = (nodes: Set<string>) => [...nodes].sort();

describe('cluster liveness', () => {
  it('a node found is live; one not found stays live for two heartbeats after it was last seen', () => {
    const seen = new Map<string, number>();
    let live = recount(seen, ['a', 'b'], new Set(), 1000, 0, timing);
    assert.deepEqual(sorted(live), ['a', 'b']);
    live = recount(seen, ['a'], live, 1100, 1000, timing);
    assert.deepEqual(sorted(live), ['a', 'b'], 'one beat missing b');
    live = recount(seen, ['a'], live, 1200, 1100, timing);
    assert.deepEqual(sorted(live), ['a'], 'two beats: gone');
    assert.equal(seen.has('b'), false);
  });
  it('after beats this node could not make, a node it does not find stays live for a ttl, then goes', () => {
    const seen = new Map<string, number>();
    let live = recount(seen, ['a', 'b'], new Set(), 1000, 0, timing);
    // Redis was away (or its master failing over) for 3 s: the first beat after it finds only this node.
    live = recount(seen, ['a'], live, 4000, 1000, timing);
    assert.deepEqual(sorted(live), ['a', 'b'], 'b is not gone for what a could not see');
    live = recount(seen, ['a'], live, 4100, 4000, timing);
    live = recount(seen, ['a'], live, 5400, 5300, timing);
    assert.deepEqual(sorted(live), ['a', 'b'], 'still within the ttl of the first beat back');
    live = recount(seen, ['a'], live, 5500, 5400, timing);
    assert.deepEqual(sorted(live), ['a'], 'gone a ttl after the first beat back');
  });
  it('a node found again after the gap counts from then, as usual', () => {
    const seen = new Map<string, number>();
    let live = recount(seen, ['a', 'b'], new Set(), 1000, 0, timing);
    live = recount(seen, ['a', 'b'], live, 4000, 1000, timing);
    live = recount(seen, ['a'], live, 4100, 4000, timing);
    live = recount(seen, ['a'], live, 4200, 4100, timing);
    assert.deepEqual(sorted(live), ['a'], 'b found at 4000, then missed for two beats');
  });
  it('does not bring back a node that was not live before the gap', () => {
    const seen = new Map<string, number>();
    let live = recount(seen, ['a', 'b'], new Set(), 1000, 0, timing);
    live = recount(seen, ['a'], live, 1100, 1000, timing);
    live = recount(seen, ['a'], live, 1200, 1100, timing);
    live = recount(seen, ['a'], live, 9000, 1200, timing);
    assert.deepEqual(sorted(live), ['a']);
  });
});
