import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseControl, parseRecover } from '../../src/protocols/wsgate/control.ts';

describe('parseControl', () => {
  it('reads subscribe and unsubscribe frames', () => {
    assert.deepEqual(parseControl('{"wsgate":"subscribe","channel":"room:1"}'), { control: { op: 'subscribe', channel: 'room:1' } });
    assert.deepEqual(parseControl('{"channel":"a","wsgate":"unsubscribe"}'), { control: { op: 'unsubscribe', channel: 'a' } });
  });
  it("leaves every other frame to the app, even one that mentions wsgate", () => {
    for (const text of ['hello', '{"type":"chat"}', '"wsgate"', '{"text":"the \\"wsgate\\" server"}', '["wsgate"]', '{"wsgate" oops']) assert.equal(parseControl(text), undefined, text);
  });
  it('says what is wrong with a malformed control frame', () => {
    assert.match((parseControl('{"wsgate":"join","channel":"a"}') as { problem: string }).problem, /subscribe", "unsubscribe" or "presence"/);
    assert.match((parseControl('{"wsgate":"subscribe"}') as { problem: string }).problem, /"channel"/);
    assert.deepEqual(parseControl('{"wsgate":"subscribe","channel":""}'), { problem: 'a channel name must not be empty', channel: '' });
  });
});

describe('parseControl: recovery and presence', () => {
  it('reads a position to resume from, and presence requests', () => {
    assert.deepEqual(parseControl('{"wsgate":"subscribe","channel":"c","since":{"epoch":"e1","offset":4}}'), { control: { op: 'subscribe', channel: 'c', since: { epoch: 'e1', offset: 4 } } });
    assert.deepEqual(parseControl('{"wsgate":"presence","channel":"c"}'), { control: { op: 'presence', channel: 'c' } });
  });
  it('refuses a malformed position', () => {
    for (const since of ['{"epoch":1,"offset":4}', '{"epoch":"e","offset":-1}', '{"epoch":"e","offset":1.5}', '"e:4"']) {
      assert.match((parseControl(`{"wsgate":"subscribe","channel":"c","since":${since}}`) as { problem: string }).problem, /since must be/, since);
    }
  });
});

describe('parseRecover', () => {
  it('reads positions per stream', () => {
    const got = parseRecover('{"room:1":{"epoch":"a","offset":3},"@all":{"epoch":"b","offset":0}}');
    assert.ok('positions' in got);
    assert.deepEqual([...got.positions!], [['room:1', { epoch: 'a', offset: 3 }], ['@all', { epoch: 'b', offset: 0 }]]);
    assert.deepEqual(parseRecover(undefined), {});
  });
  it('says what is wrong', () => {
    assert.deepEqual(parseRecover('{'), { problem: 'recover is not valid JSON' });
    assert.match((parseRecover('{"a":{"epoch":"e"}}') as { problem: string }).problem, /JSON object such as/);
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`c${i}`, { epoch: 'e', offset: 1 }]));
    assert.match((parseRecover(JSON.stringify(many)) as { problem: string }).problem, /more than 100/);
  });
});
