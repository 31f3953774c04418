import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HostTable, hostKeyProblem, normaliseHost, parseAuthority, requestHost } from '../../src/config/hosts.ts';

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

describe('parseAuthority', () => {
  it('reads host and port, and drops a leading scheme and a plain path (the contract)', () => {
    assert.deepEqual(parseAuthority('APP.test:3001'), { host: 'app.test', port: 3001 });
    assert.deepEqual(parseAuthority('https://Demo.test:443/x'), { host: 'demo.test', port: 443, scheme: 'https' });
    assert.deepEqual(parseAuthority('[::1]:3001'), { host: '::1', port: 3001 });
    assert.deepEqual(parseAuthority('::1'), { host: '::1' });
    assert.deepEqual(parseAuthority('example.com.'), { host: 'example.com' });
  });
  it('refuses what no browser or proxy sends instead of routing it somewhere', () => {
    for (const bad of ['evil.com@a.test', 'a.test/../b.test', 'a.test/./x', 'a.test\\b.test', 'a.test:99999', 'a.test:x', 'a test', 'a.test:80:80x', '[::1', 'a..test', '<script>']) {
      assert.equal(parseAuthority(bad), undefined, bad);
    }
  });
  it('refuses a name longer than DNS allows (253 characters), which a catch-all host would keep with every socket', () => {
    const label = 'a'.repeat(63);
    const longest = [label, label, label, 'a'.repeat(61)].join('.');
    assert.equal(longest.length, 253);
    assert.deepEqual(parseAuthority(longest), { host: longest });
    assert.equal(parseAuthority(`${longest}a`), undefined);
    assert.equal(parseAuthority(`${'b'.repeat(16_000)}.test:3001`), undefined);
    assert.equal(parseAuthority(`${'1:'.repeat(8_000)}1`), undefined);
  });
});

describe('requestHost', () => {
  it('is undefined for a malformed Host or X-Forwarded-Host', () => {
    assert.equal(requestHost(undefined, 'evil.com@a.test'), undefined);
    assert.equal(requestHost('a.test/../b.test', 'c.example'), undefined);
  });
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
