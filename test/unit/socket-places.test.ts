/**
 * Socket ids spelt from places (src/core/socket-ids.ts) and the table of
 * places (src/core/socket-places.ts): an id leads back to its socket and to
 * no other, a kept id does not name the next socket in its place, and an
 * accepted upgrade that never opens gives its place back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PLACES, placeOf, pusherIdText, serialOf, serialOfId, socketIdText } from '../../src/core/socket-ids.ts';
import { HANDOVER_MS, SocketPlaces } from '../../src/core/socket-places.ts';
import { startCore } from '../support/core.ts';

describe('socket ids', () => {
  it('spell a serial as 16 lower-case hex characters, and as Pusher does, and read back either way', () => {
    for (const serial of [serialOf(0, 0), serialOf(1, 7), serialOf(PLACES - 1, 2 ** 28 - 1), serialOf(12345, 99999)]) {
      const id = socketIdText(serial);
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.equal(serialOfId(id), serial);
      const pusher = pusherIdText(serial);
      assert.match(pusher, /^\d+\.\d+$/);
      assert.equal(serialOfId(pusher), serial);
    }
  });

  it("read nothing from another process's ids, or from anything else", () => {
    const id = socketIdText(serialOf(5, 5));
    const otherSalt = ((parseInt(id.slice(0, 3), 16) + 1) % 4096).toString(16).padStart(3, '0') + id.slice(3);
    assert.equal(serialOfId(otherSalt), undefined);
    const [high, place] = pusherIdText(serialOf(5, 5)).split('.');
    assert.equal(serialOfId(`${Number(high) + 2 ** 28}.${place}`), undefined);
    for (const junk of ['', 'a'.repeat(15), 'A'.repeat(16), `${id}0`, '1.2.3', `1.${PLACES}`, '12345678901234.1', '-1.2']) assert.equal(serialOfId(junk), undefined, junk);
  });
});

describe('socket places', () => {
  it('find a socket only once it opened and until it is gone, and never by an old serial of its place', () => {
    const places = new SocketPlaces<object>();
    const socket = {};
    const serial = places.reserve()!;
    assert.equal(places.get(serial), undefined, 'reserved, not open');
    assert.equal(places.take(serial, socket), true);
    assert.equal(places.get(serial), socket);
    assert.equal(places.size, 1);
    assert.equal(places.take(serial, {}), false, 'a place holds one socket');
    assert.equal(places.release(serial), true);
    assert.equal(places.release(serial), false, 'given up once');
    assert.equal(places.get(serial), undefined);
    assert.equal(places.size, 0);
    assert.equal(places.take(serial, socket), false, 'a gone serial cannot come back');
  });

  it('use a place again as late as they can, under another serial', () => {
    const places = new SocketPlaces<object>();
    const serials = [places.reserve()!, places.reserve()!, places.reserve()!];
    assert.deepEqual(serials.map(placeOf), [0, 1, 2]);
    places.release(serials[1]!);
    places.release(serials[0]!);
    const next = places.reserve()!;
    assert.equal(placeOf(next), 1, 'the place given up first');
    assert.notEqual(next, serials[1]);
    assert.equal(places.take(serials[1]!, {}), false, "the old serial is not the new socket's");
    assert.equal(placeOf(places.reserve()!), 0);
    assert.equal(placeOf(places.reserve()!), 3);
  });

  it('give back a place handed over whose socket never opened, once HANDOVER_MS have passed, and keep those that opened', () => {
    let now = 1000;
    const places = new SocketPlaces<object>(() => now);
    const lost = places.reserve()!;
    const opened = places.reserve()!;
    places.handOver(lost);
    places.handOver(opened);
    const socket = {};
    places.take(opened, socket);
    now += HANDOVER_MS - 1;
    places.release(places.reserve()!);
    assert.equal(places.take(lost, {}), true, 'still waiting for its open before the deadline');
    places.release(lost);

    const late = places.reserve()!;
    places.handOver(late);
    now += HANDOVER_MS;
    places.reserve();
    assert.equal(places.take(late, {}), false, 'given up: it opens too late');
    assert.equal(places.get(opened), socket, 'an open socket keeps its place');
    assert.equal(places.size, 1);
  });

  it('give back each place handed over at its own deadline, however many wait and however they are read', () => {
    let now = 0;
    const places = new SocketPlaces<object>(() => now);
    const handed: number[] = [];
    const sockets = new Map<number, object>();
    for (let i = 0; i < 3000; i++) {
      const serial = places.reserve()!;
      places.handOver(serial);
      handed.push(serial);
      if (i % 3 === 0) {
        const socket = {};
        places.take(serial, socket);
        sockets.set(i, socket);
      }
      now++;
    }
    // A few at a time, so the waiting ones are read on past where their queue is compacted.
    const due = 2000;
    for (let passed = 7; passed < due; passed += 7) {
      now = HANDOVER_MS + passed - 1;
      places.release(places.reserve()!);
    }
    now = HANDOVER_MS + due - 1;
    places.release(places.reserve()!);
    for (let i = 0; i < handed.length; i++) {
      if (sockets.has(i)) continue;
      const socket = {};
      assert.equal(places.take(handed[i]!, socket), i >= due, `handed over ${i}`);
      if (i >= due) sockets.set(i, socket);
    }
    now += 2 * HANDOVER_MS;
    places.release(places.reserve()!);
    for (const [i, socket] of sockets) assert.equal(places.get(handed[i]!), socket, `opened ${i}`);
    assert.equal(places.size, sockets.size);
  });

  it('keep nothing of a burst of handovers once every socket of it opened or was given up, with no reservation after it', () => {
    const places = new SocketPlaces<object>(() => 0);
    const handed = Array.from({ length: 5000 }, () => {
      const serial = places.reserve()!;
      places.handOver(serial);
      return serial;
    });
    assert.equal(places.handoverEntries, 10_000, 'a deadline and a serial for each place waiting');
    for (const [i, serial] of handed.entries()) {
      if (i % 10 === 0) places.release(serial);
      else assert.ok(places.take(serial, {}));
      // Pairs of places still waiting stay: they are what a late reservation gives up.
      if (i === 2500) assert.ok(places.handoverEntries > 0);
    }
    assert.equal(places.handoverEntries, 0, 'two numbers per socket used to stay until a reservation came after HANDOVER_MS');
    assert.equal(places.size, 4500);
    const late = places.reserve()!;
    places.handOver(late);
    assert.equal(places.handoverEntries, 2, 'the next handover is kept as before');
    assert.equal(places.take(late, {}), true);
  });
});

describe('an accepted upgrade whose socket opens after its place was given up', () => {
  it('is closed with 1013 and logged, never registered, and runs no hook', async () => {
    const ran: string[] = [];
    const core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts' } } }, {
      'a.test': { connect: () => void ran.push('connect'), close: () => void ran.push('close') },
    });
    try {
      const late = await core.connect('a.test', 'tok', { openLate: true });
      await core.settle();
      assert.deepEqual(late.closed, { code: 1013, reason: 'the socket opened too late; try again' });
      assert.equal(core.gateway.hub.size, 0);
      assert.equal(core.gateway.hub.get(late.client.id), undefined);
      assert.ok(core.lines.some((line) => line.includes('upgrade refused') && line.includes('the socket opened too late')), core.lines.join('\n'));
      assert.equal(core.lines.filter((line) => / open /.test(line) || / close /.test(line)).length, 0, 'no open or close line');
      const ontime = await core.connect('a.test', 'tok');
      assert.equal(core.gateway.hub.get(ontime.client.id), ontime.client);
      assert.deepEqual(ran, ['connect'], "only the socket that opened in time ran a hook");
    } finally {
      await core.stop();
    }
  });
});
