/**
 * The socket limits hold for open sockets, not only at the upgrade: an
 * accepted upgrade gives its admission place back with the answer, and its
 * socket opens later (on Deno, after the 101 is written: other upgrades are
 * admitted in between). A socket that would open over a limit is closed with
 * 1013, never registered, and runs no hook.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client } from '../../src/core/client.ts';
import type { Authorized } from '../../src/core/client.ts';
import type { Refusal } from '../../src/core/admission.ts';
import { PLAIN } from '../../src/protocols/wsgate/protocol.ts';
import { FakeSocket, startCore } from '../support/core.ts';
import type { Core } from '../support/core.ts';

/** An upgrade as http/upgrade.ts runs it, up to its answer: admitted, authorized, its admission place given back. */
async function accept(core: Core, host: string, token: string): Promise<Authorized> {
  const admitted = core.gateway.admit(host, token);
  if ('refused' in admitted) throw new Error(`refused: ${admitted.refused.reason}`);
  let authorized: Authorized | Refusal;
  try {
    authorized = await core.gateway.authorize(host, token, core.gateway.upgradePath('/websocket'), { protocol: PLAIN });
  } finally {
    admitted.ticket.release();
  }
  if ('status' in authorized) throw new Error(`refused: ${authorized.reason}`);
  return authorized;
}

/** The runtime's open of an accepted upgrade. */
function open(core: Core, authorized: Authorized): FakeSocket {
  const socket = new FakeSocket();
  socket.client = new Client(authorized);
  core.gateway.open(socket.client, socket);
  return socket;
}

describe('a socket that opens over a socket limit', () => {
  for (const [limit, second] of [['sockets', 'bob'], ['socketsPerToken', 'ann']] as const) {
    it(`is closed with 1013 when upgrades admitted before it opened fill limits.${limit}`, async () => {
      const ran: string[] = [];
      const core = startCore({ hosts: { 'a.test': { module: '/dev/null' } }, limits: { [limit]: 1 } }, {
        'a.test': { connect: ({ token }) => void ran.push(`connect ${token}`), close: ({ token }) => void ran.push(`close ${token}`) },
      });
      try {
        const first = await accept(core, 'a.test', 'ann');
        // Answered, not open yet: the next upgrade is admitted meanwhile, and accepted.
        const other = await accept(core, 'a.test', second);
        const a = open(core, first);
        const b = open(core, other);
        await core.settle();
        assert.equal(a.closed, undefined);
        assert.equal(b.closed?.code, 1013);
        assert.equal(core.gateway.hub.size, 1, `limits.${limit} is 1`);
        assert.equal(core.gateway.hub.get(b.client.id), undefined);
        assert.deepEqual(ran, ['connect ann']);
        assert.ok(core.lines.some((line) => line.includes('upgrade refused') && line.includes('maximum of 1 sockets')), core.lines.join('\n'));
      } finally {
        await core.stop();
      }
    });
  }
});
