import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HostTable, hostKeyProblem, normaliseHost, requestHost } from '../../src/hosts.ts';

describe('normaliseHost', () => {
  const cases: Array<[string, string]> = [
    ['Example.COM', 'example.com'],
    ['example.com:3001', 'example.com'],
    ['https://example.com/path?q', 'example.com'],
    ['http://Example.com:8080/', 'example.com'],
    ['[::1]:3001', '::1'],
    ['[::1]', '::1'],
    ['::1', '::1'],
    ['  spaced.example  ', 'spaced.example'],
    ['example.com.', 'example.com'],
    ['user@example.com', 'example.com'],
    ['', ''],
  ];
  for (const [input, expected] of cases) it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => assert.equal(normaliseHost(input), expected));
});

describe('requestHost', () => {
  it('prefers the first X-Forwarded-Host value', () => assert.equal(requestHost('A.example, b.example', 'c.example'), 'a.example'));
  it('falls back to Host when X-Forwarded-Host is absent or empty', () => {
    assert.equal(requestHost(undefined, 'C.example:80'), 'c.example');
    assert.equal(requestHost(' , x', 'c.example'), 'c.example');
  });
});

describe('HostTable', () => {
  const table = new HostTable<string>([
    ['app.example.com', 'exact'],
    ['*.example.com', 'wide'],
    ['*.tenant.example.com', 'narrow'],
    ['*', 'fallback'],
  ]);
  it('exact names win', () => assert.equal(table.match('app.example.com'), 'exact'));
  it('the longest wildcard suffix wins', () => {
    assert.equal(table.match('a.tenant.example.com'), 'narrow');
    assert.equal(table.match('b.example.com'), 'wide');
  });
  it('a wildcard does not match its bare suffix', () => assert.equal(table.match('tenant.example.com'), 'wide'));
  it('* catches everything else', () => assert.equal(table.match('other.org'), 'fallback'));
  it('no match without a catch-all', () => assert.equal(new HostTable([['a', 1]]).match('b'), undefined));
});

describe('hostKeyProblem', () => {
  it('accepts names, *.suffix and *', () => {
    for (const key of ['a.example', '*.example', '*', 'localhost', '::1']) assert.equal(hostKeyProblem(key), undefined, key);
  });
  it('rejects misplaced stars and paths', () => {
    assert.match(hostKeyProblem('a.*.example')!, /only as/);
    assert.match(hostKeyProblem('a.example/x')!, /bare host name/);
    assert.match(hostKeyProblem('*.')!, /empty/);
  });
});
