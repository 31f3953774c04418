/**
 * The `pusher` section (src/config/pusher-schema.ts): apps resolve to their
 * PusherApp with Pusher's defaults, every problem is said at its path, one
 * app may come from WSGATE_PUSHER_APP_*, and the built-in default carries a
 * demo app whose secret is made at each load.
 */
import { PUSHER_CACHE_RULES } from '../../src/config/pusher-schema.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/config.ts';
import type { ConfigIO, Overrides, PusherApp } from '../../src/config/config.ts';
import { defaultConfig, demoPusherApp } from '../../src/config/defaults.ts';

const SECRET = '0123456789abcdef0123';
const hosts = { 'app.test': '/srv/app.php', '*.tenant.test': { module: '/srv/m.ts' } };
const env = (vars: Record<string, string>) => (name: string) => vars[name];

const parse = (pusher: unknown, vars: Record<string, string> = {}) => parseConfig({ hosts, pusher }, 'f.json', '/srv', env(vars));

function problemsOf(pusher: unknown, vars: Record<string, string> = {}): string[] {
  try {
    parse(pusher, vars);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  return assert.fail('expected a ConfigError');
}

const LIMITS = { channelName: 200, eventName: 200, payload: 10_240, batch: 10, channels: 100, presenceMembers: 100, userInfo: 1024, subscriptions: 256 };

describe('a Pusher app resolves', () => {
  it('with Pusher\'s defaults, in a space of its own with a hook-less host', () => {
    const config = parse({ apps: [{ id: '1', key: 'app-key', secret: SECRET }] });
    const expected: PusherApp = { id: '1', key: 'app-key', secret: SECRET, host: 'pusher:1', sharesHost: false, clientEvents: false, clientEventsPerSecond: 10, activityTimeout: 120, limits: LIMITS, webhooks: [] };
    assert.deepEqual(config.pusher, { apps: [expected] });
    assert.deepEqual(config.hosts.at(-1), { key: 'pusher:1', mode: 'module', module: 'builtin:none', timeoutMs: 30_000, channels: [...PUSHER_CACHE_RULES] });
    assert.deepEqual(config.hosts.map((h) => h.key), ['app.test', '*.tenant.test', 'pusher:1'], 'the configured hosts come first, untouched');
  });

  it('the own space\'s host takes the top-level timeout and nothing of the shared options', () => {
    const config = parseConfig({ timeout: 4, origins: ['https://x.test'], tokenFrom: 'query', hosts, pusher: { apps: [{ id: 'a', key: 'k', secret: SECRET }] } }, 'f.json', '/srv');
    assert.deepEqual(config.hosts.at(-1), { key: 'pusher:a', mode: 'module', module: 'builtin:none', timeoutMs: 4000, channels: [...PUSHER_CACHE_RULES] });
  });

  it('with every field given, sharing a configured host matched exactly or by a wildcard', () => {
    const config = parse({
      apps: [
        {
          id: 'app.1',
          key: 'Key_1-x',
          secret: SECRET,
          host: 'App.Test',
          clientEvents: true,
          clientEventsPerSecond: 5,
          origins: ['https://app.test'],
          maxConnections: 500,
          activityTimeout: 30,
          limits: { payload: 20_000, presenceMembers: 1000 },
          webhooks: [{ url: 'https://app.test/pusher/hook', events: ['channel_occupied', 'member_added'] }, { url: 'http://127.0.0.1:8000/hook' }],
        },
        { id: '2', key: 'k2', secret: SECRET, host: 'a.tenant.test' },
      ],
    });
    const [one, two] = config.pusher!.apps;
    assert.deepEqual(one, {
      id: 'app.1',
      key: 'Key_1-x',
      secret: SECRET,
      host: 'app.test',
      sharesHost: true,
      clientEvents: true,
      clientEventsPerSecond: 5,
      origins: ['https://app.test'],
      maxConnections: 500,
      activityTimeout: 30,
      limits: { ...LIMITS, payload: 20_000, presenceMembers: 1000 },
      webhooks: [{ url: 'https://app.test/pusher/hook', events: ['channel_occupied', 'member_added'] }, { url: 'http://127.0.0.1:8000/hook' }],
    });
    assert.equal(two!.host, 'a.tenant.test');
    assert.equal(two!.sharesHost, true);
    assert.deepEqual(config.hosts.map((h) => h.key), ['app.test', '*.tenant.test'], 'no host is added for apps that share one');
  });

  it('gives the host it shares rules for cache channels (the last event for 30 minutes), keeping a rule of the host\'s own', () => {
    const config = parseConfig({ hosts: { 'a.test': { module: '/srv/h.ts', channels: { 'cache-*': { history: { size: 5, ttl: 60 } }, 'room:*': { presenceEvents: true } } } }, pusher: { apps: [{ id: 'a', key: 'k', secret: SECRET, host: 'a.test' }] } }, 'f.json', '/srv');
    const rules = config.hosts[0]!.channels!;
    assert.deepEqual(rules.find((rule) => rule.pattern === 'cache-*')!.history, { size: 5, ttlMs: 60_000 });
    assert.deepEqual(rules.find((rule) => rule.pattern === 'presence-cache-*')!.history, { size: 1, ttlMs: 1_800_000 });
    assert.equal(rules.filter((rule) => rule.pattern === 'cache-*').length, 1);
    assert.equal(rules.find((rule) => rule.pattern === 'room:*')!.presenceEvents, true);
  });

  it('a host named "*" takes any host name', () => {
    const config = parseConfig({ hosts: { '*': '/a.php' }, pusher: { apps: [{ id: '1', key: 'k', secret: SECRET, host: 'anything.test' }] } }, 'f.json', '/');
    assert.equal(config.pusher!.apps[0]!.host, 'anything.test');
  });

  it('reads {"env": NAME} secrets from the environment', () => {
    const config = parse({ apps: [{ id: '1', key: 'k', secret: { env: 'APP_SECRET' } }] }, { APP_SECRET: 'from-the-environment-0123' });
    assert.equal(config.pusher!.apps[0]!.secret, 'from-the-environment-0123');
  });

  it('no section, no apps', () => {
    assert.equal(parseConfig({ hosts }, 'f.json', '/').pusher, undefined);
  });
});

describe('a Pusher app\'s problems, each at its path', () => {
  const app = (fields: Record<string, unknown>, id = '1', key = 'k') => ({ id, key, secret: SECRET, ...fields });

  it('a repeated id or key is reported at the later app', () => {
    assert.deepEqual(problemsOf({ apps: [app({}, 'a', 'k1'), app({}, 'b', 'k2'), app({}, 'a', 'k3')] }), ['f.json: pusher.apps[2].id: "a" is already the id of apps[0]; each app needs its own']);
    assert.deepEqual(problemsOf({ apps: [app({}, 'a', 'k1'), app({}, 'b', 'k1')] }), ['f.json: pusher.apps[1].key: "k1" is already the key of apps[0]; each app needs its own']);
  });

  it('a repeated id is reported with the other problems of the apps', () => {
    assert.deepEqual(problemsOf({ apps: [app({ clientEvents: 'yes' }, 'a', 'k1'), app({}, 'a', 'k2')] }), [
      'f.json: pusher.apps[0].clientEvents: expected true or false, got "yes"',
      'f.json: pusher.apps[1].id: "a" is already the id of apps[0]; each app needs its own',
    ]);
  });

  it('ids and keys: non-empty, URL-safe, at most 100 characters', () => {
    assert.deepEqual(problemsOf({ apps: [app({}, '', 'a/b')] }), [
      'f.json: pusher.apps[0].id: expected an app id, got an empty string',
      'f.json: pusher.apps[0].key: expected an app key of letters, digits, _ . - only (it is part of a URL path), got "a/b"',
    ]);
    assert.match(problemsOf({ apps: [app({}, 'x'.repeat(101))] })[0]!, /^f\.json: pusher\.apps\[0\]\.id: expected at most 100 characters/);
    assert.deepEqual(problemsOf({ apps: [{ key: 'k', secret: SECRET }] }), ['f.json: pusher.apps[0].id: is required']);
  });

  it('a short secret, saying why it must be long, and never showing it', () => {
    const [problem, ...rest] = problemsOf({ apps: [{ id: '1', key: 'k', secret: 'hunter2' }] });
    assert.deepEqual(rest, []);
    assert.equal(problem, 'f.json: pusher.apps[0].secret: expected a secret of at least 16 characters: it signs private and presence subscriptions and the HTTP API\'s requests, and a short one can be guessed; got 7 characters');
    assert.deepEqual(problemsOf({ apps: [{ id: '1', key: 'k' }] }), ['f.json: pusher.apps[0].secret: is required']);
    assert.match(problemsOf({ apps: [app({ secret: 7 })] })[0]!, /^f\.json: pusher\.apps\[0\]\.secret: expected the secret \(a string\) or \{"env": "NAME"\}/);
  });

  it('an env secret that is missing, empty or short names the variable, never its value', () => {
    const missing = 'f.json: pusher.apps[0].secret: the environment variable APP_SECRET is not set or empty; it should hold the app\'s secret';
    assert.deepEqual(problemsOf({ apps: [app({ secret: { env: 'APP_SECRET' } })] }), [missing]);
    assert.deepEqual(problemsOf({ apps: [app({ secret: { env: 'APP_SECRET' } })] }, { APP_SECRET: '' }), [missing]);
    const [short] = problemsOf({ apps: [app({ secret: { env: 'APP_SECRET' } })] }, { APP_SECRET: 'tiny-secret' });
    assert.match(short!, /^f\.json: pusher\.apps\[0\]\.secret: the environment variable APP_SECRET holds 11 characters; expected a secret of at least 16 characters/);
    assert.doesNotMatch(short!, /tiny-secret/);
    assert.match(problemsOf({ apps: [app({ secret: { env: 'A', other: 1 } })] })[0]!, /secret: expected the secret \(a string\) or \{"env": "NAME"\}/);
  });

  it('a host no configured host key matches, or that is no plain host name', () => {
    assert.deepEqual(problemsOf({ apps: [app({ host: 'other.test' })] }), [
      'f.json: pusher.apps[0].host: no configured host matches "other.test" (the hosts are "app.test", "*.tenant.test"); name one of them, or leave "host" out for a space of the app\'s own',
    ]);
    assert.match(problemsOf({ apps: [app({ host: 'tenant.test' })] })[0]!, /host: no configured host matches "tenant\.test"/, '*.suffix does not match the bare suffix');
    for (const bad of ['app.test:443', '*.tenant.test', 'https://app.test', 'app.test/x', '']) {
      assert.match(problemsOf({ apps: [app({ host: bad })] })[0]!, /^f\.json: pusher\.apps\[0\]\.host: expected a plain host name/, bad);
    }
  });

  it('webhooks: an http(s) URL and known events', () => {
    assert.deepEqual(problemsOf({ apps: [app({ webhooks: [{ url: 'ftp://x.test/h' }, { url: 'not a url' }, { url: 'https://x.test', events: ['channel_occupied', 'member_joined'] }] })] }), [
      'f.json: pusher.apps[0].webhooks[0].url: expected an http or https URL such as "https://app.example.com/pusher/webhook", got "ftp://x.test/h"',
      'f.json: pusher.apps[0].webhooks[1].url: expected an http or https URL such as "https://app.example.com/pusher/webhook", got "not a url"',
      'f.json: pusher.apps[0].webhooks[2].events[1]: expected one of "channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", got "member_joined"',
    ]);
  });

  it('a webhook URL that is refused is shown without what comes before its "@", its Basic credentials', () => {
    const urls = ['ftp://hook:tok3n-s3cret@app.test/h', 'https://hook:tok3n/s3cret@app.test/h', 'hook:tok3n-s3cret@app.test', 'https://tok3n-s3cret@[::1/h'];
    const problems = problemsOf({ apps: [app({ webhooks: urls.map((url) => ({ url })) })] });
    assert.deepEqual(problems, [
      'f.json: pusher.apps[0].webhooks[0].url: expected an http or https URL such as "https://app.example.com/pusher/webhook", got "ftp://***@app.test/h"',
      'f.json: pusher.apps[0].webhooks[1].url: expected an http or https URL such as "https://app.example.com/pusher/webhook", got "https://***@app.test/h"',
      'f.json: pusher.apps[0].webhooks[2].url: expected an http or https URL such as "https://app.example.com/pusher/webhook", got "***@app.test"',
      'f.json: pusher.apps[0].webhooks[3].url: expected an http or https URL such as "https://app.example.com/pusher/webhook", got "https://***@[::1/h"',
    ]);
    for (const problem of problems) assert.doesNotMatch(problem, /tok3n|s3cret/);
  });

  it('a webhook written as a bare URL is refused without quoting its credentials', () => {
    assert.deepEqual(problemsOf({ apps: [app({ webhooks: ['https://hook:tok3n-s3cret@app.test/h'] })] }), [
      'f.json: pusher.apps[0].webhooks[0]: expected an object such as {"url": "https://app.example.com/pusher/webhook"} or {"host": "app.example.com"}, got "https://***@app.test/h"',
    ]);
  });

  it('webhooks to a host: a configured host whose hooks stay loaded (resident or a module), and either "url" or "host"', () => {
    const config = parseConfig({ hosts: { ...hosts, 'worker.test': { hooks: '/srv/ws.php', build: false } }, pusher: { apps: [app({ webhooks: [{ host: 'worker.test', events: ['member_added'] }, { host: 'x.tenant.test' }] })] } }, 'f.json', '/srv', env({}));
    assert.deepEqual(config.pusher?.apps[0]?.webhooks, [{ host: 'worker.test', events: ['member_added'] }, { host: 'x.tenant.test' }]);
    assert.deepEqual(problemsOf({ apps: [app({ webhooks: [{ host: 'other.test' }, { host: 'app.test' }, { url: 'https://x.test', host: 'app.test' }, {}, { host: 'https://x.test/' }] })] }), [
      'f.json: pusher.apps[0].webhooks[2]: expected either "url" (an endpoint the batches are POSTed to) or "host" (a configured host whose resident workers or module take them), not both',
      'f.json: pusher.apps[0].webhooks[3]: expected either "url" (an endpoint the batches are POSTed to) or "host" (a configured host whose resident workers or module take them), got neither',
      'f.json: pusher.apps[0].webhooks[4].host: expected a plain host name such as "app.example.com" (no port, "*", scheme or path), got "https://x.test/"',
    ]);
    assert.deepEqual(problemsOf({ apps: [app({ webhooks: [{ host: 'other.test' }, { host: 'app.test' }] })] }), [
      'f.json: pusher.apps[0].webhooks[0].host: no configured host matches "other.test" (the hosts are "app.test", "*.tenant.test"); a webhook\'s "host" names the host whose resident workers or module take its batches',
      'f.json: pusher.apps[0].webhooks[1].host: host "app.test" runs its hooks one-shot (a process each); a webhook goes to resident workers ("build": false) or a module, or use "url"',
    ]);
  });

  it('unknown fields, in the section, an app, its limits and its webhooks', () => {
    assert.deepEqual(problemsOf({ apps: [app({ clientEvent: true, limits: { payloads: 1 }, webhooks: [{ url: 'https://x.test', secret: 'x' }] })], cluster: 'eu' }), [
      'f.json: pusher.apps[0].limits.payloads: unknown field',
      'f.json: pusher.apps[0].webhooks[0].secret: unknown field',
      'f.json: pusher.apps[0].clientEvent: unknown field',
      'f.json: pusher.cluster: unknown field',
    ]);
  });

  it('numbers, and an empty list of apps', () => {
    assert.deepEqual(problemsOf({ apps: [app({ activityTimeout: 0, clientEventsPerSecond: 1.5, maxConnections: 0, limits: { batch: 0 } })] }), [
      'f.json: pusher.apps[0].clientEventsPerSecond: expected a whole number, got 1.5',
      'f.json: pusher.apps[0].maxConnections: expected at least 1, got 0',
      'f.json: pusher.apps[0].activityTimeout: expected at least 1 second, got 0',
      'f.json: pusher.apps[0].limits.batch: expected at least 1, got 0',
    ]);
    assert.deepEqual(problemsOf({ apps: [] }), ['f.json: pusher.apps: expected at least one app (leave "pusher" out for none), got 0']);
    assert.deepEqual(problemsOf('eu'), ['f.json: pusher: expected an object such as {"apps": [{"id": "1", "key": "app-key", "secret": {"env": "PUSHER_APP_SECRET"}}]}, got "eu"']);
  });
});

describe('one Pusher app from the environment (WSGATE_PUSHER_APP_*)', () => {
  const io = (files: Record<string, string> = {}): ConfigIO => ({
    readTextFile: async (path) => {
      if (!(path in files)) throw new Error(`ENOENT: ${path}`);
      return files[path]!;
    },
    isFile: async () => true,
    cwd: () => '/etc/wsgate',
  });
  const withFile = (raw: unknown) => io({ '/etc/wsgate/w.json': JSON.stringify(raw) });
  const rejectsWith = (promise: Promise<unknown>, problems: string[]) => assert.rejects(promise, (e: ConfigError) => (assert.deepEqual(e.problems, problems), true));
  const fromEnv = (pusherApp: Overrides['pusherApp']): Overrides => ({ pusherApp });
  const three = { id: '42', key: 'laravel-key', secret: 'laravel-secret-0123456789' };

  it('adds the app when the file has no pusher section', async () => {
    const config = await loadConfig('w.json', withFile({ hosts }), fromEnv({ ...three, host: 'app.test' }));
    assert.deepEqual(config.pusher!.apps.map((a) => [a.id, a.key, a.secret, a.host, a.sharesHost]), [['42', 'laravel-key', 'laravel-secret-0123456789', 'app.test', true]]);
  });

  it('without a host, the app has its own space', async () => {
    const config = await loadConfig('w.json', withFile({ hosts }), fromEnv(three));
    assert.equal(config.pusher!.apps[0]!.host, 'pusher:42');
    assert.equal(config.hosts.at(-1)!.module, 'builtin:none');
  });

  it('is ignored when the file has a pusher section, as WSGATE_REDIS_URL is beside a cluster', async () => {
    const config = await loadConfig('w.json', withFile({ hosts, pusher: { apps: [{ id: 'f', key: 'fk', secret: SECRET }] } }), fromEnv(three));
    assert.deepEqual(config.pusher!.apps.map((a) => a.id), ['f']);
  });

  it('takes the demo app\'s place in the built-in default', async () => {
    const config = await loadConfig(undefined, io(), fromEnv(three));
    assert.deepEqual(config.pusher!.apps.map((a) => a.id), ['42']);
    assert.equal(demoPusherApp(config), undefined);
  });

  it('wants all three of id, key and secret, naming what is missing', async () => {
    await rejectsWith(loadConfig('w.json', withFile({ hosts }), fromEnv({ id: '1', key: 'k' })), [
      'WSGATE_PUSHER_APP_SECRET is not set: a Pusher app from the environment needs WSGATE_PUSHER_APP_ID, WSGATE_PUSHER_APP_KEY and WSGATE_PUSHER_APP_SECRET (WSGATE_PUSHER_APP_HOST is optional)',
    ]);
    await rejectsWith(loadConfig('w.json', withFile({ hosts }), fromEnv({ host: 'app.test', id: '' })), [
      'WSGATE_PUSHER_APP_ID and WSGATE_PUSHER_APP_KEY and WSGATE_PUSHER_APP_SECRET are not set: a Pusher app from the environment needs WSGATE_PUSHER_APP_ID, WSGATE_PUSHER_APP_KEY and WSGATE_PUSHER_APP_SECRET (WSGATE_PUSHER_APP_HOST is optional)',
    ]);
    const none = await loadConfig('w.json', withFile({ hosts }), fromEnv({ id: '', key: undefined }));
    assert.equal(none.pusher, undefined, 'empty variables are no app');
  });

  it('names the variable a bad value came from, and never prints the secret', async () => {
    await assert.rejects(loadConfig('w.json', withFile({ hosts }), fromEnv({ id: 'a b', key: 'k', secret: 'short-one', host: 'nowhere.test' })), (e: ConfigError) => {
      assert.equal(e.problems.length, 2, e.problems.join('\n'));
      assert.match(e.problems[0]!, /^w\.json: pusher\.apps\[0\]\.id \(from WSGATE_PUSHER_APP_ID\): expected an app id of letters/);
      assert.match(e.problems[1]!, /^w\.json: pusher\.apps\[0\]\.secret \(from WSGATE_PUSHER_APP_SECRET\): expected a secret of at least 16 characters.*got 9 characters$/);
      assert.doesNotMatch(e.message, /short-one/);
      return true;
    });
    await assert.rejects(loadConfig('w.json', withFile({ hosts }), fromEnv({ ...three, host: 'nowhere.test' })), /w\.json: pusher\.apps\[0\]\.host \(from WSGATE_PUSHER_APP_HOST\): no configured host matches "nowhere\.test"/);
  });

  it('reads {"env": NAME} secrets through the environment loadConfig is given', async () => {
    const file = withFile({ hosts, pusher: { apps: [{ id: '1', key: 'k', secret: { env: 'MY_SECRET' } }] } });
    const config = await loadConfig('w.json', file, { env: env({ MY_SECRET: 'secret-from-env-123' }) });
    assert.equal(config.pusher!.apps[0]!.secret, 'secret-from-env-123');
    await rejectsWith(loadConfig('w.json', file, { env: env({}) }), ['w.json: pusher.apps[0].secret: the environment variable MY_SECRET is not set or empty; it should hold the app\'s secret']);
  });
});

describe('the built-in default\'s demo app', () => {
  const io: ConfigIO = { readTextFile: async () => assert.fail('no file is read'), isFile: async () => false, cwd: () => '/' };

  it('has its own space, client events on, and a random secret made at each load', async () => {
    const [first, second] = [await loadConfig(undefined, io), await loadConfig(undefined, io)];
    const app = demoPusherApp(first)!;
    assert.deepEqual({ ...app, secret: undefined }, {
      id: 'demo',
      key: 'wsgate-demo',
      secret: undefined,
      host: 'pusher:demo',
      sharesHost: false,
      clientEvents: true,
      clientEventsPerSecond: 10,
      activityTimeout: 120,
      limits: LIMITS,
      webhooks: [],
    });
    assert.match(app.secret, /^[0-9a-f]{64}$/);
    assert.notEqual(demoPusherApp(second)!.secret, app.secret);
    assert.deepEqual(first.pusher!.apps, [app]);
    assert.deepEqual(first.hosts.map((h) => [h.key, h.module]), [['*', 'builtin:demo'], ['pusher:demo', 'builtin:none']]);
  });

  it('passes load\'s checks: builtin:none is no file to look for', async () => {
    const config = await loadConfig(undefined, io);
    assert.equal(config.hosts.find((h) => h.key === 'pusher:demo')!.module, 'builtin:none');
  });

  it('defaultConfig makes a new secret each call; a --host config has no demo app', async () => {
    assert.notEqual(defaultConfig().pusher.apps[0]!.secret, defaultConfig().pusher.apps[0]!.secret);
    const config = await loadConfig(undefined, { ...io, isFile: async () => true }, { hosts: ['a.test=/a.php'] });
    assert.equal(config.pusher, undefined);
  });
});
