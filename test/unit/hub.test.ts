import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hub } from '../../src/core/hub.ts';
import type { Socket } from '../../src/core/hub.ts';
import { sha256Hex } from '../../src/core/ids.ts';
import { socketIdText } from '../../src/core/socket-ids.ts';
import type { OutFrame, Wire } from '../../src/runtime/types.ts';
import type { ClientProtocol } from '../../src/core/protocol.ts';

/** A fake runtime socket: what it was sent, and how much it pretends is still queued. */
interface Fake {
  inbox: string[];
  buffered: number;
  broken?: boolean;
  topics: Set<string>;
  closed?: number;
}

const text = (frame: OutFrame) => (typeof frame === 'string' ? frame : new TextDecoder().decode(frame));

function fakeWire(options: { topics?: boolean; encodeToBytes?: boolean } = {}): Wire & { sockets: Set<Fake>; publishes: number; encodes: number } {
  const sockets = new Set<Fake>();
  const wire = {
    sockets,
    publishes: 0,
    encodes: 0,
    encode(frame: string): OutFrame {
      wire.encodes++;
      return options.encodeToBytes ? new TextEncoder().encode(frame) : frame;
    },
    send(raw: unknown, frame: OutFrame) {
      const fake = raw as Fake;
      if (fake.broken) throw new Error('closed');
      fake.inbox.push(text(frame));
      return fake.buffered;
    },
    close(raw: unknown, code?: number) {
      (raw as Fake).closed = code;
    },
    terminate(raw: unknown) {
      (raw as Fake).closed = -1;
    },
    topics: options.topics
      ? {
          subscribe: (raw: unknown, topic: string) => void (raw as Fake).topics.add(topic),
          unsubscribe: (raw: unknown, topic: string) => void (raw as Fake).topics.delete(topic),
          publish(topic: string, frame: string, except?: unknown) {
            wire.publishes++;
            for (const fake of sockets) if (fake.topics.has(topic) && fake !== except) fake.inbox.push(frame);
          },
        }
      : undefined,
  };
  return wire;
}

/** A socket with a place reserved in `hub`, as an accepted upgrade has. */
function socket(wire: { sockets: Set<Fake> }, hub: Hub, host: string, token: string): Socket & { raw: Fake } {
  const raw: Fake = { inbox: [], buffered: 0, topics: new Set() };
  wire.sockets.add(raw);
  const serial = hub.reservations.reserve()!;
  hub.reservations.handOver(serial);
  return { id: socketIdText(serial), serial, host, token, raw };
}

/** A removed fake socket back in the hub, in a new place, as a new upgrade would be. */
function again(hub: Hub, s: Socket & { raw: Fake }): Socket & { raw: Fake } {
  const serial = hub.reservations.reserve()!;
  hub.reservations.handOver(serial);
  return Object.assign(s, { serial, id: socketIdText(serial) });
}

for (const topics of [false, true]) {
  describe(`Hub (${topics ? 'native topics' : 'a write per socket'})`, () => {
    const wire = fakeWire({ topics, encodeToBytes: !topics });
    const slow: Array<[string, number]> = [];
    const hub = new Hub({ wire, sendBuffer: 1000, onSlow: (s, n) => void slow.push([s.id, n]) });
    const a = socket(wire, hub, 'h', 't1');
    const b = socket(wire, hub, 'h', 't1');
    const c = socket(wire, hub, 'h', 't2');
    const d = socket(wire, hub, 'other', 't1');
    for (const s of [a, b, c, d]) hub.add(s);
    const counts = () => [a, b, c, d].map((s) => s.raw.inbox.splice(0).length);

    it('casts to all sockets of one host', () => {
      assert.equal(hub.cast('h', { kind: 'all' }, 'x'), 3);
      assert.deepEqual(counts(), [1, 1, 1, 0]);
      if (topics) assert.equal(wire.publishes, 1, 'one publish, not a send per socket');
    });
    it('casts by token and by not-token', () => {
      assert.equal(hub.cast('h', { kind: 'token', token: 't1' }, 'x'), 2);
      assert.deepEqual(counts(), [1, 1, 0, 0]);
      assert.equal(hub.cast('h', { kind: 'notToken', token: 't1' }, 'x'), 1);
      assert.deepEqual(counts(), [0, 0, 1, 0]);
      assert.equal(hub.cast('h', { kind: 'token', token: 't2' }, 'x'), 1, 'a token with one socket');
      assert.deepEqual(counts(), [0, 0, 1, 0]);
    });
    it('casts to listed sockets of the host only, once each', () => {
      assert.equal(hub.cast('h', { kind: 'sockets', ids: [a.id, a.id, d.id] }, 'x'), 1);
      assert.deepEqual(counts(), [1, 0, 0, 0]);
    });
    it('skips the except socket, with the exact count', () => {
      assert.equal(hub.cast('h', { kind: 'all' }, 'x', b.id), 2);
      assert.deepEqual(counts(), [1, 0, 1, 0]);
      assert.equal(hub.cast('h', { kind: 'all' }, 'x', d.id), 3, 'a socket of another host excepts nothing here');
      assert.deepEqual(counts(), [1, 1, 1, 0]);
    });
    it('encodes a cast once, whatever the number of sockets', () => {
      const before = wire.encodes;
      hub.cast('h', { kind: 'notToken', token: 'none' }, 'x');
      assert.equal(wire.encodes - before, 1);
      counts();
    });
    it('a socket whose send throws is not counted', () => {
      const broken = socket(wire, hub, 'h', 't3');
      broken.raw.broken = true;
      hub.add(broken);
      assert.equal(hub.cast('h', { kind: 'token', token: 't3' }, 'x'), 0);
      assert.equal(hub.send(broken, 'x'), false);
      hub.remove(broken);
    });
    it('reports a socket with too much unsent, once per write over the limit', () => {
      c.raw.buffered = 5000;
      hub.cast('h', { kind: 'token', token: 't2' }, 'x');
      hub.send(c, 'line');
      assert.deepEqual(slow, [
        [c.id, 5000],
        [c.id, 5000],
      ]);
      c.raw.buffered = 0;
      counts();
    });
    it('counts sockets per host and token, through the one-socket and many-socket forms', () => {
      assert.equal(hub.countHost('h'), 3);
      assert.equal(hub.countToken('h', 't1'), 2);
      assert.equal(hub.countToken('h', 't2'), 1);
      assert.equal(hub.countToken('h', 'none'), 0);
      hub.remove(b);
      assert.equal(hub.countToken('h', 't1'), 1);
      assert.equal(hub.cast('h', { kind: 'token', token: 't1' }, 'x'), 1);
      assert.deepEqual(counts(), [1, 0, 0, 0]);
      assert.equal(hub.add(b), false, 'a removed socket has given up its place');
      hub.add(again(hub, b));
      assert.equal(hub.countToken('h', 't1'), 2);
    });
    it('casts to a channel: its members only, except one, exact counts; leaving and closing take sockets out', () => {
      assert.equal(hub.join(a, 'room'), true);
      assert.equal(hub.join(a, 'room'), false, 'joining twice is a no-op');
      assert.equal(hub.join(c, 'room'), true);
      assert.equal(hub.join(d, 'room'), true, 'the same name on another host is another channel');
      assert.equal(hub.cast('h', { kind: 'channel', channel: 'room' }, 'x'), 2);
      assert.deepEqual(counts(), [1, 0, 1, 0]);
      assert.equal(hub.cast('h', { kind: 'channel', channel: 'room' }, 'x', c.id), 1);
      assert.equal(hub.cast('h', { kind: 'channel', channel: 'room' }, 'x', b.id), 2, 'a non-member excepts nothing');
      assert.deepEqual(counts(), [2, 0, 1, 0]);
      assert.equal(hub.cast('h', { kind: 'channel', channel: 'none' }, 'x'), 0);
      assert.equal(hub.leave(a, 'room'), true);
      assert.equal(hub.leave(a, 'room'), false);
      assert.equal(hub.members('h', 'room').length, 1);
      hub.remove(c);
      assert.equal(hub.members('h', 'room').length, 0, 'a closed socket leaves its channels');
      if (topics) assert.equal(c.raw.topics.size, 0, 'and their topics');
      assert.equal(hub.cast('h', { kind: 'channel', channel: 'room' }, 'x'), 0);
      assert.equal(hub.cast('other', { kind: 'channel', channel: 'room' }, 'x'), 1);
      hub.leave(d, 'room');
      hub.add(again(hub, c));
      counts();
    });
    it('reports tokens by hash and forgets emptied groups', () => {
      assert.deepEqual(hub.stats().h, { tokens: 2, sockets: 3, perToken: { [sha256Hex('t1')]: 2, [sha256Hex('t2')]: 1 } });
      assert.equal(hub.remove(c), true);
      assert.equal(hub.remove(c), false, 'removing twice is a no-op');
      assert.deepEqual(hub.stats().h!.perToken, { [sha256Hex('t1')]: 2 });
      if (topics) assert.equal(c.raw.topics.size, 0, 'a removed socket leaves its topic');
      hub.remove(a);
      hub.remove(b);
      assert.equal(hub.stats().h, undefined);
      assert.equal(hub.size, 1);
      assert.equal(hub.cast('h', { kind: 'all' }, 'x'), 0);
    });
  });
}

describe('Hub: a socket dropped in the middle of a cast', () => {
  it('every other socket still gets the frame once, whichever socket is dropped', () => {
    // A socket over the send buffer is dropped (removed) from within its own write; the list it is walked
    // from fills its place with the last socket, which must have had the frame already and not get it twice.
    for (let dropped = 0; dropped < 5; dropped++) {
      const wire = fakeWire({ encodeToBytes: true });
      const hub: Hub = new Hub({ wire, sendBuffer: 1000, onSlow: (s) => void hub.remove(s) });
      const sockets = Array.from({ length: 5 }, (_, i) => socket(wire, hub, 'h', `t${i}`));
      for (const s of sockets) hub.add(s);
      sockets[dropped]!.raw.buffered = 5000;
      assert.equal(hub.cast('h', { kind: 'all' }, 'x'), 5, 'the dropped socket was written to before it went');
      assert.deepEqual(
        sockets.map((s) => s.raw.inbox.length),
        [1, 1, 1, 1, 1],
      );
      assert.equal(hub.countHost('h'), 4);
      sockets[dropped]!.raw.buffered = 0;
      assert.equal(hub.cast('h', { kind: 'notToken', token: 't0' }, 'y'), dropped === 0 ? 4 : 3);
      assert.equal(hub.cast('h', { kind: 'all' }, 'z'), 4, 'the list has no hole where it was');
    }
  });
  it('sockets added and removed in any order are all reached, none twice', () => {
    const wire = fakeWire({ encodeToBytes: true });
    const hub = new Hub({ wire, sendBuffer: 1000, onSlow: () => {} });
    const sockets = Array.from({ length: 40 }, (_, i) => socket(wire, hub, 'h', `t${i % 7}`));
    const live = new Set<(typeof sockets)[number]>();
    for (const [i, s] of sockets.entries()) {
      hub.add(s);
      live.add(s);
      if (i % 3 === 2) {
        const gone = sockets[i - 1 - (i % 2)]!;
        if (hub.remove(gone)) live.delete(gone);
      }
    }
    assert.equal(hub.cast('h', { kind: 'all' }, 'x'), live.size);
    for (const s of sockets) assert.equal(s.raw.inbox.length, live.has(s) ? 1 : 0, s.id);
    assert.equal(hub.size, live.size);
    assert.deepEqual(new Set(hub.all()), live);
  });
});

for (const topics of [false, true]) {
  it(`sends nothing to the sockets of a protocol whose wrap answers undefined (${topics ? 'native topics' : 'a write per socket'})`, () => {
    const wire = fakeWire({ topics });
    const hub = new Hub({ wire, sendBuffer: 1000, onSlow: () => {} });
    const protocol = (name: string) => ({ name }) as unknown as ClientProtocol;
    const [skipped, kept] = [protocol('skipped'), protocol('kept')];
    const plain = socket(wire, hub, 'h', 't1');
    const quiet = Object.assign(socket(wire, hub, 'h', 't2'), { aware: true, protocol: skipped });
    const loud = Object.assign(socket(wire, hub, 'h', 't3'), { aware: true, protocol: kept });
    for (const s of [plain, quiet, loud]) {
      hub.add(s);
      hub.join(s, 'c');
    }
    hub.cast('h', { kind: 'channel', channel: 'c' }, 'x', undefined, (p) => (p === skipped ? undefined : `${p.name}:x`));
    assert.deepEqual([plain, quiet, loud].map((s) => s.raw.inbox), [['x'], [], ['kept:x']]);
  });
}

describe('Hub: a cast to sockets of several protocols, mixed in its list', () => {
  // Pusher and wsgate.js sockets of one host join the same channels in whatever order they connect: the hub walks
  // them interleaved. A presence event goes through wrap() too (publishing.ts), which answers the frame itself
  // for wsgate.js and undefined for Pusher.
  const protocol = (name: string) => ({ name }) as unknown as ClientProtocol;
  const [aware, pusher] = [protocol('wsgate'), protocol('pusher')];
  function mixed() {
    const wire = fakeWire({ encodeToBytes: true });
    const hub = new Hub({ wire, sendBuffer: 1000, onSlow: () => {} });
    const sockets = Array.from({ length: 10 }, (_, i) => Object.assign(socket(wire, hub, 'h', `t${i}`), { aware: true, protocol: i % 2 ? pusher : aware }));
    for (const s of sockets) {
      hub.add(s);
      hub.join(s, 'c');
    }
    return { wire, hub, sockets };
  }

  it('calls wrap once per protocol and encodes each frame once, not once per socket', () => {
    const { wire, hub, sockets } = mixed();
    const calls: string[] = [];
    wire.encodes = 0;
    const sent = hub.cast('h', { kind: 'channel', channel: 'c' }, 'x', undefined, (p) => (calls.push(p.name), `${p.name}:x`));
    assert.equal(sent, 10);
    assert.deepEqual(calls.sort(), ['pusher', 'wsgate']);
    assert.equal(wire.encodes, 3, 'the frame, and one per protocol');
    for (const s of sockets) assert.deepEqual(s.raw.inbox, [`${s.protocol.name}:x`]);
  });

  it('a presence frame a protocol keeps as it is is not encoded again, and one it drops costs no encode', () => {
    const { wire, hub, sockets } = mixed();
    wire.encodes = 0;
    const frame = '{"wsgate":"join","channel":"c","socket":"s"}';
    const sent = hub.cast('h', { kind: 'channel', channel: 'c' }, frame, undefined, (p) => (p === pusher ? undefined : frame));
    assert.equal(sent, 5);
    assert.equal(wire.encodes, 1, 'encoded once, as before presence frames went through wrap');
    for (const s of sockets) assert.deepEqual(s.raw.inbox, s.protocol === pusher ? [] : [frame]);
  });
});
