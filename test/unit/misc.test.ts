import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { tokenFromCookie } from '../../src/http/cookies.ts';
import { randomHexId } from '../../src/core/ids.ts';
import { LineSplitter } from '../../src/hooks/lines.ts';
import { createLogger, formatLine } from '../../src/ops/log.ts';
import { hookArgv } from '../../src/hooks/runners/oneshot.ts';
import { refuses } from '../../src/hooks/runners/runner.ts';
import { serialised } from '../../src/serial.ts';
import { VERSION } from '../../src/version.ts';

describe('LineSplitter', () => {
  const split = (chunks: Array<string | Uint8Array>) => {
    const lines: string[] = [];
    const s = new LineSplitter();
    for (const c of chunks) s.push(typeof c === 'string' ? new TextEncoder().encode(c) : c, (l) => lines.push(l));
    s.end((l) => lines.push(l));
    return lines;
  };
  it('splits across chunks and keeps the last unterminated line', () => assert.deepEqual(split(['a\nb', 'c\n', 'd']), ['a', 'bc', 'd']));
  it('drops \\r of \\r\\n and keeps empty lines for the caller to judge', () => assert.deepEqual(split(['x\r\n\r\ny\n']), ['x', '', 'y']));
  it('does not break a UTF-8 character split between chunks', () => {
    const bytes = new TextEncoder().encode('✓\n');
    assert.deepEqual(split([bytes.subarray(0, 1), bytes.subarray(1)]), ['✓']);
  });
});

describe('tokenFromCookie', () => {
  it('reads and URL-decodes token', () => assert.equal(tokenFromCookie('a=1; token=u%201; b=2'), 'u 1'));
  it('the last token wins', () => assert.equal(tokenFromCookie('token=a; token=b'), 'b'));
  it('keeps = inside the value', () => assert.equal(tokenFromCookie('token=a=b'), 'a=b'));
  it('absent, empty or malformed is no token', () => {
    for (const header of [undefined, '', 'tokens=x', 'token=', 'token=%E0%A4%A']) assert.equal(tokenFromCookie(header), undefined, String(header));
  });
});

describe('refuses', () => {
  it('false and "false" refuse, as value or text', () => {
    for (const r of [false, 'false', ' "false"\n']) assert.equal(refuses(r), true, JSON.stringify(r));
  });
  it('anything else accepts', () => {
    for (const r of [true, '', 'true', 'falsey', 0, null, undefined, {}]) assert.equal(refuses(r), false, JSON.stringify(r));
  });
});

describe('hook argv', () => {
  it('appends the hook, host, token, socket and message to the command', () => {
    assert.deepEqual(hookArgv(['php', '/a/app.php'], { hook: 'receive', host: 'h', token: 't', socket: 's', message: 'm m' }), [
      'php', '/a/app.php', 'websocket::receive', 'h', 't', 's', 'm m',
    ]);
    assert.deepEqual(hookArgv(['x'], { hook: 'auth', host: 'h', token: 't', socket: 's' }), ['x', 'websocket::auth', 'h', 't', 's']);
  });
});

describe('log lines', () => {
  it('one line: time, level, event, key=value, quoting where needed, skipping empties', () => {
    const line = formatLine('info', 'open', { host: 'a.test', socket: 'abc', reason: 'two words', none: undefined, empty: '' }, new Date(0));
    assert.equal(line, '1970-01-01T00:00:00.000Z INFO  open host=a.test socket=abc reason="two words"');
  });
  it('filters by level', () => {
    const lines: string[] = [];
    const log = createLogger((l) => lines.push(l), 'warn');
    log.info('quiet');
    log.error('loud', { n: 1 });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /ERROR loud n=1$/);
  });
});

describe('ids and version', () => {
  it('socket ids are 16 lower-case hex and differ', () => {
    const ids = new Set(Array.from({ length: 1000 }, randomHexId));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);
    // 1000 ids span more than one refill of the random pool, and use every hex digit.
    assert.equal(new Set([...ids].join('')).size, 16);
  });
  it('VERSION matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(VERSION, pkg.version);
  });
});

describe('the embedded PHP SDK', () => {
  it('is php/wsgate.php as it is now (run scripts/embed-php.mjs after editing it)', async () => {
    const { WSGATE_PHP } = await import('../../src/hooks/sdk/wsgate-php.ts');
    assert.equal(WSGATE_PHP, readFileSync(new URL('../../php/wsgate.php', import.meta.url), 'utf8'));
  });
});

describe('json log lines', () => {
  it('one object per line with time, level, event and the non-empty fields', async () => {
    const { createLogger: make } = await import('../../src/ops/log.ts');
    const lines: string[] = [];
    make((l) => lines.push(l), 'info', 'json').info('open', { host: 'a.test', sockets: 2, reason: '', none: undefined });
    const parsed = JSON.parse(lines[0]!);
    assert.equal(typeof parsed.time, 'string');
    assert.deepEqual({ ...parsed, time: 'x' }, { time: 'x', level: 'info', event: 'open', host: 'a.test', sockets: 2 });
  });
});

describe('originAllowed', async () => {
  const { originAllowed } = await import('../../src/http/access.ts');
  const app = { host: 'app.test' };
  it('allows no Origin (not a browser) and the host itself by default', () => {
    assert.equal(originAllowed(undefined, app, undefined), true);
    assert.equal(originAllowed('https://app.test', app, undefined), true);
    assert.equal(originAllowed('http://APP.test', app, undefined), true);
    assert.equal(originAllowed('https://evil.test', app, undefined), false);
    assert.equal(originAllowed('null', app, undefined), false);
  });
  it('checks the port and, on a socket known to be TLS, the scheme', () => {
    assert.equal(originAllowed('http://app.test:8080', app, undefined), false, 'another port is another origin');
    assert.equal(originAllowed('http://app.test:3001', { host: 'app.test', port: 3001 }, undefined), true);
    assert.equal(originAllowed('http://app.test', { host: 'app.test', port: 3001 }, undefined), false);
    assert.equal(originAllowed('https://app.test:443', app, undefined), true);
    assert.equal(originAllowed('http://app.test', { host: 'app.test', scheme: 'https' }, undefined), false, 'a plain-http page on a TLS socket');
    assert.equal(originAllowed('https://app.test', { host: 'app.test', scheme: 'https' }, undefined), true);
    assert.equal(originAllowed('ftp://app.test', app, undefined), false);
    assert.equal(originAllowed('https://evil.test@app.test', app, undefined), false);
  });
  it('follows a list: origins, host names, *.suffix, *', () => {
    const list = ['https://admin.test', '*.cdn.test', 'http://localhost:5173'];
    assert.equal(originAllowed('https://admin.test', app, list), true);
    assert.equal(originAllowed('http://admin.test', app, list), false, 'an origin entry is exact: scheme');
    assert.equal(originAllowed('https://admin.test:8443', app, list), false, 'an origin entry is exact: port');
    assert.equal(originAllowed('https://a.cdn.test', app, list), true);
    assert.equal(originAllowed('https://a.cdn.test:8443', app, list), false, 'a host entry means its default port');
    assert.equal(originAllowed('https://cdn.test', app, list), false);
    assert.equal(originAllowed('http://localhost:5173', app, list), true);
    assert.equal(originAllowed('https://app.test', app, list), false, 'a list replaces the default');
    assert.equal(originAllowed('https://anything', app, ['*']), true);
  });
});

describe('loopbackTrust', async () => {
  const { loopbackTrust } = await import('../../src/http/access.ts');
  const caller = (headers: Record<string, string>, peer = '127.0.0.1') => ({ peer, scheme: 'http' as const, header: (name: string) => headers[name] });
  const phlo = { host: '127.0.0.1:3001', 'content-type': 'application/json', accept: '*/*' };
  it("trusts Phlo's wsCast request (curl on loopback, no Origin)", () => assert.deepEqual(loopbackTrust(caller(phlo), ['127.0.0.1']), { ok: true }));
  it('trusts localhost, [::1] and the listen address as Host', () => {
    for (const host of ['localhost:3001', '[::1]:3001', 'app.localhost', '10.0.0.5:3001']) assert.equal(loopbackTrust(caller({ host }), ['10.0.0.5']).ok, true, host);
  });
  it('refuses a rebound DNS name, another peer, and a proxy (even an empty header)', () => {
    assert.equal(loopbackTrust(caller({ host: 'attacker.example:3001' }), ['127.0.0.1']).ok, false);
    assert.equal(loopbackTrust(caller({ host: 'evil.com@127.0.0.1' }), ['127.0.0.1']).ok, false);
    assert.equal(loopbackTrust(caller(phlo, '10.1.2.3'), ['127.0.0.1']).ok, false);
    assert.equal(loopbackTrust(caller({ ...phlo, 'x-forwarded-for': '' }), ['127.0.0.1']).ok, false);
  });
  it("refuses a page of another origin, and trusts the gateway's own pages", () => {
    assert.equal(loopbackTrust(caller({ ...phlo, origin: 'https://evil.example' }), []).ok, false);
    assert.equal(loopbackTrust(caller({ ...phlo, origin: 'null' }), []).ok, false);
    assert.equal(loopbackTrust(caller({ ...phlo, origin: 'http://127.0.0.1:9999' }), []).ok, false, 'another port');
    assert.equal(loopbackTrust(caller({ ...phlo, 'sec-fetch-site': 'cross-site' }), []).ok, false);
    assert.equal(loopbackTrust(caller({ ...phlo, 'sec-fetch-site': 'same-site' }), []).ok, false);
    assert.equal(loopbackTrust(caller({ ...phlo, origin: 'http://127.0.0.1:3001', 'sec-fetch-site': 'same-origin' }), []).ok, true);
    assert.equal(loopbackTrust(caller({ ...phlo, 'sec-fetch-site': 'none' }), []).ok, true, 'typed into the address bar');
  });
});

describe('bridge access helpers', async () => {
  const { bearerMatches, isLoopback, isLoopbackListen, cameThroughProxy } = await import('../../src/http/access.ts');
  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
    for (const a of ['10.0.0.1', '::', '0.0.0.0', '', undefined, '128.0.0.1']) assert.equal(isLoopback(a), false, String(a));
    assert.equal(isLoopbackListen('[::1]'), true);
    assert.equal(isLoopbackListen('0.0.0.0'), false);
  });
  it('matches a bearer secret exactly', () => {
    assert.equal(bearerMatches('Bearer s3cret-s3cret-s3cret', 's3cret-s3cret-s3cret'), true);
    assert.equal(bearerMatches('bearer  s3cret-s3cret-s3cret ', 's3cret-s3cret-s3cret'), true);
    for (const h of [undefined, '', 'Bearer', 'Bearer s3cret', 'Basic s3cret-s3cret-s3cret']) assert.equal(bearerMatches(h, 's3cret-s3cret-s3cret'), false, String(h));
  });
  it('takes the secret as the password of Basic auth, any user name', () => {
    const basic = (pair: string) => `Basic ${btoa(pair)}`;
    assert.equal(bearerMatches(basic('admin:s3cret-s3cret-s3cret'), 's3cret-s3cret-s3cret', true), true);
    assert.equal(bearerMatches(basic(':s3cret-s3cret-s3cret'), 's3cret-s3cret-s3cret', true), true);
    assert.equal(bearerMatches(basic('admin:s3cret-s3cret-s3cret'), 's3cret-s3cret-s3cret'), false, 'only where Basic is allowed');
    for (const h of [basic('admin:wrong'), basic('s3cret-s3cret-s3cret'), 'Basic !!!', basic('admin:s3cret-s3cret-s3cre')]) assert.equal(bearerMatches(h, 's3cret-s3cret-s3cret', true), false, h);
  });
  it('sees a relayed request', () => {
    assert.equal(cameThroughProxy((n) => (n === 'x-forwarded-for' ? '1.2.3.4' : undefined)), true);
    assert.equal(cameThroughProxy(() => undefined), false);
    assert.equal(cameThroughProxy((n) => (n === 'x-forwarded-for' ? '' : undefined)), true, 'an empty header still names a proxy');
  });
});

describe('the listening line', () => {
  it('is printed whatever the level', async () => {
    const { createLogger: make } = await import('../../src/ops/log.ts');
    const lines: string[] = [];
    make((l) => lines.push(l), 'error').always('listening', { url: 'http://127.0.0.1:1' });
    assert.match(lines[0]!, /INFO  listening url=http:\/\/127\.0\.0\.1:1$/);
  });
});

describe('serialised', () => {
  it('runs a call once the one before has settled, failed or not, so a rollback never undoes a later swap', async () => {
    // A certificate swap as a TLS listener makes it: serve the new pair, await a check, roll back to `current` if it fails.
    let serving = 'old';
    let current = 'old';
    const checks = new Map<string, { settle: (ok: boolean) => void; done: Promise<void> }>();
    for (const pair of ['broken', 'good']) {
      let settle!: (ok: boolean) => void;
      const done = new Promise<void>((resolve, reject) => (settle = (ok) => (ok ? resolve() : reject(new Error(`${pair} failed`)))));
      checks.set(pair, { settle, done });
    }
    const started: string[] = [];
    const swap = serialised(async (pair: string) => {
      started.push(pair);
      serving = pair;
      try {
        await checks.get(pair)!.done;
      } catch (error) {
        serving = current;
        throw error;
      }
      current = pair;
    });
    const broken = swap('broken');
    const good = swap('good');
    await Promise.resolve();
    assert.deepEqual(started, ['broken'], 'the second waits for the first');
    checks.get('broken')!.settle(false);
    checks.get('good')!.settle(true);
    await assert.rejects(broken, /broken failed/);
    await good;
    assert.deepEqual(started, ['broken', 'good']);
    assert.equal(current, 'good');
    assert.equal(serving, 'good', 'the last pair asked for serves');
  });
});
