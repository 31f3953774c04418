import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseControl } from '../../src/control.ts';

describe('parseControl', () => {
  it('reads subscribe and unsubscribe frames', () => {
    assert.deepEqual(parseControl('{"wsgate":"subscribe","channel":"room:1"}'), { control: { op: 'subscribe', channel: 'room:1' } });
    assert.deepEqual(parseControl('{"channel":"a","wsgate":"unsubscribe"}'), { control: { op: 'unsubscribe', channel: 'a' } });
  });
  it("leaves every other frame to the app, even one that mentions wsgate", () => {
    for (const text of ['hello', '{"type":"chat"}', '"wsgate"', '{"text":"the \\"wsgate\\" server"}', '["wsgate"]', '{"wsgate" oops']) assert.equal(parseControl(text), undefined, text);
  });
  it('says what is wrong with a malformed control frame', () => {
    assert.match((parseControl('{"wsgate":"join","channel":"a"}') as { problem: string }).problem, /subscribe" or "unsubscribe/);
    assert.match((parseControl('{"wsgate":"subscribe"}') as { problem: string }).problem, /"channel"/);
    assert.deepEqual(parseControl('{"wsgate":"subscribe","channel":""}'), { problem: 'a channel name must not be empty', channel: '' });
  });
});
