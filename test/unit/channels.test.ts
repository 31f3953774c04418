import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelRule, patternProblem } from '../../src/config/channel-rules.ts';

describe('channelRule', () => {
  const rules = [
    { pattern: '*', presenceEvents: false },
    { pattern: 'room:*', presenceEvents: true },
    { pattern: 'room:lobby', presenceEvents: false },
    { pattern: 'room:vip:*', presenceEvents: false },
  ];
  it('prefers the exact pattern, then the longest prefix, then "*"', () => {
    assert.equal(channelRule(rules, 'room:lobby')?.pattern, 'room:lobby');
    assert.equal(channelRule(rules, 'room:vip:1')?.pattern, 'room:vip:*');
    assert.equal(channelRule(rules, 'room:1')?.pattern, 'room:*');
    assert.equal(channelRule(rules, 'user:1')?.pattern, '*');
  });
  it('finds nothing without rules or without a match', () => {
    assert.equal(channelRule(undefined, 'a'), undefined);
    assert.equal(channelRule([{ pattern: 'a:*', presenceEvents: true }], 'b'), undefined);
  });
  it('allows "*" only at the end of a pattern', () => {
    assert.equal(patternProblem('room:*'), undefined);
    assert.match(patternProblem('*:room') ?? '', /only at its end/);
    assert.match(patternProblem('') ?? '', /empty/);
  });
});
