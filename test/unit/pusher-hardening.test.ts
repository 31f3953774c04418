// Hardening of the Pusher front end: client data that cannot be written out
// again, the gateway's own channels, query names in another case, and user
// ids that are Object.prototype's names.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, it } from 'node:test';
import Pusher from 'pusher';
import { startCore, PUSHER_APP } from '../support/core.ts';
import type { Core, FakeSocket } from '../support/core.ts';
import type { PusherApp } from '../../src/config/config.ts';
import { clientEventFrame, isClientChannel } from '../../src/protocols/pusher/connection.ts';
import { jsonText } from '../../src/core/json.ts';
import { subscriptionSucceeded } from '../../src/protocols/pusher/frames.ts';
import { verifyApiRequest } from '../../src/protocols/pusher/signatures.ts';

const APP: PusherApp = PUSHER_APP;
const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });

type Frame = { event?: string; channel?: string; data?: unknown; user_id?: string };
const frames = (socket: FakeSocket) => socket.take() as Frame[];

/** An array nested `depth` levels, built without recursion: deep enough that JSON.stringify overflows the stack. */
function nested(depth: number): unknown[] {
  const root: unknown[] = [];
  let at = root;
  for (let i = 1; i < depth; i++) {
    const inner: unknown[] = [];
    at.push(inner);
    at = inner;
  }
  return root;
}
const DEEP = 200_000;
const deepText = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('Pusher hardening: data too deep to write out', () => {
  it('jsonText() answers undefined where JSON.stringify throws', () => {
    assert.throws(() => JSON.stringify(nested(DEEP)), RangeError);
    assert.equal(jsonText(nested(DEEP)), undefined);
    assert.equal(jsonText({ a: [1, 'b'] }), '{"a":[1,"b"]}');
  });

  it("clientEventFrame() is the frame JSON.stringify made, around the data's text made once", () => {
    for (const [data, user] of [[{ n: 1 }, undefined], ['{"n":1}', undefined], [[1, 'two'], 'u1'], ['plain "quoted" text', 'u"2']] as const) {
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      const expected = JSON.stringify(user === undefined ? { event: 'client-x', channel: 'private-a', data } : { event: 'client-x', channel: 'private-a', data, user_id: user });
      assert.equal(clientEventFrame('client-x', 'private-a', data, text, user), expected);
    }
  });
});

describe('Pusher hardening, in-process', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });
  const start = () => {
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts' } } }, { 'a.test': {} });
    core.gateway.pusher.configure([APP]);
    return core;
  };
  const send = (socket: FakeSocket, frame: object) => core!.send(socket, JSON.stringify(frame));
  /** Two connections subscribed to private-room, their answers read. */
  const twoInPrivateRoom = async () => {
    start();
    const [a, b] = [await core!.connectPusher(APP), await core!.connectPusher(APP)];
    for (const socket of [a, b]) send(socket, { event: 'pusher:subscribe', data: { channel: 'private-room', ...sdk.authorizeChannel(socket.client.id, 'private-room') } });
    await core!.settle();
    frames(a);
    frames(b);
    return [a, b] as const;
  };
  const signin = async (id: string, watchlist?: string[]) => {
    const socket = await core!.connectPusher(APP);
    send(socket, { event: 'pusher:signin', data: sdk.authenticateUser(socket.client.id, watchlist ? { id, watchlist } : { id }) });
    await core!.settle();
    frames(socket);
    return socket;
  };

  it('answers a client event whose data is too deep with pusher:error, publishes nothing, and keeps the connection', async () => {
    const [a, b] = await twoInPrivateRoom();
    core!.send(a, `{"event":"client-deep","channel":"private-room","data":${deepText(DEEP)}}`);
    await core!.settle();
    const [answer] = frames(a);
    assert.equal(answer?.event, 'pusher:error');
    assert.equal(a.closed, undefined);
    assert.deepEqual(frames(b), []);
    send(a, { event: 'client-ok', channel: 'private-room', data: { n: 1 } });
    await core!.settle();
    assert.deepEqual(frames(b), [{ event: 'client-ok', channel: 'private-room', data: '{"n":1}' }]);
  });

  it("weighs a client event's string data in the UTF-8 it goes out as, lone surrogates too", async () => {
    const [a, b] = await twoInPrivateRoom();
    // 2048 pairs of a lone surrogate (U+FFFD, 3 bytes) and U+0800 (3 bytes): 12288 bytes, over the 10240 of limits.payload.
    const data = '\ud800\u0800'.repeat(2048);
    assert.ok(Buffer.byteLength(data, 'utf8') > APP.limits.payload);
    send(a, { event: 'client-big', channel: 'private-room', data });
    await core!.settle();
    assert.match(String((frames(a)[0]?.data as { message?: string } | undefined)?.message), /over 10240 bytes/);
    assert.deepEqual(frames(b), []);
  });

  it('relays a client event with lone surrogates in its name or string data as U+FFFD, which PHP can decode in a webhook batch', async () => {
    const [a, b] = await twoInPrivateRoom();
    core!.send(a, '{"event":"client-x\\udc00","channel":"private-room","data":"hi \\ud800"}');
    await core!.settle();
    const [got] = frames(b);
    assert.deepEqual(got, { event: 'client-x\ufffd', channel: 'private-room', data: 'hi \ufffd' });
    // The client_event webhook carries the same name and text: a batch PHP's json_decode() refuses whole if either holds "\ud800".
    const batch = JSON.stringify({ time_ms: 1, events: [{ name: 'client_event', channel: 'private-room', event: got!.event, data: got!.data }] });
    const php = spawnSync('php', ['-r', 'echo json_decode(stream_get_contents(STDIN), true) === null ? json_last_error_msg() : "ok";'], { input: batch, encoding: 'utf8' });
    assert.equal(php.stdout, 'ok');
  });

  it("refuses a presence subscription whose signed user_info is too deep to write out, without throwing", async () => {
    start();
    const socket = await core!.connectPusher(APP);
    frames(socket);
    // Signed as an auth endpoint that passes the client's user_info on would sign it.
    const channelData = `{"user_id":"u1","user_info":${deepText(DEEP)}}`;
    const auth = `${APP.key}:${createHmac('sha256', APP.secret).update(`${socket.client.id}:presence-room:${channelData}`).digest('hex')}`;
    send(socket, { event: 'pusher:subscribe', data: { channel: 'presence-room', auth, channel_data: channelData } });
    await core!.settle();
    const [answer] = frames(socket);
    assert.equal(answer?.event, 'pusher:subscription_error');
    assert.equal(socket.closed, undefined);
  });

  it("ignores an unsubscribe from the gateway's own channels: terminate_connections still finds the user", async () => {
    start();
    const a = await signin('u1');
    for (const channel of ['#server-to-user-u1', '#online', '#watchers-of-u1']) send(a, { event: 'pusher:unsubscribe', data: { channel } });
    await core!.settle();
    assert.deepEqual(frames(a), [], 'Pusher answers no unsubscribe');
    const closed = await core!.gateway.disconnectEverywhere(APP.host, { kind: 'channel', channel: '#server-to-user-u1' }, 4009, 'terminated');
    assert.equal(closed.value, 1);
    assert.equal(a.closed?.code, 4009);
  });

  it('does not let a user look offline to its watchers by leaving #online', async () => {
    start();
    const ann = await signin('ann', ['bob']);
    const bob = await signin('bob');
    frames(ann);
    send(bob, { event: 'pusher:unsubscribe', data: { channel: '#online' } });
    await core!.settle();
    assert.deepEqual(frames(ann), []);
  });

  it('tells client channels from the gateway’s own and from invalid names', () => {
    assert.equal(isClientChannel('private-room', APP), true);
    for (const name of ['#server-to-user-u1', '#online', '#watchers-of-u1', '', 'bad name', 'x'.repeat(201)]) assert.equal(isClientChannel(name, APP), false, name);
  });
});

describe('Pusher hardening: API query names', () => {
  const ts = () => String(Math.floor(Date.now() / 1000));
  /** A GET signed as the SDKs sign it (names lowercased, sorted), with `params` sent as spelled. */
  function signedGet(params: Record<string, string>) {
    const all: Record<string, string> = { auth_key: APP.key, auth_timestamp: ts(), auth_version: '1.0', ...params };
    const lower = Object.entries(all).map(([name, value]) => [name.toLowerCase(), value] as const);
    const text = lower.sort(([x], [y]) => (x < y ? -1 : 1)).map(([name, value]) => `${name}=${value}`).join('&');
    const signature = createHmac('sha256', APP.secret).update(`GET\n/apps/1/channels\n${text}`).digest('hex');
    const query = `${Object.entries(all).map(([name, value]) => `${name}=${value}`).join('&')}&auth_signature=${signature}`;
    return { method: 'GET', path: '/apps/1/channels', query, body: '', now: Date.now() };
  }

  it('accepts lowercase names, and refuses a name in another case with 400 in every form of the query', () => {
    assert.equal(verifyApiRequest(APP, signedGet({ filter_by_prefix: 'presence-' })), undefined);
    const replayed = signedGet({ FILTER_BY_PREFIX: 'presence-' });
    for (const query of [replayed.query, new URLSearchParams(replayed.query), Object.fromEntries(new URLSearchParams(replayed.query))]) {
      const refusal = verifyApiRequest(APP, { ...replayed, query });
      assert.equal(refusal?.status, 400);
      assert.match(refusal?.message ?? '', /FILTER_BY_PREFIX.*lowercase/);
    }
    assert.equal(verifyApiRequest(APP, { ...signedGet({}), query: signedGet({}).query.replace('auth_key', 'Auth_Key') })?.status, 400);
  });

  it('takes what the pusher SDK signs and sends', () => {
    // The SDK's own query string: every name it sends is lowercase.
    const require = createRequire(import.meta.url);
    const { createSignedQueryString } = require('pusher/lib/requests.js') as { createSignedQueryString(token: unknown, request: object): string };
    const Token = require('pusher/lib/token.js') as new (key: string, secret: string) => unknown;
    const query = createSignedQueryString(new Token(APP.key, APP.secret), { method: 'GET', path: '/apps/1/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    assert.equal(verifyApiRequest(APP, { method: 'GET', path: '/apps/1/channels', query, body: '', now: Date.now() }), undefined);
  });
});

describe('Pusher hardening: presence hash', () => {
  it("keeps every user id in the hash, Object.prototype's names too", () => {
    const users = new Map<string, unknown>([['__proto__', { name: 'p' }], ['constructor', null], ['u1', { name: 'ann' }]]);
    const frame = JSON.parse(subscriptionSucceeded('presence-room', users)) as { data: string };
    const { presence } = JSON.parse(frame.data) as { presence: { ids: string[]; hash: Record<string, unknown>; count: number } };
    assert.deepEqual(presence.ids, ['__proto__', 'constructor', 'u1']);
    assert.deepEqual(Object.keys(presence.hash), ['__proto__', 'constructor', 'u1']);
    assert.deepEqual(presence.hash['__proto__'], { name: 'p' });
    assert.equal(presence.count, 3);
  });
});
