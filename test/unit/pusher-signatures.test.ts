/**
 * The Pusher signatures against the real `pusher` SDK (pusher-http-node):
 * what it signs, ours accepts and equals; what it accepts, ours signed; and
 * every tampered value is refused without a throw.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Pusher from 'pusher';
import { md5Hex, signChannel, signUser, signWebhook, verifyApiRequest, verifyChannel, verifyUser } from '../../src/protocols/pusher/signatures.ts';
import type { ApiRequest } from '../../src/protocols/pusher/signatures.ts';

const APP = { id: '1001', key: 'app-key', secret: 'app-secret-of-some-length' };
const OTHER = { ...APP, secret: 'another-secret-entirely' };
const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });
const SOCKET = '1234.5678';
/** A request signed by hand, for the encodings the node SDK does not use. */
const hmacHex = (text: string) => createHmac('sha256', APP.secret).update(text).digest('hex');

describe('channel auth', () => {
  it('equals the SDK for a private channel and verifies what it signed', () => {
    const { auth } = sdk.authorizeChannel(SOCKET, 'private-orders');
    assert.equal(signChannel(APP, SOCKET, 'private-orders'), auth);
    assert.equal(verifyChannel(APP, SOCKET, 'private-orders', auth), true);
  });

  it('equals the SDK for a presence channel, over channel_data as sent', () => {
    const member = { user_id: 'u-7', user_info: { name: 'Zoë', emoji: '🚀' } };
    const signed = sdk.authorizeChannel(SOCKET, 'presence-room.1', member);
    assert.equal(typeof signed.channel_data, 'string');
    assert.equal(signChannel(APP, SOCKET, 'presence-room.1', signed.channel_data), signed.auth);
    assert.equal(verifyChannel(APP, SOCKET, 'presence-room.1', signed.auth, signed.channel_data), true);
  });

  it('refuses tampered values without throwing', () => {
    const data = JSON.stringify({ user_id: 'u-7' });
    const { auth } = sdk.authorizeChannel(SOCKET, 'presence-room', { user_id: 'u-7' });
    const [key, signature] = auth.split(':') as [string, string];
    const refused: Array<[string, boolean]> = [
      ['other socket', verifyChannel(APP, '1234.5679', 'presence-room', auth, data)],
      ['other channel', verifyChannel(APP, SOCKET, 'presence-room2', auth, data)],
      ['other secret', verifyChannel(OTHER, SOCKET, 'presence-room', auth, data)],
      ['changed channel_data', verifyChannel(APP, SOCKET, 'presence-room', auth, JSON.stringify({ user_id: 'u-8' }))],
      ['no channel_data', verifyChannel(APP, SOCKET, 'presence-room', auth)],
      ['truncated signature', verifyChannel(APP, SOCKET, 'presence-room', auth.slice(0, -2), data)],
      ['longer signature', verifyChannel(APP, SOCKET, 'presence-room', `${auth}00`, data)],
      ['non-hex signature', verifyChannel(APP, SOCKET, 'presence-room', `${key}:${'z'.repeat(64)}`, data)],
      ['half hex', verifyChannel(APP, SOCKET, 'presence-room', `${key}:${signature.slice(0, 32)}${'g'.repeat(32)}`, data)],
      ['wrong key part', verifyChannel(APP, SOCKET, 'presence-room', `other-key:${signature}`, data)],
      ['no key part', verifyChannel(APP, SOCKET, 'presence-room', signature, data)],
      ['empty', verifyChannel(APP, SOCKET, 'presence-room', '', data)],
      ['not a string', verifyChannel(APP, SOCKET, 'presence-room', 42, data)],
    ];
    assert.deepEqual(refused.filter(([, ok]) => ok), []);
    // The same signature in upper case is the same digest.
    assert.equal(verifyChannel(APP, SOCKET, 'presence-room', `${key}:${signature.toUpperCase()}`, data), true);
  });
});

describe('user sign-in', () => {
  it('equals authenticateUser and verifies it', () => {
    const signed = sdk.authenticateUser(SOCKET, { id: 'u-1', user_info: { name: 'Ann' }, watchlist: ['u-2'] });
    assert.equal(signUser(APP, SOCKET, signed.user_data), signed.auth);
    assert.equal(verifyUser(APP, SOCKET, signed.user_data, signed.auth), true);
  });

  it('refuses another socket, other user data, another secret and a channel signature', () => {
    const signed = sdk.authenticateUser(SOCKET, { id: 'u-1' });
    assert.equal(verifyUser(APP, '1.2', signed.user_data, signed.auth), false);
    assert.equal(verifyUser(APP, SOCKET, JSON.stringify({ id: 'u-2' }), signed.auth), false);
    assert.equal(verifyUser(OTHER, SOCKET, signed.user_data, signed.auth), false);
    assert.equal(verifyUser(APP, SOCKET, signed.user_data, signed.auth.slice(0, -1)), false);
    // A channel auth over the same text parts is not a sign-in.
    assert.equal(verifyUser(APP, SOCKET, signed.user_data, signChannel(APP, SOCKET, 'user', signed.user_data)), false);
  });
});

describe('webhooks', () => {
  it('the SDK accepts our signature and refuses it over another body or secret', () => {
    const body = JSON.stringify({ time_ms: 1700000000000, events: [{ name: 'channel_occupied', channel: 'private-a' }] });
    const hook = (signature: string, rawBody = body) => sdk.webhook({ headers: { 'x-pusher-key': APP.key, 'x-pusher-signature': signature, 'content-type': 'application/json' }, rawBody });
    assert.equal(hook(signWebhook(APP, body)).isValid(), true);
    assert.deepEqual(hook(signWebhook(APP, body)).getEvents(), [{ name: 'channel_occupied', channel: 'private-a' }]);
    assert.equal(hook(signWebhook(OTHER, body)).isValid(), false);
    assert.equal(hook(signWebhook(APP, body), body.replace('private-a', 'private-b')).isValid(), false);
  });
});

interface Captured {
  method: string;
  path: string;
  query: string;
  body: string;
}

describe('HTTP API requests, as the SDK sends them', () => {
  const captured: Captured[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      captured.push({ method: req.method ?? '', path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1), body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  let client: Pusher;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String((server.address() as AddressInfo).port) });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** What the SDK sent for one call, as the API reads it. */
  const send = async (call: () => Promise<unknown>): Promise<ApiRequest> => {
    captured.length = 0;
    await call();
    const got = captured[0]!;
    return { method: got.method, path: got.path, query: got.query, body: got.body, now: Date.now() };
  };

  it('accepts a trigger with a body, a GET with params, and a POST to a user', async () => {
    const trigger = await send(() => client.trigger(['private-a', 'presence-b'], 'order.placed', { id: 7, note: 'a+b c' }, { socket_id: SOCKET, info: 'subscription_count' }));
    assert.equal(trigger.method, 'POST');
    assert.equal(trigger.path, `/apps/${APP.id}/events`);
    assert.equal(verifyApiRequest(APP, trigger), undefined);
    const get = await send(() => client.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } }));
    assert.equal(get.body, '');
    assert.equal(verifyApiRequest(APP, get), undefined);
    const terminate = await send(() => client.terminateUserConnections('user@example.com'));
    assert.equal(verifyApiRequest(APP, terminate), undefined);
  });

  it('accepts a query given as URLSearchParams or a record when its values hold no + or %', async () => {
    const get = await send(() => client.get({ path: '/channels/presence-x', params: { info: 'user_count,subscription_count' } }));
    assert.equal(verifyApiRequest(APP, { ...get, query: new URLSearchParams(get.query as string) }), undefined);
    assert.equal(verifyApiRequest(APP, { ...get, query: Object.fromEntries(new URLSearchParams(get.query as string)) }), undefined);
  });

  it('accepts a user id with a space, which the SDK signs raw and fetch sends encoded', async () => {
    const terminate = await send(() => client.terminateUserConnections('ann smith'));
    assert.equal(terminate.path, `/apps/${APP.id}/users/ann%20smith/terminate_connections`);
    assert.equal(verifyApiRequest(APP, terminate), undefined);
  });

  it('accepts a plus read as a space, as a form-encoding PHP client means it', () => {
    const now = Date.now();
    const ts = String(Math.floor(now / 1000));
    const signed = `GET\n/apps/1001/channels\nauth_key=${APP.key}&auth_timestamp=${ts}&auth_version=1.0&filter_by_prefix=a b`;
    const signature = hmacHex(signed);
    const query = `auth_key=${APP.key}&auth_timestamp=${ts}&auth_version=1.0&filter_by_prefix=a+b&auth_signature=${signature}`;
    assert.equal(verifyApiRequest(APP, { method: 'GET', path: '/apps/1001/channels', query, body: '', now }), undefined);
  });

  it('accepts values percent-encoded on the wire (RFC 3986, as Guzzle sends the PHP SDK\'s query), signed unencoded', () => {
    const now = Date.now();
    const ts = String(Math.floor(now / 1000));
    const signed = `GET\n/apps/1001/channels/presence-a\nauth_key=${APP.key}&auth_timestamp=${ts}&auth_version=1.0&info=user_count,subscription_count`;
    const query = `auth_key=${APP.key}&auth_timestamp=${ts}&auth_version=1.0&info=user_count%2Csubscription_count&auth_signature=${hmacHex(signed)}`;
    assert.equal(verifyApiRequest(APP, { method: 'GET', path: '/apps/1001/channels/presence-a', query, body: '', now }), undefined);
  });

  it('refuses each tampered part, with 401 or 400 and no signature in the message', async () => {
    const good = await send(() => client.trigger('private-a', 'e', { n: 1 }));
    const q = new URLSearchParams(good.query as string);
    const signature = q.get('auth_signature')!;
    // The clock as the SDK signed, not when its request was read (a second later on a loaded machine): the window's edges are exact.
    const signedAt = Number(q.get('auth_timestamp')) * 1000;
    const withParam = (name: string, value: string | undefined) => {
      const copy = new URLSearchParams(q);
      if (value === undefined) copy.delete(name);
      else copy.set(name, value);
      return copy.toString();
    };
    const cases: Array<[string, Partial<ApiRequest>, 400 | 401]> = [
      ['other method', { method: 'PUT' }, 401],
      ['other path', { path: '/apps/1002/events' }, 401],
      ['other body', { body: good.body.replace('private-a', 'private-b') }, 401],
      ['empty body with its md5 still given', { body: '' }, 401],
      ['body without body_md5', { query: withParam('body_md5', undefined) }, 401],
      ['body_md5 of another body', { query: withParam('body_md5', md5Hex('{}')) }, 401],
      ['body_md5 not hex', { query: withParam('body_md5', 'x'.repeat(32)) }, 401],
      ['added parameter', { query: `${good.query}&info=user_count` }, 401],
      ['other secret', {}, 401],
      ['wrong key', { query: withParam('auth_key', 'other-key') }, 401],
      ['no signature', { query: withParam('auth_signature', undefined) }, 401],
      ['truncated signature', { query: withParam('auth_signature', signature.slice(0, -1)) }, 401],
      ['non-hex signature', { query: withParam('auth_signature', 'q'.repeat(64)) }, 401],
      ['signature of another request', { query: withParam('auth_signature', signWebhook(APP, 'x')) }, 401],
      ['old timestamp', { now: signedAt + 601_000 }, 401],
      ['future timestamp', { now: signedAt - 601_000 }, 401],
      ['timestamp not a number', { query: withParam('auth_timestamp', 'soon') }, 400],
      ['other version', { query: withParam('auth_version', '2.0') }, 400],
      ['repeated parameter', { query: `${good.query}&auth_key=${APP.key}` }, 400],
    ];
    for (const [name, change, status] of cases) {
      const refusal = verifyApiRequest(name === 'other secret' ? OTHER : APP, { ...good, ...change });
      assert.equal(refusal?.status, status, name);
      assert.ok(!refusal!.message.includes(signature) && !refusal!.message.includes(APP.secret), name);
    }
    // Within the window on either side is fine.
    assert.equal(verifyApiRequest(APP, { ...good, now: signedAt + 590_000 }), undefined);
    assert.equal(verifyApiRequest(APP, { ...good, now: signedAt - 590_000 }), undefined);
  });

  it('needs no body_md5 for a request without a body', () => {
    const now = Date.now();
    const query = client.createSignedQueryString({ method: 'GET', path: '/apps/1001/channels', params: { info: 'user_count' } });
    assert.ok(!query.includes('body_md5'));
    assert.equal(verifyApiRequest(APP, { method: 'GET', path: '/apps/1001/channels', query, body: '', now }), undefined);
    assert.equal(verifyApiRequest(APP, { method: 'get', path: '/apps/1001/channels', query, body: '', now }), undefined);
  });
});
