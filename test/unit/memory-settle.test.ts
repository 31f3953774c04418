import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemorySettle } from '../../src/ops/memory-settle.ts';
import type { Client } from '../../src/core/client.ts';
import type { HookRun } from '../../src/core/events.ts';

const client = {} as Client;

function settle(burst: number) {
  let collections = 0;
  const s = new MemorySettle(() => void collections++, burst);
  const events = s.observer();
  return {
    open: (n: number) => {
      for (let i = 0; i < n; i++) events.opened!(client, '', 0);
    },
    close: (n: number) => {
      for (let i = 0; i < n; i++) events.closed!(client, 1000, 0);
    },
    hook: (hook: HookRun['hook'], n = 1) => {
      for (let i = 0; i < n; i++) events.hook!({ host: 'h', socket: 's', hook, label: 'h', mode: 'oneshot', seconds: 0.01, outcome: 'ok' });
    },
    tick: (sockets = 0) => s.tick(sockets),
    get collections() {
      return collections;
    },
  };
}

describe('MemorySettle', () => {
  it('collects once after a burst, at the first tick with no open or close since the last', () => {
    const s = settle(10);
    s.open(6);
    assert.equal(s.tick(), false);
    s.open(6);
    assert.equal(s.tick(), false, 'still connecting');
    assert.equal(s.tick(), true, 'a quiet second after 12 opens');
    assert.equal(s.collections, 1);
    assert.equal(s.tick(), false, 'once per burst');
    assert.equal(s.collections, 1);
  });
  it('waits for the connection hooks that still run after the last open (one-shot connect hooks), but not for receive hooks', () => {
    const s = settle(10);
    s.open(12);
    assert.equal(s.tick(), false, 'still connecting');
    s.hook('connect', 5);
    assert.equal(s.tick(), false, 'no open, but connect hooks ran: the burst goes on');
    s.hook('auth');
    s.hook('close');
    assert.equal(s.tick(), false, 'auth and close hooks too');
    assert.equal(s.tick(), true, 'a tick with neither');
    assert.equal(s.collections, 1);
    s.hook('connect', 50);
    s.tick();
    assert.equal(s.tick(), false, 'hooks alone are no burst');
    const t = settle(10);
    t.open(12);
    t.tick();
    t.hook('receive', 3);
    t.hook('subscribe');
    assert.equal(t.tick(), true, 'receive and subscribe hooks are traffic, not the burst');
  });
  it('counts closes as well as opens (a storm drops every socket before they come back)', () => {
    const s = settle(10);
    s.close(10);
    s.tick();
    assert.equal(s.tick(), true);
  });
  it('does not collect for fewer changes than a burst, however long it is quiet', () => {
    const s = settle(10);
    s.open(9);
    for (let i = 0; i < 5; i++) assert.equal(s.tick(), false);
    s.open(1);
    s.tick();
    assert.equal(s.tick(), true, 'the ten add up across quiet seconds');
  });
  it('takes a quarter of the open sockets as a burst when that is more', () => {
    const s = settle(10);
    s.open(30);
    s.tick(100);
    assert.equal(s.tick(100), true, '30 changes against 100 sockets');
    s.open(30);
    s.tick(200);
    assert.equal(s.tick(200), false, '30 changes against 200 sockets');
    s.open(20);
    s.tick(200);
    assert.equal(s.tick(200), true, 'then 50');
  });
  it('never collects under a steady trickle with no quiet second', () => {
    const s = settle(10);
    for (let i = 0; i < 50; i++) {
      s.open(3);
      assert.equal(s.tick(), false);
    }
    assert.equal(s.collections, 0);
    assert.equal(s.tick(), true, 'the first quiet second after it');
  });
});
