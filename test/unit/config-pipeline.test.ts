/**
 * The config pipeline (src/config/file-schema.ts): each host form becomes its
 * HostConfig, a file with many problems gets all of them with their paths, and
 * the rules `serve` applies are part of validation, so `check` says the same.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { ConfigError, configSchema, loadConfig, parseConfig } from '../../src/config/config.ts';
import type { ConfigIO } from '../../src/config/config.ts';

/** What parseConfig says is wrong with `input`, read from f.json. */
function problemsOf(input: unknown): string[] {
  const thrown = (() => {
    try {
      parseConfig(input, 'f.json', '/');
    } catch (error) {
      return error;
    }
  })();
  assert.ok(thrown instanceof ConfigError, `expected a ConfigError, got ${String(thrown)}`);
  return thrown.problems;
}

const hostOf = (entry: unknown, top: Record<string, unknown> = {}) => parseConfig({ ...top, hosts: { 'a.test': entry } }, 'f.json', '/etc/wsgate').hosts[0];

describe('each host form transforms to its HostConfig', () => {
  it('a string is a one-shot app, its path resolved against the file', () => {
    assert.deepEqual(hostOf('www/app.php', { php: 'php8' }), { key: 'a.test', mode: 'oneshot', app: '/etc/wsgate/www/app.php', command: ['php8', '/etc/wsgate/www/app.php'], timeoutMs: 30_000 });
  });

  it('app: one-shot by default, resident with build false, with its own timeout, pool and tick', () => {
    assert.deepEqual(hostOf({ app: 'app.php', timeout: 2, tick: false }), { key: 'a.test', mode: 'oneshot', app: '/etc/wsgate/app.php', command: ['php', '/etc/wsgate/app.php'], timeoutMs: 2000, tick: false });
    assert.deepEqual(hostOf({ app: '/a.php', build: false, pool: { maxQueue: 5 } }, { pool: { idle: 1 } }), {
      key: 'a.test',
      mode: 'resident',
      app: '/a.php',
      command: ['php', '/a.php', 'phlo_serve'],
      timeoutMs: 30_000,
      pool: { idleMs: 1000, maxJobs: 10_000, maxQueue: 5, bootTimeoutMs: 30_000, writeAhead: true },
    });
  });

  it('hooks: a plain PHP file, one-shot or resident, without a command', () => {
    assert.deepEqual(hostOf({ hooks: 'hooks.php' }), { key: 'a.test', mode: 'oneshot', hooks: '/etc/wsgate/hooks.php', timeoutMs: 30_000 });
    assert.deepEqual(hostOf({ hooks: 'hooks.php', build: false }, { timeout: 3 }), {
      key: 'a.test',
      mode: 'resident',
      hooks: '/etc/wsgate/hooks.php',
      timeoutMs: 3000,
      pool: { idleMs: 60_000, maxJobs: 10_000, maxQueue: 1000, bootTimeoutMs: 30_000, writeAhead: true },
    });
  });

  it('command: the program as given, not resolved', () => {
    assert.deepEqual(hostOf({ command: ['node', 'hooks.js'], timeout: 1 }), { key: 'a.test', mode: 'oneshot', command: ['node', 'hooks.js'], timeoutMs: 1000 });
  });

  it('module: a file resolved against the config, or the built-in demo as named', () => {
    assert.deepEqual(hostOf({ module: './hooks.ts' }), { key: 'a.test', mode: 'module', module: '/etc/wsgate/hooks.ts', timeoutMs: 30_000 });
    assert.deepEqual(hostOf({ module: 'builtin:demo' }), { key: 'a.test', mode: 'module', module: 'builtin:demo', timeoutMs: 30_000 });
  });

  it('every form takes the shared options, its own over the top level\'s, defaults left out', () => {
    const top = { origins: ['*'], tokenFrom: 'message', channels: { 'room:*': { presenceEvents: true } }, replay: { window: 3 } };
    for (const entry of ['/a.php', { app: '/a.php' }, { hooks: '/h.php' }, { command: ['x'] }, { module: '/m.ts' }]) {
      const host = hostOf(entry, top)!;
      assert.deepEqual(host.origins, ['*'], JSON.stringify(entry));
      assert.equal(host.tokenFrom, 'message');
      assert.equal(host.authTimeoutMs, 10_000);
      assert.deepEqual(host.channels, [{ pattern: 'room:*', presenceEvents: true, history: undefined }]);
      assert.deepEqual(host.replay, { windowMs: 3000, frames: 1000 });
    }
    const own = hostOf({ module: '/m.ts', tokenFrom: 'cookie', origins: ['x.test'], channels: {}, history: { size: 2, ttl: 1 } }, top)!;
    assert.equal(own.tokenFrom, undefined, 'the default is not written out');
    assert.equal('authTimeoutMs' in own, false);
    assert.deepEqual(own.origins, ['x.test']);
    assert.deepEqual(own.channels, []);
    assert.deepEqual(own.history, { size: 2, ttlMs: 1000 });
  });

  it('is one safeParse of the schema: unknown in, typed Config out', () => {
    const parsed = v.safeParse(configSchema('/srv'), { hosts: { 'A.Test:443': 'app.php', '*.b.test': { module: 'm.ts' } } });
    assert.ok(parsed.success);
    assert.deepEqual(
      parsed.output.hosts.map((h) => [h.key, h.mode, h.app ?? h.module]),
      [
        ['a.test', 'oneshot', '/srv/app.php'],
        ['*.b.test', 'module', '/srv/m.ts'],
      ],
    );
  });
});

describe('a file with many problems', () => {
  it('gets every one of them, each with its path, in the order of the file\'s fields', () => {
    const found = problemsOf({
      port: 'x',
      paths: ['ws'],
      limits: { frame: 0 },
      channels: { 'a*b': {} },
      hosts: {
        'a.*.b': '/a.php',
        one: { app: '/a.php', bulid: true },
        'ONE:80': '/b.php',
        two: 7,
        three: { app: '/a.php', command: ['x'] },
        four: { hooks: '/h.php', pool: { maxJobs: 1 } },
        five: { module: '' },
        six: { app: '/a.php', form: 'app' },
      },
    });
    assert.deepEqual(found, [
      'f.json: port: expected a port number, got "x"',
      'f.json: paths: "ws": expected a path starting with "/", or "*" for any path',
      'f.json: hosts["a.*.b"]: host key may use "*" only as "*" or a leading "*."',
      'f.json: hosts["one"].bulid: unknown field',
      'f.json: hosts["two"]: expected an app path (string) or an object with "app", "command" or "module", got number',
      'f.json: hosts["three"]: expected exactly one of "app", "hooks", "command" or "module", got "app" and "command"',
      'f.json: hosts["four"].pool: pool settings apply to resident hosts only ("build": false)',
      'f.json: hosts["five"].module: expected the path of a JS/TS module, got an empty string',
      'f.json: hosts["six"].form: unknown field',
      'f.json: hosts["ONE:80"]: names the same host as "one" ("one")',
      'f.json: channels["a*b"]: a channel pattern has "*" only at its end, as in "room:*"',
      'f.json: limits.frame: expected at least 1, got 0',
    ]);
  });

  it('checks what spans fields once the fields themselves are right', () => {
    assert.deepEqual(problemsOf({ hosts: {} }), ['f.json: hosts: expected at least one host']);
    assert.deepEqual(
      problemsOf({ hosts: { a: { app: '/a.php', build: false }, b: { app: '/a.php', build: false, pool: { idle: 1 } } } }),
      ['f.json: hosts["b"].pool.idle: 1 differs from hosts["a"]\'s 60; both run /a.php, whose one pool takes one setting: give them the same'],
    );
  });
});

describe('the rules serve applies are part of validation', () => {
  // The words servePolicy used after loading; parse and check now say them, naming the file as every other problem does.
  const refusal = (listen: string) =>
    `listening on ${listen} would let anyone who can reach it cast to every socket through /message: set "secret" in the config (16+ characters) or WSGATE_SECRET, give the bridge its own loopback address ("bridge": {"port": 3002}), or listen on 127.0.0.1 behind a proxy`;
  const hosts = { 'a.test': '/a.php' };

  it('refuses a public listen, or a public bridge address, without a secret', () => {
    assert.deepEqual(problemsOf({ listen: '0.0.0.0', hosts }), [`f.json: ${refusal('0.0.0.0')}`]);
    assert.deepEqual(problemsOf({ bridge: { listen: '10.0.0.5', port: 3002 }, hosts }), [`f.json: ${refusal('10.0.0.5')}`]);
    assert.equal(v.safeParse(configSchema('/'), { listen: '0.0.0.0', hosts }).success, false);
  });

  it('passes the same config once it is safe', () => {
    assert.equal(parseConfig({ listen: '0.0.0.0', secret: 'a-secret-of-enough-length', hosts }, 'f.json', '/').listen, '0.0.0.0');
    assert.deepEqual(parseConfig({ listen: '0.0.0.0', bridge: { port: 3002 }, hosts }, 'f.json', '/').bridge, { listen: '127.0.0.1', port: 3002 });
    assert.deepEqual(parseConfig({ listen: '0.0.0.0', bridge: { path: 'b.sock' }, hosts }, 'f.json', '/run').bridge, { path: '/run/b.sock' });
    assert.equal(parseConfig({ listen: '[::1]', hosts }, 'f.json', '/').listen, '::1');
  });

  it('refuses a listen address with a port or a scheme in it, naming the field rather than asking for a secret', () => {
    // Before, the rule above took '127.0.0.1:3001' for a public address and asked for a secret; with one, the start failed on getaddrinfo.
    assert.deepEqual(problemsOf({ listen: '127.0.0.1:3001', hosts }), ['f.json: listen: expected an address without a port, such as "127.0.0.1" (the port goes in "port"), got "127.0.0.1:3001"']);
    assert.deepEqual(problemsOf({ listen: 'http://localhost', secret: 'a-secret-of-enough-length', hosts }), ['f.json: listen: expected an address to listen on such as "127.0.0.1", "0.0.0.0" or "::", not a URL, got "http://localhost"']);
    assert.deepEqual(problemsOf({ listen: 'local host', secret: 'a-secret-of-enough-length', hosts }), ['f.json: listen: expected an IP address or a host name such as "127.0.0.1", "0.0.0.0" or "::", got "local host"']);
    assert.deepEqual(problemsOf({ listen: '0.0.0.0', bridge: { listen: 'localhost:3002', port: 3002 }, hosts }), ['f.json: bridge.listen: expected an address without a port, such as "localhost" (the port goes in "port"), got "localhost:3002"']);
    // Brackets are how a URL writes an IPv6 address; Node and Deno cannot bind them, and WSGATE_URL got two pairs.
    assert.deepEqual(parseConfig({ listen: '0.0.0.0', bridge: { listen: '[::1]', port: 3002 }, hosts }, 'f.json', '/').bridge, { listen: '::1', port: 3002 });
    for (const listen of ['::', '::1', 'localhost', 'LOCALHOST', '10.0.0.5', 'gate.internal', 'fe80::1%eth0']) assert.equal(parseConfig({ listen, secret: 'a-secret-of-enough-length', hosts }, 'f.json', '/').listen, listen);
  });

  it('applies to the command line merged over the file, as loadConfig serves it', async () => {
    const io: ConfigIO = { readTextFile: async () => JSON.stringify({ hosts }), isFile: async () => true, cwd: () => '/etc/wsgate' };
    await assert.rejects(loadConfig('w.json', io, { listen: '0.0.0.0' }), (e: ConfigError) => assert.deepEqual(e.problems, [`w.json: ${refusal('0.0.0.0')}`]) ?? true);
    assert.equal((await loadConfig('w.json', io, { listen: '0.0.0.0', secret: 'a-secret-of-enough-length' })).listen, '0.0.0.0');
  });
});

describe('WSGATE_REDIS_URL', () => {
  const hosts = { 'a.test': 'app.php' };
  const load = (file: Record<string, unknown>, redis: string) =>
    loadConfig('w.json', { readTextFile: async () => JSON.stringify(file), isFile: async () => true, cwd: () => '/etc/wsgate' }, { redis });

  it('names the Redis of a file whose cluster gives its other settings, so its password need not be in the file', async () => {
    const config = await load({ hosts, cluster: { node: 'web1', heartbeat: 2, ttl: 6 } }, 'redis://:pw@10.0.0.2:6379?prefix=shop:');
    assert.deepEqual(config.cluster, { redis: 'redis://:pw@10.0.0.2:6379?prefix=shop:', node: 'web1', prefix: 'shop:', deadlineMs: 1000, redisTimeoutMs: 500, heartbeatMs: 2000, ttlMs: 6000 });
  });

  it('turns cluster mode on alone, and leaves a file\'s own Redis as it is', async () => {
    assert.equal((await load({ hosts }, 'redis://10.0.0.2:6379')).cluster?.redis, 'redis://10.0.0.2:6379');
    assert.equal((await load({ hosts, cluster: { redis: 'redis://10.0.0.9:6379' } }, 'redis://10.0.0.2:6379')).cluster?.redis, 'redis://10.0.0.9:6379');
  });
});
