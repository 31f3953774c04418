/**
 * An upgrade whose auth hook was still running when the shutdown closed every
 * socket opens after it: it is closed as the others were, and gets no connect
 * hook that no close hook would follow.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startCore } from '../support/core.ts';

describe('a socket that opens during the shutdown', () => {
  it('is closed with 1001 and runs no connect hook', async () => {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const ran: string[] = [];
    const core = startCore({ hosts: { 'a.test': { module: '/dev/null' } } }, {
      'a.test': {
        auth: async ({ token }) => {
          if (token === 'late') await answered;
          return true;
        },
        connect: ({ token }) => void ran.push(`connect ${token}`),
        close: ({ token }) => void ran.push(`close ${token}`),
      },
    });
    const first = await core.connect('a.test', 'first');
    const late = core.connect('a.test', 'late');
    await core.settle();
    const stopped = core.stop();
    answer();
    const socket = await late;
    await stopped;
    await core.settle();
    assert.equal(first.closed?.code, 1001);
    assert.deepEqual(socket.closed, { code: 1001, reason: 'server shutting down' });
    assert.deepEqual(ran, ['connect first', 'close first']);
    assert.equal(core.gateway.hub.size, 0);
  });
});
