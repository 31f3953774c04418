/**
 * The Pusher HTTP API: `app.request()` against a fake gateway for each
 * answer, signed by the `pusher` SDK's own createSignedQueryString; then the
 * real SDK over a real socket (@hono/node-server), as Laravel's broadcaster
 * would call it.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import Pusher from 'pusher';
import type { PusherApp } from '../../src/config/config.ts';
import { pusherApi } from '../../src/http/pusher/api.ts';
import type { ChannelInfoField, PusherApiGateway, PusherEvent } from '../../src/http/pusher/gateway.ts';
import { createLogger } from '../../src/ops/log.ts';

const LIMITS = { channelName: 200, eventName: 200, payload: 10240, batch: 10, channels: 100, presenceMembers: 100, userInfo: 1024, subscriptions: 256 };
const base = { host: 'app.test', sharesHost: true, clientEvents: false, clientEventsPerSecond: 10, activityTimeout: 120, webhooks: [] };
const APP: PusherApp = { ...base, id: '1001', key: 'app-key', secret: 'app-secret-0123456789', limits: LIMITS };
/** An app with small limits, to hit each one. */
const SMALL: PusherApp = { ...base, id: 'small', key: 'small-key', secret: 'small-secret-0123456789', limits: { ...LIMITS, channelName: 30, eventName: 20, payload: 100, batch: 2, channels: 3 } };
const MAX_BODY = 4096;
let maxBody = MAX_BODY;

type Call = [string, ...unknown[]];

function setup(now?: () => number) {
  const calls: Call[] = [];
  const lines: string[] = [];
  const gateway: PusherApiGateway = {
    app: (id) => [APP, SMALL].find((app) => app.id === id),
    trigger: async (app, event, info) => {
      calls.push(['trigger', app.id, event, info]);
      // user_count for every channel: the API must keep it for presence channels only.
      return info ? Object.fromEntries(event.channels.map((c) => [c, { occupied: true, subscription_count: 3, user_count: 2 }])) : undefined;
    },
    channels: async (app, prefix, info) => (calls.push(['channels', app.id, prefix, info]), { 'presence-a': { user_count: 2 }, 'presence-b': { user_count: 1 } }),
    channel: async (app, name, info) => (calls.push(['channel', app.id, name, info]), { occupied: true, subscription_count: 4, user_count: 2 }),
    cache: (app, channel) => (calls.push(['cache', app.id, channel]), channel === 'cache-kept' ? { data: '{"v":1}', ttl: 1799 } : undefined),
    users: async (app, channel) => (calls.push(['users', app.id, channel]), ['u1', 'u2']),
    terminateUser: async (app, userId) => (calls.push(['terminate', app.id, userId]), 2),
  };
  const api = pusherApi(gateway, { log: createLogger((line) => lines.push(line), 'debug'), maxBody: () => maxBody, ...(now ? { now } : {}) });
  /** A request signed as the SDK signs it, with `change` applied to the query after signing. */
  const request = (method: 'GET' | 'POST', path: string, o: { app?: PusherApp; params?: Record<string, string>; body?: unknown; signer?: { key: string; secret: string }; change?: (q: URLSearchParams) => void; headers?: Record<string, string> } = {}) => {
    const app = o.app ?? APP;
    const signer = new Pusher({ appId: app.id, key: o.signer?.key ?? app.key, secret: o.signer?.secret ?? app.secret, host: 'localhost' });
    const text = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    let query = signer.createSignedQueryString({ method, path: `/apps/${app.id}${path}`, ...(o.params ? { params: o.params } : {}), ...(text !== undefined ? { body: text } : {}) });
    if (o.change) {
      const q = new URLSearchParams(query);
      o.change(q);
      query = q.toString();
    }
    return api.request(`/apps/${app.id}${path}?${query}`, { method, ...(text !== undefined ? { body: text, headers: { 'content-type': 'application/json', ...o.headers } } : {}) });
  };
  const post = (path: string, body: unknown, o: Parameters<typeof request>[2] = {}) => request('POST', path, { ...o, body });
  return { api, calls, lines, request, post };
}

async function refused(response: Response, status: number, message: RegExp): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(text, message);
}

const event = (over: Record<string, unknown> = {}) => ({ name: 'order.placed', data: '{"id":7}', channel: 'private-orders', ...over });

describe('pusher api: events', () => {
  it('publishes one event on one channel and answers {}', async () => {
    const t = setup();
    const response = await t.post('/events', event());
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {});
    assert.deepEqual(t.calls, [['trigger', '1001', { name: 'order.placed', data: '{"id":7}', channels: ['private-orders'] } satisfies PusherEvent, undefined]]);
  });

  it('passes socket_id on, drops repeated channels, and answers the info asked (user_count for presence channels only)', async () => {
    const t = setup();
    const response = await t.post('/events', { name: 'e', data: 'x', channels: ['presence-room', 'public', 'presence-room'], socket_id: '123.456', info: 'user_count,subscription_count' });
    assert.deepEqual(await response.json(), { channels: { 'presence-room': { user_count: 2, subscription_count: 3 }, public: { subscription_count: 3 } } });
    assert.deepEqual(t.calls, [['trigger', '1001', { name: 'e', data: 'x', channels: ['presence-room', 'public'], socketId: '123.456' }, ['user_count', 'subscription_count'] satisfies ChannelInfoField[]]]);
  });

  it('answers info for channels named like Object properties as for any other', async () => {
    const t = setup();
    const response = await t.post('/events', { name: 'e', data: 'x', channels: ['__proto__', 'constructor'], info: 'subscription_count' });
    assert.equal(await response.text(), '{"channels":{"__proto__":{"subscription_count":3},"constructor":{"subscription_count":3}}}');
  });

  it('sends data that is not a string as its JSON, and reads a JSON body under any Content-Type', async () => {
    const t = setup();
    assert.equal((await t.post('/events', event({ data: { id: 7 } }), { headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status, 200);
    assert.equal((t.calls[0]![2] as PusherEvent).data, '{"id":7}');
  });

  it('takes #server-to-user- channels (sendToUser) as targets of events only', async () => {
    const t = setup();
    assert.equal((await t.post('/events', event({ channel: '#server-to-user-ann smith' }))).status, 200);
    assert.deepEqual((t.calls[0]![2] as PusherEvent).channels, ['#server-to-user-ann smith']);
    await refused(await t.post('/events', event({ channel: '#server-to-user-' })), 400, /user id is empty/);
    await refused(await t.post('/events', event({ channel: `#server-to-user-${'u'.repeat(165)}` })), 400, /user id is 165 characters; the limit is 164/);
    // Read as signed: "%23server-to-user-ann" names no channel, and a raw "#" would end the path.
    await refused(await t.request('GET', '/channels/%23server-to-user-ann'), 400, /^channel "%23server-to-user-ann" may hold only/);
  });

  it("sends to any user id sign-in takes, whatever the app's channel name limit (its channel is named by the id)", async () => {
    const t = setup();
    // SMALL allows channel names of 30 characters; "#server-to-user-" and this id are 56.
    const id = 'u'.repeat(40);
    assert.equal((await t.post('/events', event({ channel: `#server-to-user-${id}` }), { app: SMALL })).status, 200);
    assert.deepEqual((t.calls[0]![2] as PusherEvent).channels, [`#server-to-user-${id}`]);
    await refused(await t.post('/events', event({ channel: 'c'.repeat(31) }), { app: SMALL }), 400, /is 31 characters; the limit is 30/);
  });

  it('refuses each broken event with 400 and the field it is about', async () => {
    const t = setup();
    const cases: Array<[unknown, RegExp]> = [
      [{ data: 'x', channel: 'a' }, /^name is required$/],
      [event({ name: '' }), /^name must not be empty$/],
      [event({ name: 'pusher:subscribe' }), /must not start with pusher:/],
      [event({ name: 'pusher_internal:subscription_succeeded' }), /must not start with pusher:/],
      [event({ data: undefined }), /^data is required$/],
      [event({ channel: undefined }), /^give channel or channels/],
      [event({ channels: ['a'] }), /^give channel or channels/],
      [event({ channel: undefined, channels: [] }), /at least one channel/],
      [event({ channel: 'bad name' }), /^channel "bad name" may hold only/],
      [event({ channel: undefined, channels: ['ok', 'bad/name'] }), /^channels\[1\]: channel "bad\/name" may hold only/],
      [event({ channel: 'a'.repeat(201) }), /is 201 characters; the limit is 200/],
      [event({ socket_id: 'abc' }), /socket_id must be a socket id/],
      [event({ info: 'members' }), /info may list user_count and subscription_count, not "members"/],
      [event({ channel: 7 }), /^channel must be a string$/],
      ['[1]', /^the body must be a JSON object$/],
      ['{"name":', /^the body is not valid JSON$/],
    ];
    for (const [body, message] of cases) await refused(await t.post('/events', body), 400, message);
    assert.deepEqual(t.calls, []);
  });

  it("holds events to the app's limits: event name, channels, data (413) and the body", async () => {
    const t = setup();
    const small = { app: SMALL };
    await refused(await t.post('/events', event({ name: 'n'.repeat(21) }), small), 400, /^name must be at most 20 characters$/);
    await refused(await t.post('/events', event({ channel: 'c'.repeat(31) }), small), 400, /the limit is 30/);
    await refused(await t.post('/events', event({ channel: undefined, channels: ['a', 'b', 'c', 'd'] }), small), 400, /at most 3 channels/);
    await refused(await t.post('/events', event({ data: 'é'.repeat(51) }), small), 413, /^data is 102 bytes; the limit is 100$/);
    assert.equal((await t.post('/events', event({ data: 'é'.repeat(50), channel: undefined, channels: ['a', 'b', 'c'] }), small)).status, 200);
    await refused(await t.post('/events', event({ data: 'x'.repeat(MAX_BODY) })), 413, /larger than the limit of 4096 bytes/);
    assert.equal(t.calls.length, 1);
    // Read per request, as a reload changes it.
    maxBody = 64;
    try {
      await refused(await t.post('/events', event({ data: 'x'.repeat(40) })), 413, /larger than the limit of 64 bytes/);
    } finally {
      maxBody = MAX_BODY;
    }
  });
});

describe('pusher api: batches', () => {
  it('publishes each event in order, answering {} or the info per event', async () => {
    const t = setup();
    const plain = await t.post('/batch_events', { batch: [event(), event({ name: 'second', channel: 'b', socket_id: '1.2' })] });
    assert.deepEqual(await plain.json(), {});
    assert.deepEqual(
      t.calls.map((call) => [(call[2] as PusherEvent).name, (call[2] as PusherEvent).socketId]),
      [['order.placed', undefined], ['second', '1.2']],
    );
    const withInfo = await t.post('/batch_events', { batch: [event({ channel: 'presence-a', info: 'user_count' }), event(), event({ info: 'subscription_count,user_count' })] });
    assert.deepEqual(await withInfo.json(), { batch: [{ user_count: 2 }, {}, { subscription_count: 3 }] });
  });

  it('refuses a batch over its limit, an event without a channel and oversize data, publishing none of it', async () => {
    const t = setup();
    await refused(await t.post('/batch_events', { batch: [event(), event(), event()] }, { app: SMALL }), 400, /^a batch may hold at most 2 events$/);
    await refused(await t.post('/batch_events', { batch: [event(), event({ channel: undefined })] }), 400, /^batch\[1\]: channel is required$/);
    await refused(await t.post('/batch_events', { batch: [event(), event({ channels: ['a'] , channel: 'bad name' })] }), 400, /^batch\[1\]: channel "bad name"/);
    await refused(await t.post('/batch_events', { batch: [event(), event({ data: 'x'.repeat(101) })] }, { app: SMALL }), 413, /^batch\[1\]: data is 101 bytes/);
    await refused(await t.post('/batch_events', { events: [] }), 400, /^batch is required$/);
    assert.deepEqual(t.calls, []);
  });
});

describe('pusher api: channels and users', () => {
  it('lists channels by prefix, with user_count for presence- prefixes only', async () => {
    const t = setup();
    const listed = await t.request('GET', '/channels', { params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    assert.deepEqual(await listed.json(), { channels: { 'presence-a': { user_count: 2 }, 'presence-b': { user_count: 1 } } });
    assert.deepEqual(t.calls.at(-1), ['channels', '1001', 'presence-', ['user_count']]);
    assert.equal((await t.request('GET', '/channels')).status, 200);
    assert.deepEqual(t.calls.at(-1), ['channels', '1001', undefined, []]);
    await refused(await t.request('GET', '/channels', { params: { info: 'user_count' } }), 400, /needs filter_by_prefix=presence-/);
    await refused(await t.request('GET', '/channels', { params: { filter_by_prefix: 'private-', info: 'user_count' } }), 400, /needs filter_by_prefix=presence-/);
  });

  it('answers one channel with what info asks, user_count for presence channels only', async () => {
    const t = setup();
    assert.deepEqual(await (await t.request('GET', '/channels/presence-a', { params: { info: 'user_count,subscription_count' } })).json(), { occupied: true, user_count: 2, subscription_count: 4 });
    assert.deepEqual(await (await t.request('GET', '/channels/private-a')).json(), { occupied: true });
    assert.deepEqual(t.calls.at(-1), ['channel', '1001', 'private-a', []]);
    await refused(await t.request('GET', '/channels/private-a', { params: { info: 'user_count' } }), 400, /only for presence channels/);
    await refused(await t.request('GET', '/channels/bad%20name'), 400, /^channel "bad%20name" may hold only/);
  });

  it("answers info=cache with a cache channel's kept event, nothing while none is kept, and 400 elsewhere", async () => {
    const t = setup();
    assert.deepEqual(await (await t.request('GET', '/channels/cache-kept', { params: { info: 'cache,subscription_count' } })).json(), { occupied: true, subscription_count: 4, cache: { data: '{"v":1}', ttl: 1799 } });
    assert.deepEqual(await (await t.request('GET', '/channels/private-cache-none', { params: { info: 'cache' } })).json(), { occupied: true });
    await refused(await t.request('GET', '/channels/private-a', { params: { info: 'cache' } }), 400, /only for cache- channels/);
    await refused(await t.request('GET', '/channels/cache-kept', { params: { info: 'members' } }), 400, /info may list user_count, subscription_count and cache, not "members"/);
    // Only one channel's answer has a cache: a list and an event's info refuse it as before.
    await refused(await t.request('GET', '/channels', { params: { info: 'cache' } }), 400, /not "cache"/);
  });

  it('lists the users of a presence channel, and refuses other channels', async () => {
    const t = setup();
    assert.deepEqual(await (await t.request('GET', '/channels/presence-a/users')).json(), { users: [{ id: 'u1' }, { id: 'u2' }] });
    await refused(await t.request('GET', '/channels/private-a/users'), 400, /only for presence channels/);
    assert.deepEqual(t.calls, [['users', '1001', 'presence-a']]);
  });

  it("terminates a user's connections, the id as the signature covered it (a % in it is the user's own)", async () => {
    const t = setup();
    assert.deepEqual(await (await t.post('/users/ann@example.com/terminate_connections', {})).json(), {});
    assert.deepEqual(await (await t.post('/users/ann%40example.com/terminate_connections', {})).json(), {});
    assert.deepEqual(t.calls, [['terminate', '1001', 'ann@example.com'], ['terminate', '1001', 'ann%40example.com']]);
    await refused(await t.post(`/users/${'u'.repeat(165)}/terminate_connections`, {}), 400, /user id is 165 characters/);
  });
});

describe('pusher api: who may call', () => {
  it('answers 404 for an unknown app and an unknown endpoint', async () => {
    const t = setup();
    await refused(await t.api.request('/apps/9999/events', { method: 'POST', body: '{}' }), 404, /^unknown app$/);
    await refused(await t.request('GET', '/nothing'), 404, /no such endpoint: GET \/apps\/1001\/nothing/);
  });

  it('refuses a bad signature, another app\'s key, an old timestamp and a changed body, reaching no gateway call', async () => {
    const t = setup();
    await refused(await t.post('/events', event(), { signer: { key: APP.key, secret: 'not-the-secret-at-all' } }), 401, /^invalid auth_signature/);
    // The answer says what should have been signed; the log line only that it was not.
    assert.match(t.lines.at(-1)!, /WARN  pusher api refused app=1001 method=POST path=\/apps\/1001\/events status=401 reason="invalid auth_signature"$/);
    await refused(await t.post('/events', event(), { signer: SMALL }), 401, /^unknown auth_key for this app$/);
    await refused(await t.post('/events', event(), { change: (q) => q.set('auth_timestamp', String(Math.floor(Date.now() / 1000) - 601)) }), 401, /auth_timestamp is 60\d s from the server's clock/);
    await refused(await t.request('GET', '/channels', { change: (q) => q.delete('auth_signature') }), 401, /lacks auth_signature/);
    await refused(await t.request('GET', '/channels', { params: { filter_by_prefix: 'a' }, change: (q) => q.set('filter_by_prefix', 'b') }), 401, /^invalid auth_signature/);
    await refused(await t.request('GET', '/channels', { change: (q) => q.append('auth_version', '1.0') }), 400, /more than once/);
    const changed = await t.api.request((await signedUrl(APP, '/events', '{"name":"e","data":"1","channel":"a"}')), { method: 'POST', body: '{"name":"e","data":"2","channel":"a"}' });
    await refused(changed, 401, /body_md5 is not the MD5 of the body/);
    assert.deepEqual(t.calls, []);
  });

  it('checks the timestamp against its own clock', async () => {
    const t = setup(() => Date.now() + 700_000);
    await refused(await t.request('GET', '/channels'), 401, /auth_timestamp is 70\d s from the server's clock/);
  });

  it('never writes the secret or a signature into its answers or logs', async () => {
    const t = setup();
    const signatures: string[] = [];
    const answers: string[] = [];
    const bad = { key: APP.key, secret: 'not-the-secret-at-all' };
    for (const o of [{ signer: bad }, {}, { app: SMALL, signer: { key: SMALL.key, secret: APP.secret } }]) {
      const response = await t.post('/events', event({ channel: 'bad name' }), { ...o, change: (q) => signatures.push(q.get('auth_signature')!) });
      answers.push(await response.text());
    }
    assert.equal(t.lines.length, 3);
    const said = [...answers, ...t.lines].join('\n');
    for (const secret of [APP.secret, SMALL.secret, bad.secret, ...signatures]) assert.ok(!said.includes(secret), `${secret} leaked`);
  });
});

async function signedUrl(app: PusherApp, path: string, body: string): Promise<string> {
  const signer = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: 'localhost' });
  return `/apps/${app.id}${path}?${signer.createSignedQueryString({ method: 'POST', path: `/apps/${app.id}${path}`, body })}`;
}

describe('pusher api: the pusher SDK over a socket', () => {
  let server: ServerType;
  let port = 0;
  let t: ReturnType<typeof setup>;
  let skew = 0;
  before(async () => {
    t = setup(() => Date.now() + skew);
    await new Promise<void>((resolve) => {
      server = serve({ fetch: t.api.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => {
        port = info.port;
        resolve();
      });
    });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sdk = (app: PusherApp = APP, over: { key?: string; secret?: string; appId?: string } = {}) => new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port), ...over });
  const lastEvent = () => t.calls.at(-1)![2] as PusherEvent;
  /** What the SDK's promise rejected with: pusher-http-node's RequestError carries the status and our text. */
  const rejection = async (call: () => Promise<unknown>) => {
    const error = (await call().then(() => assert.fail('accepted'), (e: unknown) => e)) as { status?: number; body?: string };
    return { status: error.status, body: error.body ?? '' };
  };

  it('triggers on one channel, on several, past a socket and with info', async () => {
    const client = sdk();
    assert.equal((await client.trigger('private-orders', 'order.placed', { id: 1 })).status, 200);
    assert.deepEqual(lastEvent(), { name: 'order.placed', data: '{"id":1}', channels: ['private-orders'] });
    await client.trigger(['a', 'b', 'presence-c'], 'e', 'text');
    assert.deepEqual(lastEvent().channels, ['a', 'b', 'presence-c']);
    await client.trigger('a', 'e', {}, { socket_id: '123.456' });
    assert.equal(lastEvent().socketId, '123.456');
    const withInfo = await client.trigger(['presence-c', 'a'], 'e', {}, { info: 'user_count,subscription_count' });
    assert.deepEqual(await withInfo.json(), { channels: { 'presence-c': { user_count: 2, subscription_count: 3 }, a: { subscription_count: 3 } } });
  });

  it('triggers a batch', async () => {
    const response = await sdk().triggerBatch([{ channel: 'a', name: 'one', data: { n: 1 } }, { channel: 'presence-b', name: 'two', data: 'x', info: 'user_count' }]);
    assert.deepEqual(await response.json(), { batch: [{}, { user_count: 2 }] });
    assert.deepEqual(t.calls.slice(-2).map((call) => (call[2] as PusherEvent).name), ['one', 'two']);
  });

  it('answers get() of the channels, of one channel and of its users', async () => {
    const client = sdk();
    assert.deepEqual(await (await client.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json(), { channels: { 'presence-a': { user_count: 2 }, 'presence-b': { user_count: 1 } } });
    assert.deepEqual(await (await client.get({ path: '/channels/presence-a', params: { info: 'subscription_count,user_count' } })).json(), { occupied: true, subscription_count: 4, user_count: 2 });
    assert.deepEqual(await (await client.get({ path: '/channels/presence-a/users' })).json(), { users: [{ id: 'u1' }, { id: 'u2' }] });
  });

  it('sends to a user and terminates their connections', async () => {
    const client = sdk();
    await client.sendToUser('ann@example.com', 'notice', { hi: 1 });
    assert.deepEqual(lastEvent(), { name: 'notice', data: '{"hi":1}', channels: ['#server-to-user-ann@example.com'] });
    await client.terminateUserConnections('ann smith');
    assert.deepEqual(t.calls.at(-1), ['terminate', '1001', 'ann smith']);
  });

  it('refuses, with the status and reason in the RequestError', async () => {
    const before = t.calls.length;
    const badSecret = await rejection(() => sdk(APP, { secret: 'not-the-secret-at-all' }).trigger('a', 'e', {}));
    assert.equal(badSecret.status, 401);
    assert.match(badSecret.body, /^invalid auth_signature/);
    const otherKey = await rejection(() => sdk(APP, { key: SMALL.key }).trigger('a', 'e', {}));
    assert.deepEqual(otherKey, { status: 401, body: 'unknown auth_key for this app' });
    skew = 601_000;
    const old = await rejection(() => sdk().trigger('a', 'e', {}));
    skew = 0;
    assert.equal(old.status, 401);
    assert.match(old.body, /auth_timestamp is 60\d s from the server's clock/);
    assert.deepEqual(await rejection(() => sdk(SMALL).trigger('a', 'e', 'x'.repeat(101))), { status: 413, body: 'data is 101 bytes; the limit is 100' });
    assert.deepEqual(await rejection(() => sdk().trigger('a', 'e', 'x'.repeat(MAX_BODY))), { status: 413, body: `the body is larger than the limit of ${MAX_BODY} bytes` });
    assert.deepEqual(await rejection(() => sdk(SMALL).trigger(['a', 'b', 'c', 'd'], 'e', {})), { status: 400, body: 'an event may go to at most 3 channels' });
    // The SDK checks names itself before trigger(); post() is how a client without that check would send one. It JSON-encodes the body, whatever its types say.
    const body = { name: 'e', data: '{}', channels: ['bad name'] } as unknown as string;
    const badName = await rejection(() => sdk().post({ path: '/events', body }));
    assert.equal(badName.status, 400);
    assert.match(badName.body, /^channels\[0\]: channel "bad name" may hold only/);
    assert.deepEqual(await rejection(() => sdk(APP, { appId: '9999' }).trigger('a', 'e', {})), { status: 404, body: 'unknown app' });
    assert.equal(t.calls.length, before);
  });
});
