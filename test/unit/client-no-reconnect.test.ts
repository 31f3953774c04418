// With reconnect: false a lost connection is the end: nothing the app asks
// afterwards may wait for a connection that will never come.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeClient } from '../support/fake-websocket.ts';

describe('wsgate.js with reconnect: false, once the connection is lost', () => {
  it('rejects a presence request instead of leaving it pending for ever', async (t) => {
    const { client, last, up } = fakeClient(t, { reconnect: false });
    up();
    last().drop();
    const settled = await Promise.race([client.presence('room:1').then(() => 'resolved', () => 'rejected'), new Promise((resolve) => setImmediate(() => resolve('pending')))]);
    assert.equal(settled, 'rejected');
  });

  it('takes nothing more to send, as after close()', (t) => {
    const { client, last, up, sockets } = fakeClient(t, { reconnect: false });
    up();
    last().drop();
    assert.equal(client.send('lost'), false);
    t.mock.timers.tick(60_000);
    assert.equal(sockets.length, 1);
  });
});
