/** src/http/public.ts isWebSocketUpgrade: an upgrade names itself in both Upgrade and Connection. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isWebSocketUpgrade } from '../../src/http/public.ts';

describe('what counts as a WebSocket upgrade', () => {
  it('takes both headers, in any case, with Connection a list of tokens', () => {
    assert.equal(isWebSocketUpgrade('websocket', 'Upgrade'), true);
    assert.equal(isWebSocketUpgrade('WebSocket', 'keep-alive, Upgrade'), true);
    assert.equal(isWebSocketUpgrade(' websocket ', 'upgrade ,close'), true);
  });
  it('refuses one without Connection: upgrade, or upgrading to something else', () => {
    assert.equal(isWebSocketUpgrade('websocket', undefined), false);
    assert.equal(isWebSocketUpgrade('websocket', 'keep-alive'), false);
    assert.equal(isWebSocketUpgrade('websocket', 'upgrades'), false);
    assert.equal(isWebSocketUpgrade('h2c', 'Upgrade'), false);
    assert.equal(isWebSocketUpgrade(undefined, 'Upgrade'), false);
  });
});
