import { PUSHER_CACHE_RULES } from '../../src/config/pusher-schema.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseConfig, resolvePath } from '../../src/config/config.ts';
import type { ConfigIO } from '../../src/config/config.ts';

const io = (files: Record<string, string>): ConfigIO => ({
  readTextFile: async (path) => {
    if (!(path in files)) throw new Error(`ENOENT: ${path}`);
    return files[path]!;
  },
  isFile: async (path) => path in files,
  cwd: () => '/etc/wsgate',
});

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfig', () => {
  it('never quotes a secret back in a problem, whatever type it was written as', () => {
    for (const secret of [1234567890123456, ['a-very-secret-value-123'], { value: 'a-very-secret-value-123' }, true]) {
      const [problem] = problems(() => parseConfig({ secret, hosts: { a: '/a.php' } }, 'f.json', '/'));
      assert.match(problem!, /^f\.json: secret: expected a string, got (a number|an array|an object|a boolean)$/);
      assert.doesNotMatch(problem!, /1234567890|a-very-secret|Array|Object/, problem);
    }
    const [short] = problems(() => parseConfig({ secret: 'short-secret', hosts: { a: '/a.php' } }, 'f.json', '/'));
    assert.match(short!, /^f\.json: secret: expected a secret of at least 16 characters, got/);
    assert.doesNotMatch(short!, /short-secret/);
  });
  it('fills the defaults', () => {
    const config = parseConfig({ hosts: { 'a.test': '/srv/a/app.php' } }, 'f.json', '/');
    assert.equal(config.listen, '127.0.0.1');
    assert.equal(config.port, 3001);
    assert.equal(config.php, 'php');
    assert.deepEqual(config.paths, [{ template: '/websocket', channels: [] }]);
    assert.equal(config.timeoutMs, 30_000);
    assert.equal(config.maxBody, 1 << 20);
  });

  it('reads all three host forms, resolving relative paths against the file', () => {
    const config = parseConfig(
      {
        php: '/usr/bin/php8.3',
        timeout: 5,
        hosts: {
          'App.Example.com:443': 'www/app.php',
          'demo.example.com': { app: '/srv/demo/app.php', build: true, timeout: 2 },
          'tool.example.com': { command: ['node', 'hooks.js'] },
          '*.tenant.example.com': { module: './hooks.ts' },
        },
      },
      'f.json',
      '/etc/wsgate',
    );
    assert.deepEqual(config.hosts, [
      { key: 'app.example.com', mode: 'oneshot', app: '/etc/wsgate/www/app.php', command: ['/usr/bin/php8.3', '/etc/wsgate/www/app.php'], timeoutMs: 5000 },
      { key: 'demo.example.com', mode: 'oneshot', app: '/srv/demo/app.php', command: ['/usr/bin/php8.3', '/srv/demo/app.php'], timeoutMs: 2000 },
      { key: 'tool.example.com', mode: 'oneshot', command: ['node', 'hooks.js'], timeoutMs: 5000 },
      { key: '*.tenant.example.com', mode: 'module', module: '/etc/wsgate/hooks.ts', timeoutMs: 5000 },
    ]);
  });

  it('build: false selects the resident pool, with global settings and host overrides', () => {
    const config = parseConfig(
      { pool: { cap: 3, idle: 5 }, hosts: { 'a.test': { app: '/a.php', build: false, pool: { maxJobs: 7 } } } },
      'f.json',
      '/',
    );
    assert.equal(config.workerCap, 3);
    assert.deepEqual(config.hosts[0], {
      key: 'a.test',
      mode: 'resident',
      app: '/a.php',
      command: ['php', '/a.php', 'phlo_serve'],
      timeoutMs: 30_000,
      pool: { idleMs: 5000, maxJobs: 7, maxQueue: 1000, bootTimeoutMs: 30_000, writeAhead: true },
    });
    assert.deepEqual(config.pool, { idleMs: 5000, maxJobs: 10_000, maxQueue: 1000, bootTimeoutMs: 30_000, writeAhead: true });
  });

  it('hosts sharing an app must agree on its pool', () => {
    const [p] = problems(() =>
      parseConfig({ hosts: { a: { app: '/a.php', build: false, pool: { maxJobs: 1 } }, b: { app: '/a.php', build: false } } }, 'f.json', '/'),
    );
    assert.match(p!, /hosts\["b"\]\.pool\.maxJobs: 10000 differs from hosts\["a"\]'s 1;/);
  });

  it('reads apps, dispatchAnyApp and schedule entries', () => {
    const config = parseConfig(
      { apps: ['x/app.php'], dispatchAnyApp: true, schedule: [{ app: 'x/app.php', target: 'tasks::run', every: 60 }], hosts: { a: '/a.php' } },
      'f.json',
      '/srv',
    );
    assert.deepEqual(config.apps, ['/srv/x/app.php']);
    assert.equal(config.dispatchAnyApp, true);
    assert.deepEqual(config.schedule, [{ app: '/srv/x/app.php', target: 'tasks::run', everyMs: 60_000, build: false }]);
    assert.match(problems(() => parseConfig({ schedule: [{ app: '/a', target: 't' }], hosts: { a: '/a.php' } }, 'f.json', '/'))[0]!, /schedule\[0\]\.every: is required/);
  });

  it('names the file, the field path and what was expected', () => {
    assert.deepEqual(problems(() => parseConfig({ port: 70000, hosts: { a: '/a.php' } }, 'f.json', '/')), ['f.json: port: expected a port from 0 to 65535, got 70000']);
    assert.match(problems(() => parseConfig({ paths: ['websocket'], hosts: { a: '/a.php' } }, 'f.json', '/'))[0]!, /^f\.json: paths: "websocket": expected a path starting with "\/"/);
    assert.match(problems(() => parseConfig({ hosts: { a: { command: [] } } }, 'f.json', '/'))[0]!, /^f\.json: hosts\["a"\]\.command: expected a program/);
    assert.match(problems(() => parseConfig({ hosts: { a: { app: '/a.php', bulid: true } } }, 'f.json', '/'))[0]!, /^f\.json: hosts\["a"\]\.bulid: unknown field/);
    assert.match(problems(() => parseConfig({ hosts: { a: 7 } }, 'f.json', '/'))[0]!, /hosts\["a"\]: expected an app path \(string\) or an object/);
    assert.deepEqual(problems(() => parseConfig([], 'f.json', '/')), ['f.json: expected a JSON object with "hosts", got an array']);
    assert.deepEqual(problems(() => parseConfig({}, 'f.json', '/')), ['f.json: hosts: is required']);
  });

  it('reports every problem at once', () => {
    assert.equal(problems(() => parseConfig({ hosts: { a: 7, b: { app: '/b', build: 'no' }, c: '' } }, 'f.json', '/')).length, 3);
  });

  it('refuses two keys that name the same host', () => {
    assert.match(problems(() => parseConfig({ hosts: { 'a.test': '/a', 'A.TEST:80': '/b' } }, 'f.json', '/'))[0]!, /names the same host as "a\.test"/);
  });
});

describe('loadConfig', () => {
  it('serves the built-in demo rooms without a file or hosts', async () => {
    const config = await loadConfig(undefined, io({}));
    assert.deepEqual(config.hosts, [
      { key: '*', mode: 'module', module: 'builtin:demo', timeoutMs: 30_000, channels: [{ pattern: 'room:*', presenceEvents: true, history: { size: 200, ttlMs: 600_000 } }] },
      // The demo Pusher app's own space (test/unit/config-pusher.test.ts covers the app).
      { key: 'pusher:demo', mode: 'module', module: 'builtin:none', timeoutMs: 30_000, channels: [...PUSHER_CACHE_RULES] },
    ]);
    assert.deepEqual(config.paths, [
      { template: '/websocket', channels: [] },
      { template: '/ws/rooms/{room}', channels: ['room:{room}'] },
    ]);
    assert.equal(config.file, undefined);
  });

  it('checks that apps exist, and applies command-line overrides', async () => {
    const files = { '/etc/wsgate/wsgate.json': JSON.stringify({ hosts: { 'a.test': 'app.php' } }), '/etc/wsgate/app.php': '' };
    await assert.rejects(loadConfig('wsgate.json', io({ '/etc/wsgate/wsgate.json': files['/etc/wsgate/wsgate.json'] })), (e: ConfigError) =>
      /wsgate\.json: hosts\["a\.test"\]\.app: expected an existing file, but \/etc\/wsgate\/app\.php does not exist/.test(e.problems[0]!),
    );
    const config = await loadConfig('wsgate.json', io(files), { port: 9000, php: 'php8', hosts: ['b.test=app.php'] });
    assert.equal(config.port, 9000);
    assert.equal(config.file, '/etc/wsgate/wsgate.json');
    assert.deepEqual(config.hosts.map((h) => [h.key, h.command]), [['a.test', ['php8', '/etc/wsgate/app.php']], ['b.test', ['php8', '/etc/wsgate/app.php']]]);
  });

  it('explains unreadable and invalid files', async () => {
    await assert.rejects(loadConfig('missing.json', io({})), /missing\.json: cannot read the config file/);
    await assert.rejects(loadConfig('/x.json', io({ '/x.json': '{' })), /\/x\.json: not valid JSON/);
    await assert.rejects(loadConfig(undefined, io({}), { hosts: ['nope'] }), /--host nope: expected NAME=APP/);
  });

  it('a problem with a value from the environment or a flag names that, not a field the file does not hold', async () => {
    const files = { '/x.json': '{"hosts": {"a.test": "/a.php"}}', '/a.php': '' };
    const problemsOf = (overrides: Parameters<typeof loadConfig>[2], from = files) => loadConfig('/x.json', io(from), overrides).then((): string[] => [], (e: ConfigError) => e.problems);
    assert.deepEqual(await problemsOf({ secret: 'short-secret' }), ['/x.json: secret (from WSGATE_SECRET): expected a secret of at least 16 characters, got a string of 12 characters']);
    assert.match((await problemsOf({ redis: 'bogus://u:p@h' }))[0]!, /^\/x\.json: cluster\.redis \(from WSGATE_REDIS_URL\): expected a Redis URL/);
    assert.match((await problemsOf({ php: '' }))[0]!, /^\/x\.json: php \(from --php\): expected the PHP binary/);
    assert.deepEqual(await problemsOf({ hosts: ['b.test=/missing.php'] }), ['/x.json: hosts["b.test"].app (from --host b.test=/missing.php): expected an existing file, but /missing.php does not exist']);
    // The file's own value is the file's.
    const own = { '/x.json': '{"secret": "short-secret", "hosts": {"a.test": "/a.php"}}', '/a.php': '' };
    assert.match((await problemsOf({ secret: 'a-secret-of-enough-length' }, own))[0]!, /^\/x\.json: secret: expected/);
  });

  it('says where a file is not JSON without quoting the text there, which may be a secret', async () => {
    // V8 quotes the text around the mistake, JavaScriptCore the whole unexpected word: an unquoted secret, into stderr or a reload's answer.
    const cases: Array<[string, RegExp]> = [
      ['{"port": 3001,\n "secret": abcdef0123456789abcdef}', /^\/x\.json: not valid JSON at line 2, column 12: expected a value/],
      ['{"secret": "abcdef0123456789abcdef" "port": 1}', /^\/x\.json: not valid JSON at line 1, column 37: expected ',' or '}'/],
      ['{"secret": "abcdef0123456789abcdef",}', /^\/x\.json: not valid JSON at line 1, column 37: expected a property name in double quotes/],
      ['{"secret": "abcdef0123456789\tabcdef"}', /^\/x\.json: not valid JSON at line 1, column 29: /],
      ['{"secret": "abcdef0123456789abcdef"', /^\/x\.json: not valid JSON at line 1, column 36: the text ends/],
      ['{"secret": "abcdef0123456789abcdef"} abcdef', /^\/x\.json: not valid JSON at line 1, column 38: /],
    ];
    for (const [text, expected] of cases) {
      const error = await loadConfig('/x.json', io({ '/x.json': text })).then(() => undefined, (e: Error) => e);
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, expected);
      assert.doesNotMatch(error.message, /abcdef|0123/, error.message);
    }
  });
});

it('resolvePath joins and normalises', () => {
  assert.equal(resolvePath('a/../b/./c.php', '/srv/x'), '/srv/x/b/c.php');
  assert.equal(resolvePath('/abs.php', '/srv'), '/abs.php');
});

describe('history and replay options', () => {
  const load = (raw: unknown) => loadConfig('w.json', io({ '/etc/wsgate/w.json': JSON.stringify(raw), '/etc/wsgate/app.php': '' }));
  it('reads history per channel pattern and per host, and replay per host or globally', async () => {
    const config = await load({
      replay: { window: 30 },
      hosts: {
        'a.test': { app: 'app.php', history: { size: 10, ttl: 5 }, channels: { 'room:*': { history: { size: 3, ttl: 1.5 } } } },
        'b.test': { app: 'app.php', replay: { window: 2, frames: 5 } },
        'c.test': { app: 'app.php', replay: { window: 3 } },
      },
    });
    const [a, b, c] = config.hosts;
    assert.deepEqual(c!.replay, { windowMs: 3000, frames: 1000 }, 'a host\'s own replay takes the default frames too');
    assert.deepEqual(a!.history, { size: 10, ttlMs: 5000 });
    assert.deepEqual(a!.channels, [{ pattern: 'room:*', presenceEvents: false, history: { size: 3, ttlMs: 1500 } }]);
    assert.deepEqual(a!.replay, { windowMs: 30_000, frames: 1000 });
    assert.deepEqual(b!.replay, { windowMs: 2000, frames: 5 });
    assert.equal(b!.history, undefined);
  });
  it('says what is wrong with them', async () => {
    for (const [raw, pattern] of [
      [{ hosts: { 'a.test': { app: 'app.php', history: { size: 0, ttl: 5 } } } }, /history\.size: expected at least 1/],
      [{ hosts: { 'a.test': { app: 'app.php', channels: { 'r:*': { history: { size: 5 } } } } } }, /history\.ttl/],
      [{ hosts: { 'a.test': { app: 'app.php', replay: { frames: 5 } } } }, /replay\.window/],
      [{ hosts: { 'a.test': { app: 'app.php', replay: { window: 5, extra: 1 } } } }, /replay/],
    ] as const) {
      await assert.rejects(load(raw), (e: ConfigError) => e.problems.some((p) => pattern.test(p)) || assert.fail(`${JSON.stringify(raw)}: ${e.problems.join('; ')}`));
    }
  });
});

describe('the tls option', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed: it makes the test certificates';
  /** A self-signed certificate and its key, as PEM text. */
  const makePair = (): { cert: string; key: string } => {
    const dir = mkdtempSync(join(tmpdir(), 'wsgate-tls-unit-'));
    const run = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=unit'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
  };
  const pair = opensslMissing ? { cert: '', key: '' } : makePair();
  const other = opensslMissing ? { cert: '', key: '' } : makePair();
  const base = { '/etc/wsgate/app.php': '' };
  const load = (tls: unknown, files: Record<string, string>) => loadConfig('w.json', io({ ...base, ...files, '/etc/wsgate/w.json': JSON.stringify({ hosts: { 'a.test': 'app.php' }, tls }) }));
  const rejectsWith = async (promise: Promise<unknown>, pattern: RegExp) =>
    assert.rejects(promise, (e: ConfigError) => e.problems.some((p) => pattern.test(p)) || assert.fail(e.problems.join('; ')));

  it('is off unless given', () => {
    assert.equal(parseConfig({ hosts: { 'a.test': '/a.php' } }, 'f.json', '/').tls, undefined);
  });

  it('resolves both paths against the config file', () => {
    const config = parseConfig({ hosts: { 'a.test': '/a.php' }, tls: { cert: 'tls/fullchain.pem', key: '/etc/ssl/privkey.pem' } }, 'f.json', '/etc/wsgate');
    assert.deepEqual(config.tls, { cert: '/etc/wsgate/tls/fullchain.pem', key: '/etc/ssl/privkey.pem' });
  });

  it('wants both fields, as paths, and nothing else', () => {
    const check = (tls: unknown) => problems(() => parseConfig({ hosts: { 'a.test': '/a.php' }, tls }, 'f.json', '/'));
    assert.deepEqual(check({ cert: '/c.pem' }), ['f.json: tls.key: is required']);
    assert.match(check({ cert: '', key: '/k.pem' })[0]!, /^f\.json: tls\.cert: expected the path of a PEM certificate chain.*got an empty string/);
    assert.match(check({ cert: '/c.pem', key: '/k.pem', ca: '/ca.pem' })[0]!, /^f\.json: tls\.ca: unknown field/);
    assert.match(check('/c.pem')[0]!, /^f\.json: tls: expected \{"cert": "\/path\/fullchain\.pem", "key": "\/path\/privkey\.pem"\}/);
  });

  it('checks at load that both files exist and can be read', async () => {
    await rejectsWith(load({ cert: 'c.pem', key: 'k.pem' }, { '/etc/wsgate/k.pem': pair.key }), /^w\.json: tls\.cert: expected an existing file, but \/etc\/wsgate\/c\.pem does not exist$/);
    const unreadable: ConfigIO = {
      ...io({ ...base, '/etc/wsgate/c.pem': pair.cert, '/etc/wsgate/w.json': JSON.stringify({ hosts: { 'a.test': 'app.php' }, tls: { cert: 'c.pem', key: 'k.pem' } }) }),
      isFile: async () => true,
    };
    await rejectsWith(loadConfig('w.json', unreadable), /^w\.json: tls\.key: cannot read \/etc\/wsgate\/k\.pem: ENOENT/);
  });

  it('checks that they are PEM, and that the key is the certificate\'s', { skip: opensslMissing }, async () => {
    const config = await load({ cert: 'c.pem', key: 'k.pem' }, { '/etc/wsgate/c.pem': pair.cert, '/etc/wsgate/k.pem': pair.key });
    assert.deepEqual(config.tls, { cert: '/etc/wsgate/c.pem', key: '/etc/wsgate/k.pem' });
    await rejectsWith(load({ cert: 'c.pem', key: 'k.pem' }, { '/etc/wsgate/c.pem': pair.key, '/etc/wsgate/k.pem': pair.key }), /^w\.json: tls\.cert: expected a PEM certificate chain/);
    await rejectsWith(load({ cert: 'c.pem', key: 'k.pem' }, { '/etc/wsgate/c.pem': pair.cert, '/etc/wsgate/k.pem': pair.cert }), /^w\.json: tls\.key: expected a PEM private key/);
    await rejectsWith(
      load({ cert: 'c.pem', key: 'k.pem' }, { '/etc/wsgate/c.pem': pair.cert, '/etc/wsgate/k.pem': other.key }),
      /^w\.json: tls\.key: \/etc\/wsgate\/k\.pem is not the private key of the certificate in tls\.cert \(\/etc\/wsgate\/c\.pem\)/,
    );
    const broken = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    await rejectsWith(load({ cert: 'c.pem', key: 'k.pem' }, { '/etc/wsgate/c.pem': broken, '/etc/wsgate/k.pem': pair.key }), /^w\.json: tls\.cert: \/etc\/wsgate\/c\.pem does not hold a valid certificate/);
    const encrypted = '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n';
    await rejectsWith(load({ cert: 'c.pem', key: 'k.pem' }, { '/etc/wsgate/c.pem': pair.cert, '/etc/wsgate/k.pem': encrypted }), /^w\.json: tls\.key: .* is encrypted with a passphrase/);
  });
});
