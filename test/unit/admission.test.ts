/**
 * Admission's places: a full limit asks first (beforeFull) whether upgrades
 * whose clients went still hold places, and refuses only if it is still full.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admission } from '../../src/core/admission.ts';
import type { AdmissionParts } from '../../src/core/admission.ts';
import type { Ticket } from '../../src/core/admissions.ts';

const limits = { sockets: 3, socketsPerHost: 2, socketsPerToken: 1 };

/** An Admission over an empty hub: only the places it holds count. */
function admission(beforeFull?: () => void): Admission {
  const hub = { size: 0, countHost: () => 0, countToken: () => 0 };
  const parts = { hub, routes: { limits }, beforeFull } as unknown as AdmissionParts;
  return new Admission(parts);
}

const ticketOf = (admitted: ReturnType<Admission['admit']>): Ticket => {
  assert.ok('ticket' in admitted, 'admitted');
  return admitted.ticket;
};

describe('admission', () => {
  it('does not ask while there is room', () => {
    let asked = 0;
    const gate = admission(() => asked++);
    ticketOf(gate.admit('a.test', 't1'));
    ticketOf(gate.admit('a.test', 't2'));
    assert.equal(asked, 0);
  });

  it('asks before refusing, and admits into a place given back meanwhile', () => {
    const held: Ticket[] = [];
    let asked = 0;
    // The upgrade whose client went gives its place back when asked, as its watch's abort does.
    const gate = admission(() => {
      asked++;
      held.shift()?.release();
    });
    held.push(ticketOf(gate.admit('a.test', 't1')), ticketOf(gate.admit('a.test', 't2')));
    const third = gate.admit('a.test', 't3');
    assert.equal(asked, 1);
    ticketOf(third);
    assert.equal(gate.admissions.countHost('a.test'), 2);
  });

  it('refuses when asking frees nothing, with the limit that is full', () => {
    let asked = 0;
    const gate = admission(() => asked++);
    ticketOf(gate.admit('a.test', 't1'));
    ticketOf(gate.admit('a.test', 't2'));
    assert.deepEqual(gate.admit('a.test', 't3'), { refused: { status: 503, reason: 'the host holds its maximum of 2 sockets' } });
    ticketOf(gate.admit('b.test', 'u1'));
    assert.deepEqual(gate.admit('c.test', 'v1'), { refused: { status: 503, reason: 'the gateway holds its maximum of 3 sockets' } });
    assert.equal(asked, 2);
  });

  it('asks before refusing a token its place, in the first-frame flow too', () => {
    const stays = admission(() => {});
    ticketOf(stays.admit('a.test', 'same'));
    assert.deepEqual(stays.admitToken(ticketOf(stays.admit('a.test', undefined)), 'same'), { status: 429, reason: 'this token holds its maximum of 1 sockets' });
    const held: Ticket[] = [];
    const gate = admission(() => held.shift()?.release());
    held.push(ticketOf(gate.admit('a.test', 'same')));
    const late = ticketOf(gate.admit('a.test', undefined));
    assert.equal(gate.admitToken(late, 'same'), undefined);
    assert.equal(late.token, 'same');
    assert.equal(gate.admissions.countToken('a.test', 'same'), 1);
  });
});

describe('admissions evicting sockets that hold a place', () => {
  it('closes only the tickets of open sockets, of the hosts no longer served, and none once released', async () => {
    const { Admissions } = await import('../../src/core/admissions.ts');
    const places = new Admissions();
    const closed: string[] = [];
    const upgrade = places.enter('a.test', 't1');
    const waitingA = places.enter('a.test');
    waitingA.closeOnEvict((code, reason) => closed.push(`a ${code} ${reason}`));
    const waitingB = places.enter('b.test');
    waitingB.closeOnEvict(() => closed.push('b'));
    const gone = places.enter('b.test');
    gone.release();
    gone.closeOnEvict(() => closed.push('released'));
    places.evict(1001, 'host no longer served', 'host_not_configured', (host) => host === 'b.test');
    assert.deepEqual(closed, ['a 1001 host no longer served']);
    waitingA.release();
    places.evict(1001, 'server shutting down', 'shutdown');
    assert.deepEqual(closed, ['a 1001 host no longer served', 'b']);
    assert.equal(places.size, 2);
    upgrade.release();
    waitingB.release();
    assert.equal(places.size, 0);
  });
});
