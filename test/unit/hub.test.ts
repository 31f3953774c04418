import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hub } from '../../src/hub.ts';
import type { Socket } from '../../src/hub.ts';
import { sha256Hex } from '../../src/ids.ts';

function socket(id: string, host: string, token: string, inbox: string[] = []): Socket & { inbox: string[] } {
  return { id, host, token, tokenHash: sha256Hex(token), inbox, conn: { send: (f) => void inbox.push(f), close() {}, terminate() {} } };
}

describe('Hub', () => {
  const hub = new Hub();
  const a = socket('a'.repeat(16), 'h', 't1');
  const b = socket('b'.repeat(16), 'h', 't1');
  const c = socket('c'.repeat(16), 'h', 't2');
  const d = socket('d'.repeat(16), 'other', 't1');
  for (const s of [a, b, c, d]) hub.add(s);
  const names = () => [a, b, c, d].map((s) => s.inbox.splice(0).length);

  it('casts to all sockets of one host', () => {
    assert.equal(hub.cast('h', { kind: 'all' }, 'x'), 3);
    assert.deepEqual(names(), [1, 1, 1, 0]);
  });
  it('casts by token and by not-token', () => {
    assert.equal(hub.cast('h', { kind: 'token', token: 't1' }, 'x'), 2);
    assert.deepEqual(names(), [1, 1, 0, 0]);
    assert.equal(hub.cast('h', { kind: 'notToken', token: 't1' }, 'x'), 1);
    assert.deepEqual(names(), [0, 0, 1, 0]);
  });
  it('casts to listed sockets of the host only, once each', () => {
    assert.equal(hub.cast('h', { kind: 'sockets', ids: [a.id, a.id, d.id] }, 'x'), 1);
    assert.deepEqual(names(), [1, 0, 0, 0]);
  });
  it('skips the except socket', () => {
    assert.equal(hub.cast('h', { kind: 'all' }, 'x', b.id), 2);
    assert.deepEqual(names(), [1, 0, 1, 0]);
  });
  it('a socket whose send throws is not counted', () => {
    const broken = { ...socket('e'.repeat(16), 'h', 't3'), conn: { send() { throw new Error('closed'); }, close() {}, terminate() {} } };
    hub.add(broken);
    assert.equal(hub.cast('h', { kind: 'all' }, 'x'), 3);
    names();
    hub.remove(broken);
  });
  it('reports tokens by hash and forgets emptied groups', () => {
    assert.deepEqual(hub.stats().h, { tokens: 2, sockets: 3, perToken: { [sha256Hex('t1')]: 2, [sha256Hex('t2')]: 1 } });
    assert.equal(hub.remove(c), true);
    assert.equal(hub.remove(c), false, 'removing twice is a no-op');
    assert.deepEqual(hub.stats().h!.perToken, { [sha256Hex('t1')]: 2 });
    hub.remove(a);
    hub.remove(b);
    assert.equal(hub.stats().h, undefined);
    assert.equal(hub.size, 1);
  });
});
