import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyIndex } from '../../src/core/key-index.ts';

describe('KeyIndex', () => {
  it('gets, sets, replaces and deletes, with an exact size', () => {
    const index = new KeyIndex<number>();
    index.set('a', 1);
    index.set('b', 2);
    index.set('a', 3);
    assert.equal(index.size, 2);
    assert.equal(index.get('a'), 3);
    assert.equal(index.has('b'), true);
    assert.equal(index.delete('b'), true);
    assert.equal(index.delete('b'), false, 'deleting twice');
    assert.equal(index.has('b'), false);
    assert.equal(index.size, 1);
    assert.deepEqual(index.entries(), [['a', 3]]);
  });
  it('takes any string as a key: names of Object.prototype, "__proto__", numbers, the empty string', () => {
    const index = new KeyIndex<string>();
    const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '4294967295', '-1', '', 'a b;c=d', '\u00e9\u{1F600}'];
    for (const key of keys) assert.equal(index.get(key), undefined, `absent before: ${key}`);
    for (const key of keys) index.set(key, `v:${key}`);
    assert.equal(index.size, keys.length);
    for (const key of keys) assert.equal(index.get(key), `v:${key}`, key);
    assert.deepEqual(new Set(index.values()), new Set(keys.map((key) => `v:${key}`)));
    for (const key of keys) assert.equal(index.delete(key), true, key);
    assert.equal(index.size, 0);
    assert.deepEqual(index.values(), []);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  it('walks a copy, so entries may go while it is used', () => {
    const index = new KeyIndex<number>();
    for (let i = 0; i < 10; i++) index.set(`k${i}`, i);
    for (const [key] of index.entries()) index.delete(key);
    assert.equal(index.size, 0);
  });
});
