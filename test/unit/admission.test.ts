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
