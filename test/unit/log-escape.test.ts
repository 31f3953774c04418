/**
 * A log value is printed as it is only when it is plain text: a control or
 * format character (ESC, C1, a bidi override, a line separator) from a
 * client's channel name or a hook's stderr is quoted and escaped, so it can
 * neither colour the operator's terminal nor make the line read otherwise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatJson, formatLine } from '../../src/ops/log.ts';

const AT = new Date(0);
const PLAIN = /^[\x20-\x7e]*$/;

describe('log values with control and format characters', () => {
  for (const [name, value] of [
    ['ESC (colour codes)', 'a\x1b[31mred\x1b[0m'],
    ['DEL', 'a\x7fb'],
    ['C1 (NEL, CSI)', 'a\u0085b\u009b2J'],
    ['bidi override', 'room\u202e1=resu'],
    ['line separator', 'a\u2028b'],
  ] as const) {
    it(`escapes ${name} in both formats`, () => {
      const pretty = formatLine('info', 'subscribe refused', { channel: value }, AT);
      assert.match(pretty, PLAIN, pretty);
      assert.equal(JSON.parse(pretty.slice(pretty.indexOf('channel=') + 8)), value, 'the quoted value reads back as it was');
      const json = formatJson('info', 'subscribe refused', { channel: value }, AT);
      assert.match(json, PLAIN, json);
      assert.equal(JSON.parse(json).channel, value);
    });
  }
  it('keeps plain values, non-ASCII letters included, as they are', () => {
    assert.equal(formatLine('info', 'open', { host: 'café.test', socket: 'abc' }, AT), '1970-01-01T00:00:00.000Z INFO  open host=café.test socket=abc');
  });
});

describe('a format character beyond the BMP', () => {
  it('is escaped as its surrogate pair', () => {
    const value = 'tag\u{e0041}';
    const pretty = formatLine('info', 'e', { v: value }, AT);
    assert.match(pretty, PLAIN, pretty);
    assert.equal(JSON.parse(pretty.slice(pretty.indexOf('v=') + 2)), value);
  });
});
