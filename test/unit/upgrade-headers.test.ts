/** src/http/public.ts isWebSocketUpgrade: an upgrade names itself in both Upgrade and Connection. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isWebSocketUpgrade } from '../../src/http/public.ts';
import { handshakeProblem } from '../../src/http/handshake.ts';

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

describe('the rest of the handshake (handshakeProblem)', () => {
  const good: Record<string, string> = { 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  const check = (headers: Record<string, string | undefined>) => handshakeProblem((name) => headers[name]);

  it('takes a handshake with the key and version RFC 6455 asks for, and a list of protocols', () => {
    assert.equal(check(good), undefined);
    assert.equal(check({ ...good, 'sec-websocket-protocol': 'chat, superchat' }), undefined);
  });

  it('answers 405 for a handshake that is not a GET, before anything else', () => {
    assert.deepEqual(handshakeProblem((name) => good[name], 'POST'), { status: 405, message: 'a WebSocket upgrade must be a GET request', headers: { Allow: 'GET' } });
    assert.equal(handshakeProblem((name) => good[name], 'HEAD')?.status, 405);
    assert.equal(handshakeProblem((name) => good[name], 'GET'), undefined);
  });

  it('answers 426 with the version it speaks for another version or none', () => {
    assert.deepEqual(check({ ...good, 'sec-websocket-version': '8' }), { status: 426, message: 'Sec-WebSocket-Version must be 13', headers: { 'Sec-WebSocket-Version': '13' } });
    assert.equal(check({ 'sec-websocket-key': good['sec-websocket-key'] })?.status, 426);
  });

  it('answers 400 for a missing or malformed key, and a protocol list that does not parse', () => {
    assert.equal(check({ 'sec-websocket-version': '13' })?.status, 400);
    assert.equal(check({ ...good, 'sec-websocket-key': 'short==' })?.status, 400);
    assert.equal(check({ ...good, 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ' })?.status, 400);
    assert.equal(check({ ...good, 'sec-websocket-protocol': 'a b' })?.status, 400);
    assert.equal(check({ ...good, 'sec-websocket-protocol': 'chat, chat' })?.status, 400);
    assert.equal(check({ ...good, 'sec-websocket-protocol': '' })?.status, 400);
  });
});
