/** src/cluster/key-slot.ts: the slots Redis itself gives (CLUSTER KEYSLOT on redis-server 7). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keySlot } from '../../src/cluster/key-slot.ts';

describe('the Redis Cluster slot of a name', () => {
  it('is CRC16 of the name modulo 16384, as CLUSTER KEYSLOT says', () => {
    assert.equal(keySlot('123456789'), 0x31c3 % 16384);
    assert.equal(keySlot('foo'), 12182);
    assert.equal(keySlot(''), 0);
    // UTF-8 bytes, as Redis sees them.
    assert.equal(keySlot('é'), 10180);
  });

  it('is that of the hash tag when the name has one, so the keys of one tag share a slot', () => {
    assert.equal(keySlot('{wsgate:}bus'), 8249);
    assert.equal(keySlot('{wsgate:}history:a:epoch'), 8249);
    assert.equal(keySlot('x{foo}y'), keySlot('foo'));
    // Only the first '{' counts, up to the next '}'.
    assert.equal(keySlot('{a}{b}'), keySlot('a'));
    assert.equal(keySlot('{a{b}c'), keySlot('a{b'));
  });

  it('is that of the whole name when the braces hold nothing', () => {
    assert.equal(keySlot('{}bus'), 1753);
    assert.notEqual(keySlot('{}bus'), keySlot(''));
    assert.notEqual(keySlot('{}bus'), keySlot('bus'));
  });
});
