/**
 * A cast through native topics (Bun) is one publish per protocol, whatever
 * the channel's size: a frame one protocol's sockets skip (wsgate's presence
 * frames, which Pusher's cannot read) must not make every join and leave walk
 * the channel's members to count those it did not reach.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hub } from '../../src/core/hub.ts';
import type { Socket } from '../../src/core/hub.ts';
import { socketIdText } from '../../src/core/socket-ids.ts';
import type { ClientProtocol } from '../../src/core/protocol.ts';
import type { Wire } from '../../src/runtime/types.ts';

const wsgate = { name: 'wsgate' } as unknown as ClientProtocol;
const pusher = { name: 'pusher' } as unknown as ClientProtocol;

function topicsWire(): Wire {
  return {
    encode: (frame: string) => frame,
    send: () => 0,
    close: () => {},
    terminate: () => {},
    topics: { subscribe: () => {}, unsubscribe: () => {}, publish: () => {} },
  } as unknown as Wire;
}

function open(hub: Hub, token: string, protocol: ClientProtocol, aware = true): Socket {
  const serial = hub.reservations.reserve()!;
  hub.reservations.handOver(serial);
  const socket: Socket = { id: socketIdText(serial), serial, host: 'h.test', token, raw: {}, aware, protocol };
  hub.add(socket);
  return socket;
}

/** How many times sets of at least `size` entries are walked while `work` runs. */
function walksOfSets(size: number, work: () => number): { walks: number; result: number } {
  const proto = Set.prototype as unknown as Record<string | symbol, (...args: unknown[]) => unknown>;
  const saved = { values: proto.values!, iterator: proto[Symbol.iterator]!, forEach: proto.forEach! };
  let walks = 0;
  const counted = (original: (...args: unknown[]) => unknown) =>
    function (this: Set<unknown>, ...args: unknown[]) {
      if (this.size >= size) walks++;
      return original.apply(this, args);
    };
  proto.values = counted(saved.values);
  proto[Symbol.iterator] = counted(saved.iterator);
  proto.forEach = counted(saved.forEach);
  try {
    const result = work();
    return { result, walks };
  } finally {
    proto.values = saved.values;
    proto[Symbol.iterator] = saved.iterator;
    proto.forEach = saved.forEach;
  }
}

describe('a cast through native topics', () => {
  it("walks none of the channel's members for a frame one protocol's sockets skip, and counts those it reached", () => {
    const hub = new Hub({ wire: topicsWire(), sendBuffer: 1 << 20, onSlow: () => {} });
    const members = 500;
    const room: Socket[] = [];
    for (let i = 0; i < members; i++) room.push(open(hub, `w${i}`, i % 5 === 0 ? pusher : wsgate, i % 7 !== 0));
    for (const socket of room) hub.join(socket, 'presence-room');
    // Pusher sockets of the host outside the channel do not count either way.
    open(hub, 'elsewhere', pusher);
    const reachedBy = (except?: string) => () => hub.cast('h.test', { kind: 'channel', channel: 'presence-room' }, '{"x":1}', except, (p) => (p === pusher ? undefined : 'wrapped'));
    const skipped = room.filter((s) => s.aware && s.protocol === pusher).length;
    const { result, walks } = walksOfSets(members, reachedBy());
    assert.equal(result, members - skipped, 'the Pusher sockets of the channel are not among those reached');
    assert.equal(walks, 0, "the channel's members were walked");
    const skippedOne = room.find((s) => s.aware && s.protocol === pusher)!;
    assert.equal(walksOfSets(members, reachedBy(skippedOne.id)).result, members - skipped, 'an excepted socket the frame skips anyway is not taken off twice');
    const plain = room.find((s) => !s.aware)!;
    assert.equal(walksOfSets(members, reachedBy(plain.id)).result, members - skipped - 1);
    // After some leave (and a channel emptied and joined again), the counts follow.
    for (const socket of room.slice(0, 100)) hub.leave(socket, 'presence-room');
    hub.remove(room[100]!);
    const left = room.slice(101);
    assert.equal(walksOfSets(1, reachedBy()).result, left.length - left.filter((s) => s.aware && s.protocol === pusher).length);
    for (const socket of left) hub.leave(socket, 'presence-room');
    hub.join(room[5]!, 'presence-room');
    assert.equal(walksOfSets(1, reachedBy()).result, 0, 'a Pusher socket alone in the channel: none reached');
  });
});
