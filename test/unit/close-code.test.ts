import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeCodeOf, noteProtocolError, protocolCloseCode, uwsCloseCode } from '../../src/runtime/close-code.ts';

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

describe('uwsCloseCode', () => {
  it('gives the code uWebSockets sent for the reason it reports with 1006', () => {
    assert.equal(uwsCloseCode('Received too big message'), 1009);
    assert.equal(uwsCloseCode('Received invalid UTF-8'), 1007);
    assert.equal(uwsCloseCode('Received too big control frame'), 1002, 'a control frame over 125 bytes is a protocol error, not 1009');
    assert.equal(uwsCloseCode('Received unexpected RSV1 bit'), 1002);
    assert.equal(uwsCloseCode('Received invalid close code'), 1002);
    assert.equal(uwsCloseCode(''), undefined, 'a connection that just ended');
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
