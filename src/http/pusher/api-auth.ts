/**
 * What every Pusher API request passes before its route: the app its path
 * names, the signature of its query, the body cap, and the body against the
 * MD5 it signed. The route then finds the app and the body (read once, as
 * signed) on the context.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { PusherApp } from '../../config/config.ts';
import type { ThrottledLine } from '../../ops/throttled-log.ts';
import { verifyApiBody, verifyApiQuery } from '../../protocols/pusher/signatures.ts';
import type { PusherApiGateway } from './gateway.ts';

/** `pusherPath`: the request's path as its signature covered it (see SignedQuery). */
export type PusherEnv = { Variables: { pusherApp: PusherApp; pusherBody: string; pusherPath: string } };

export type RefusalStatus = 400 | 401 | 403 | 404 | 413;

/** A configured app id is at most this long (pusher-schema.ts), so this much tells a made-up one from each. */
const MAX_APP_ID = 100;
const MAX_PATH = 200;

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}…` : text);

/** Pusher answers errors in plain text, which pusher-http-node puts in its RequestError's `body`. */
export function refuse(c: Context, status: RefusalStatus, message: string, log?: ThrottledLine, hint?: string): Response {
  // Neither holds the secret or a signature. A 401 is at warn: it is a sender with the wrong secret or clock, which its owner needs to hear of.
  // Anyone may send these as fast as they like: per status and app, a few are written and the rest summed. A 404's app
  // may be one the sender made up, so not a key of its own.
  // The id and path are the caller's (unsigned, for a 404 or 401), as long as the runtime lets a URL be: cut short.
  const app = clip(c.req.param('appId') ?? '', MAX_APP_ID);
  const key = status === 404 ? '404' : `${status}\0${app}`;
  log?.(key, status === 401 ? 'warn' : 'debug', 'pusher api refused', { app, method: c.req.method, path: clip(c.req.path, MAX_PATH), status, reason: message }, { app: status === 404 ? undefined : app, status });
  return c.text(hint ? `${message}: ${hint}` : message, status);
}

/** The path and query as they came on the wire: the signature covers them so, before any decoding. */
function rawTarget(url: string): { path: string; query: string } {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const hash = url.indexOf('#');
  const end = hash < 0 ? url.length : hash;
  const q = url.indexOf('?');
  if (q < 0 || q > end) return { path: url.slice(start, end), query: '' };
  return { path: url.slice(start, q), query: url.slice(q + 1, end) };
}

export interface AuthOptions {
  log?: ThrottledLine;
  /** A function is read per request, so a reload's new limit applies at once. */
  maxBody: number | (() => number);
  now: () => number;
}

/**
 * The app (404 when unknown), the query's signature (401 or 400), the body cap
 * (413), then the body's MD5 (401). The signature comes before the body: an
 * unsigned peer would otherwise have the gateway wait for, and hold, up to
 * maxBody of a body it may trickle for as long as it likes.
 */
export function pusherAuth(gateway: PusherApiGateway, options: AuthOptions): MiddlewareHandler<PusherEnv, '/apps/:appId/*'> {
  const limit = options.maxBody;
  return async (c, next) => {
    const app = gateway.app(c.req.param('appId'));
    // Not the id: what an unsigned caller sent is not echoed back to it.
    if (!app) return refuse(c, 404, 'unknown app', options.log);
    const { path, query } = rawTarget(c.req.url);
    const signed = verifyApiQuery(app, { method: c.req.method, path, query, now: options.now() });
    if ('status' in signed) return refuse(c, signed.status, signed.message, options.log, signed.hint);
    const maxSize = typeof limit === 'number' ? limit : limit();
    const cap = bodyLimit({ maxSize, onError: (c) => refuse(c, 413, `the body is larger than the limit of ${maxSize} bytes`, options.log) });
    return cap(c, async () => {
      const body = await c.req.text();
      const refusal = verifyApiBody(signed, body);
      if (refusal) {
        c.res = refuse(c, refusal.status, refusal.message, options.log, refusal.hint);
        return;
      }
      c.set('pusherApp', app);
      c.set('pusherBody', body);
      c.set('pusherPath', signed.path);
      await next();
    });
  };
}
