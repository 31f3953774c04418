import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeCodeOf, noteProtocolError, protocolCloseCode } from '../../src/runtime/close-code.ts';

describe('protocolCloseCode', () => {
  it('takes the code ws marks its errors with', () => {
    const error = Object.assign(new RangeError('Max payload size exceeded'), { [Symbol('status-code')]: 1009 });
    assert.equal(protocolCloseCode(error), 1009);
  });
  it('reads what Bun and Deno say', () => {
    assert.equal(protocolCloseCode('Received invalid UTF-8'), 1007);
    assert.equal(protocolCloseCode('Received too big message'), 1009);
    assert.equal(protocolCloseCode(new Error('Invalid UTF-8')), 1007);
    assert.equal(protocolCloseCode(new Error('Connection reset by peer')), undefined);
    assert.equal(protocolCloseCode(''), undefined);
  });
});

describe('closeCodeOf', () => {
  it('keeps a code the runtime received, and gives a failed socket the code of its error', () => {
    const raw = {};
    assert.equal(closeCodeOf(raw, 1000), 1000);
    assert.equal(closeCodeOf(raw, 1006), 1006);
    assert.equal(closeCodeOf(raw, 0), 1006, '0 is no close code');
    noteProtocolError(raw, new Error('Invalid UTF-8'));
    noteProtocolError(raw, 'Received too big message');
    assert.equal(closeCodeOf(raw, 1006), 1007, 'the first error is the one the connection failed on');
    assert.equal(closeCodeOf(raw, 0), 1007);
    assert.equal(closeCodeOf(raw, 1001), 1001);
  });
});
