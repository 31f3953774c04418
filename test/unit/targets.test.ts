import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelProblem, parseExcept, parseTarget, tokenProblem } from '../../src/core/targets.ts';
import { grantOf } from '../../src/hooks/runners/runner.ts';

const ID = '0123456789abcdef';

describe('parseTarget', () => {
  const ok: Array<[unknown, unknown]> = [
    [undefined, { kind: 'all' }],
    [null, { kind: 'all' }],
    ['', { kind: 'all' }],
    ['all', { kind: 'all' }],
    ['token:abc', { kind: 'token', token: 'abc' }],
    ['token:a:b', { kind: 'token', token: 'a:b' }],
    ['token:not:abc', { kind: 'notToken', token: 'abc' }],
    [`socket:${ID}`, { kind: 'sockets', ids: [ID] }],
    [ID, { kind: 'sockets', ids: [ID] }],
    [[ID, ID], { kind: 'sockets', ids: [ID, ID] }],
    [[], { kind: 'sockets', ids: [] }],
  ];
  for (const [input, selection] of ok) {
    it(`${JSON.stringify(input)} selects ${JSON.stringify(selection)}`, () => assert.deepEqual(parseTarget(input), { ok: true, selection }));
  }
  const bad: Array<[unknown, RegExp]> = [
    ['ALL', /unknown target/],
    ['token:', /needs a token/],
    ['token:not:', /needs a token/],
    ['socket:xyz', /unknown target/],
    [ID.toUpperCase(), /unknown target/],
    [[ID, 5], /target\[1\]/],
    [42, /must be a string/],
    [{ socket: ID }, /must be a string/],
  ];
  for (const [input, reason] of bad) {
    it(`${JSON.stringify(input)} is refused`, () => {
      const parsed = parseTarget(input);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.reason, reason);
    });
  }
});

describe('parseExcept', () => {
  it('"" and null skip none', () => {
    assert.deepEqual(parseExcept(''), { ok: true, except: undefined });
    assert.deepEqual(parseExcept(null), { ok: true, except: undefined });
    assert.deepEqual(parseExcept(undefined), { ok: true, except: undefined });
  });
  it('a string names the socket to skip', () => assert.deepEqual(parseExcept(ID), { ok: true, except: ID }));
  it('anything else is refused', () => assert.equal(parseExcept(3).ok, false));
});

describe('channel targets', () => {
  it('channel:<name> selects a channel, colons in the name included', () => {
    assert.deepEqual(parseTarget('channel:room:1'), { ok: true, selection: { kind: 'channel', channel: 'room:1' } });
  });
  it('refuses an empty, too long or control-character name', () => {
    for (const bad of ['channel:', `channel:${'x'.repeat(201)}`, 'channel:a\nb']) assert.equal(parseTarget(bad).ok, false, bad);
    assert.equal(parseTarget(`channel:${'x'.repeat(200)}`).ok, true);
  });
  it('refuses a channel name or a token with a lone surrogate, and takes surrogate pairs', () => {
    for (const bad of ['\ud800', 'a\udc00', 'x\ud83d', '\udc00\ud800', '😀\ud800']) {
      assert.match(channelProblem(bad) ?? '', /lone UTF-16 surrogate/, JSON.stringify(bad));
      assert.match(tokenProblem(bad) ?? '', /lone UTF-16 surrogate/, JSON.stringify(bad));
    }
    assert.equal(channelProblem('room:😀 café'), undefined);
    assert.equal(tokenProblem('😀'), undefined);
  });
});

describe('grantOf', () => {
  it('reads channels and info from an object or from printed JSON', () => {
    assert.deepEqual(grantOf({ channels: ['a', 'b'], info: { name: 'Ann' } }), { grant: { channels: ['a', 'b'], info: { name: 'Ann' } } });
    assert.deepEqual(grantOf(' {"channels":["x"]}\n'), { grant: { channels: ['x'], info: undefined } });
    assert.deepEqual(grantOf({ info: 1 }), { grant: { channels: [], info: 1 } });
  });
  it('grants nothing for the old results: true, "1", "", null, a list, text', () => {
    for (const result of [true, '1', '', null, undefined, ['a'], 'ok', '{not json']) assert.deepEqual(grantOf(result), {}, String(result));
  });
  it('says what is wrong with a malformed grant', () => {
    assert.match(grantOf({ channels: 'a' }).problem ?? '', /list of strings/);
    assert.match(grantOf({ channels: [''] }).problem ?? '', /must not be empty/);
  });
});
