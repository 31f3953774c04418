/**
 * The signatures of the Pusher protocol, as its SDKs make them: a channel's
 * subscription (`key:hmac`), a user's sign-in, an HTTP API request and a
 * webhook's body. All are HMAC-SHA256 with the app's secret, in lowercase hex.
 *
 * Every check compares in constant time and answers false (or a refusal) for
 * anything malformed: a verifier that throws on odd input would be a way to
 * tell the checks apart from outside.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { PusherApp } from '../../config/config.ts';

/** The part of an app the signatures need. */
export type SigningApp = Pick<PusherApp, 'key' | 'secret'>;

const HEX_SHA256 = /^[0-9a-f]{64}$/i;
const HEX_MD5 = /^[0-9a-f]{32}$/i;

const hmac = (secret: string, text: string) => createHmac('sha256', secret).update(text, 'utf8').digest('hex');

/** Whether `given` is the hex digest `expected`; false for anything not hex of the right length. */
function sameHex(expected: string, given: string, shape: RegExp): boolean {
  if (!shape.test(given)) return false;
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(given, 'hex'));
}

/** `key:signature`, checked against the app's key and the signature of `text`. */
function verifyAuth(app: SigningApp, text: string, auth: unknown): boolean {
  if (typeof auth !== 'string') return false;
  const colon = auth.indexOf(':');
  if (colon < 0) return false;
  // The key is public; only the signature needs a constant-time comparison. Both are computed, so a wrong key takes as long as a wrong signature.
  const keyMatches = auth.slice(0, colon) === app.key;
  const signatureMatches = sameHex(hmac(app.secret, text), auth.slice(colon + 1), HEX_SHA256);
  return keyMatches && signatureMatches;
}

const channelText = (socketId: string, channel: string, channelData?: string) => (channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`);

/** The `auth` a private or presence subscription carries: `key:hex`. `channelData` is the presence member's JSON text, as sent. */
export function signChannel(app: SigningApp, socketId: string, channel: string, channelData?: string): string {
  return `${app.key}:${hmac(app.secret, channelText(socketId, channel, channelData))}`;
}

export function verifyChannel(app: SigningApp, socketId: string, channel: string, auth: unknown, channelData?: string): boolean {
  return verifyAuth(app, channelText(socketId, channel, channelData), auth);
}

const userText = (socketId: string, userData: string) => `${socketId}::user::${userData}`;

/** The `auth` of a `pusher:signin`, over the user_data JSON text as sent. */
export function signUser(app: SigningApp, socketId: string, userData: string): string {
  return `${app.key}:${hmac(app.secret, userText(socketId, userData))}`;
}

export function verifyUser(app: SigningApp, socketId: string, userData: string, auth: unknown): boolean {
  return verifyAuth(app, userText(socketId, userData), auth);
}

/** The X-Pusher-Signature of a webhook: hex HMAC-SHA256 of the body. */
export function signWebhook(app: SigningApp, body: string): string {
  return hmac(app.secret, body);
}

export const md5Hex = (body: string) => createHash('md5').update(body, 'utf8').digest('hex');

/** How far an API request's auth_timestamp may be from the server's clock (Pusher: 600 s). */
export const API_CLOCK_SKEW_S = 600;

export interface ApiRequest {
  method: string;
  /** The URL's path, as sent (still percent-encoded). */
  path: string;
  /**
   * The query. A string is the URL's raw query text, and the best form: the
   * SDKs sign values unencoded and send them as they are, so it is decoded
   * here in the two ways a client may have meant (see `queryReadings`).
   */
  query: string | URLSearchParams | Record<string, string>;
  body: string;
  /** The server's clock, in ms. */
  now: number;
}

export interface ApiRefusal {
  status: 400 | 401;
  /** What is wrong, short enough for a log line. */
  message: string;
  /** More for the caller's answer only: what the signature should have covered. */
  hint?: string;
}

type Query = Map<string, string>;

const decode = (text: string, plusIsSpace: boolean) => {
  const raw = plusIsSpace ? text.replace(/\+/g, ' ') : text;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
};

/**
 * Pusher signs the names lowercased, and the routes read them as spelled: a
 * name taken in any other case would keep a request's signature while the
 * route misses it (a signed request replayed with `FILTER_BY_PREFIX=` would
 * lose its filter). The SDKs send lowercase names only; any other is refused.
 */
function notLowercase(name: string): ApiRefusal | undefined {
  if (name === name.toLowerCase()) return undefined;
  const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}...` : name);
  return { status: 400, message: `the query parameter name ${shown} is not lowercase: Pusher's query names are lowercase` };
}

/** A raw query read one way; a repeated name is refused, since the signature would cover one value and a reader might take the other. */
function readQuery(text: string, plusIsSpace: boolean): Query | ApiRefusal {
  const query: Query = new Map();
  for (const part of text.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq), plusIsSpace);
    const upper = notLowercase(name);
    if (upper) return upper;
    if (query.has(name)) return { status: 400, message: `the query names ${JSON.stringify(name)} more than once` };
    query.set(name, decode(eq < 0 ? '' : part.slice(eq + 1), plusIsSpace));
  }
  return query;
}

/**
 * The ways a query may have been meant. pusher-http-node sends values as it
 * signed them, so `+` is a plus; a PHP client that form-encodes sends a space
 * as `+`. Both readings need the secret to sign, so accepting either costs no
 * safety.
 */
function queryReadings(query: ApiRequest['query']): Query[] | ApiRefusal {
  if (typeof query === 'string') {
    const text = query.startsWith('?') ? query.slice(1) : query;
    const readings: Query[] = [];
    for (const plusIsSpace of text.includes('+') ? [false, true] : [false]) {
      const read = readQuery(text, plusIsSpace);
      if (!(read instanceof Map)) return read;
      readings.push(read);
    }
    return readings;
  }
  const single: Query = new Map();
  for (const [name, value] of query instanceof URLSearchParams ? query.entries() : Object.entries(query)) {
    const upper = notLowercase(name);
    if (upper) return upper;
    if (single.has(name)) return { status: 400, message: `the query names ${JSON.stringify(name)} more than once` };
    single.set(name, value);
  }
  return [single];
}

/** What is signed: `METHOD\nPATH\n` and every parameter but the signature, sorted by name, as `name=value&...` unencoded. */
export function apiSigningText(method: string, path: string, query: ReadonlyMap<string, string>): string {
  const pairs = [...query].filter(([name]) => name !== 'auth_signature').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${method.toUpperCase()}\n${path}\n${pairs.map(([name, value]) => `${name}=${value}`).join('&')}`;
}

const decodedPath = (path: string) => {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
};

/** What the signature of a request's query lets through: the body's MD5 it signed, checked once the body is read. */
export interface SignedQuery {
  bodyMd5: string | undefined;
  /**
   * The path as the signature covered it: as sent, or percent-decoded (the
   * SDKs sign a user id raw and fetch may encode it). A route reads names in
   * the path from this, so it acts on the bytes the signer named.
   */
  path: string;
}

/**
 * Checks a Pusher HTTP API request's query: the key, version, clock and
 * signature. The body is in the signature only as its body_md5, so this
 * needs no body: an unsigned request is refused before its body is read.
 * The messages name what is wrong, never the expected signature.
 */
export function verifyApiQuery(app: SigningApp, request: Omit<ApiRequest, 'body'>): SignedQuery | ApiRefusal {
  const readings = queryReadings(request.query);
  if (!Array.isArray(readings)) return readings;
  const query = readings[0]!;
  const authKey = query.get('auth_key');
  const timestamp = query.get('auth_timestamp');
  const version = query.get('auth_version');
  const signature = query.get('auth_signature');
  const missing = ['auth_key', 'auth_timestamp', 'auth_version', 'auth_signature'].filter((name) => !query.get(name));
  if (missing.length) return { status: 401, message: `the query lacks ${missing.join(', ')}: sign the request as the Pusher SDKs do` };
  if (authKey !== app.key) return { status: 401, message: 'unknown auth_key for this app' };
  if (version !== '1.0') return { status: 400, message: 'auth_version must be 1.0' };
  if (!/^\d{1,15}$/.test(timestamp!)) return { status: 400, message: 'auth_timestamp must be whole seconds since 1970' };
  const skew = Math.abs(request.now / 1000 - Number(timestamp));
  if (skew > API_CLOCK_SKEW_S) return { status: 401, message: `auth_timestamp is ${Math.round(skew)} s from the server's clock (at most ${API_CLOCK_SKEW_S} s): check the clock of the sender` };
  const paths = [...new Set([request.path, decodedPath(request.path)])];
  let signedPath: string | undefined;
  // Every reading is computed and compared, so the time taken does not say which one came close. The path as sent wins when both match (then they are equal).
  for (const path of paths) {
    for (const reading of readings) if (sameHex(hmac(app.secret, apiSigningText(request.method, path, reading)), signature!, HEX_SHA256)) signedPath ??= path;
  }
  if (signedPath === undefined) return { status: 401, message: 'invalid auth_signature', hint: `expected the hex HMAC-SHA256, with the app's secret, of ${JSON.stringify(apiSigningText(request.method, request.path, query))}` };
  return { bodyMd5: query.get('body_md5'), path: signedPath };
}

/** The body against the body_md5 its request's signature covered. */
export function verifyApiBody(signed: SignedQuery, body: string): ApiRefusal | undefined {
  const md5 = signed.bodyMd5;
  if (body !== '' && md5 === undefined) return { status: 401, message: 'the query lacks body_md5: a request with a body must sign its MD5' };
  if (md5 !== undefined && !sameHex(md5Hex(body), md5, HEX_MD5)) return { status: 401, message: 'body_md5 is not the MD5 of the body' };
  return undefined;
}

/** A whole request, query and body: undefined when it is good, otherwise the answer to give. */
export function verifyApiRequest(app: SigningApp, request: ApiRequest): ApiRefusal | undefined {
  const signed = verifyApiQuery(app, request);
  return 'status' in signed ? signed : verifyApiBody(signed, request.body);
}
