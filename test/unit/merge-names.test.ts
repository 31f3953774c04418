/**
 * Channel and host names are the clients' to choose (a Pusher channel may be
 * `constructor`, `toString` or `__proto__`; a host under `*` too). Counts kept
 * in plain objects read the prototype's for those: `constructor` became
 * "function Object() { [native code] }1" in the Pusher API's channel list,
 * and `__proto__` went missing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hub } from '../../src/core/hub.ts';
import { mergeCounts, mergeStats } from '../../src/core/merge.ts';
import { socketIdText } from '../../src/core/socket-ids.ts';
import type { PusherApp } from '../../src/config/config.ts';
import { PusherApiCore } from '../../src/protocols/pusher/api-core.ts';
import type { PusherFront } from '../../src/protocols/pusher/front.ts';

const NAMES = ['constructor', 'toString', '__proto__', 'room'];
const own = (record: object, key: string): unknown => Object.getOwnPropertyDescriptor(record, key)?.value;

describe('names an object has', () => {
  it('mergeCounts adds up the counts of channels named like properties of Object', () => {
    // As they come from other nodes: JSON.parse makes `__proto__` an own property.
    const node = JSON.parse(JSON.stringify(Object.fromEntries(NAMES.map((name) => [name, 2]))));
    const merged = mergeCounts([node, node]);
    for (const name of NAMES) assert.equal(own(merged, name), 4, name);
    assert.deepEqual(Object.keys(merged).sort(), [...NAMES].sort());
  });

  it('mergeStats keeps hosts named like properties of Object', () => {
    const stats = { tokens: 1, sockets: 1, perToken: { h: 1 } };
    const node = JSON.parse(JSON.stringify({ workers: 0, sockets: Object.fromEntries(NAMES.map((name) => [name, stats])) }));
    const merged = mergeStats([node, node]).sockets;
    for (const name of NAMES) assert.deepEqual(own(merged, name), { tokens: 1, sockets: 2, perToken: { h: 2 } }, name);
  });

  it("Hub's occupied() and stats() list such channels and hosts", () => {
    const wire = { encode: (frame: string) => frame, send: () => 0, close() {}, terminate() {} };
    const hub = new Hub({ wire, sendBuffer: 1000, onSlow() {} });
    for (const name of NAMES) {
      const serial = hub.reservations.reserve()!;
      hub.reservations.handOver(serial);
      const socket = { id: socketIdText(serial), serial, host: name, token: 't', raw: {} };
      hub.add(socket);
      hub.join(socket, name);
      assert.equal(own(hub.occupied(name), name), 1, `channel ${name}`);
    }
    const stats = hub.stats();
    for (const name of NAMES) assert.equal((own(stats, name) as { sockets: number } | undefined)?.sockets, 1, `host ${name}`);
  });
});

describe("the Pusher API's channel lists", () => {
  const app = { id: '1', key: 'k', secret: 's', host: 'h' } as unknown as PusherApp;
  const api = (counts: Record<string, number>) =>
    new PusherApiCore({} as PusherFront, {
      castText: () => 0,
      channelsEverywhere: async (_host, which) => ({ value: which.channel === undefined ? counts : Object.hasOwn(counts, which.channel) ? { [which.channel]: counts[which.channel]! } : {} }),
      users: async () => new Map(),
      lastKept: () => undefined,
      disconnectEverywhere: async () => ({ value: 0 }),
    });

  it('lists channels named like properties of Object, with their counts', async () => {
    const counts = mergeCounts([JSON.parse('{"__proto__":1,"constructor":2,"room":3}')]);
    const listed = await api(counts).channels(app, undefined, ['subscription_count']);
    assert.deepEqual(own(listed, '__proto__'), { subscription_count: 1 });
    assert.deepEqual(own(listed, 'constructor'), { subscription_count: 2 });
    assert.deepEqual(own(listed, 'room'), { subscription_count: 3 });
  });

  it('says an empty channel named constructor is not occupied', async () => {
    assert.deepEqual(await api({}).channel(app, 'constructor', ['subscription_count']), { occupied: false, subscription_count: 0 });
  });
});
