import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineSplitter, LineTooLong } from '../../src/hooks/lines.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('LineSplitter bound', () => {
  it('passes a line of exactly the bound, \\r\\n not counted', () => {
    const lines: string[] = [];
    const s = new LineSplitter(4);
    s.push(bytes('abcd\r\nef'), (l) => lines.push(l));
    s.push(bytes('gh\n'), (l) => lines.push(l));
    assert.deepEqual(lines, ['abcd', 'efgh']);
  });

  it('throws as soon as a line without its newline outgrows the bound, holding none of it', () => {
    const s = new LineSplitter(8);
    s.push(bytes('12345'), () => assert.fail('no line yet'));
    assert.throws(() => s.push(bytes('67890'), () => {}), (e: unknown) => e instanceof LineTooLong && e.message === 'a line of output is longer than 8 bytes');
  });

  it('takes a line of exactly the bound whose \r and \n come in separate chunks', () => {
    const s = new LineSplitter(4);
    const lines: string[] = [];
    s.push(bytes('abcd\r'), (l) => lines.push(l));
    s.push(bytes('\n'), (l) => lines.push(l));
    assert.deepEqual(lines, ['abcd']);
  });

  it('throws for a complete line over the bound within one chunk', () => {
    const s = new LineSplitter(3);
    const lines: string[] = [];
    assert.throws(() => s.push(bytes('ok\ntoo long\n'), (l) => lines.push(l)), LineTooLong);
    assert.deepEqual(lines, ['ok']);
  });

  it('counts bytes, not characters', () => {
    const s = new LineSplitter(5);
    // Two characters, six bytes.
    assert.throws(() => s.push(bytes('✓✓\n'), () => {}), LineTooLong);
  });

  it('bounds the unterminated last line at the end too', () => {
    const s = new LineSplitter(4);
    s.push(bytes('abcd'), () => {});
    s.end((l) => assert.equal(l, 'abcd'));
    const t = new LineSplitter(4);
    t.push(bytes('abc'), () => {});
    t.push(bytes('\r'), () => {});
    t.end((l) => assert.equal(l, "abc"));
  });
});
