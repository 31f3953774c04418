/**
 * What every Pusher API request passes before its route: the app its path
 * names, the body cap, and the request's signature. The route then finds the
 * app and the body (read once, as signed) on the context.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { PusherApp } from '../../config/config.ts';
import type { Logger } from '../../ops/log.ts';
import { verifyApiRequest } from '../../protocols/pusher/signatures.ts';
import type { PusherApiGateway } from './gateway.ts';

export type PusherEnv = { Variables: { pusherApp: PusherApp; pusherBody: string } };

export type RefusalStatus = 400 | 401 | 403 | 404 | 413;

/** Pusher answers errors in plain text, which pusher-http-node puts in its RequestError's `body`. */
export function refuse(c: Context, status: RefusalStatus, message: string, log?: Logger, hint?: string): Response {
  // Neither holds the secret or a signature. A 401 is at warn: it is a sender with the wrong secret or clock, which its owner needs to hear of.
  log?.[status === 401 ? 'warn' : 'debug']('pusher api refused', { app: c.req.param('appId'), method: c.req.method, path: c.req.path, status, reason: message });
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
  log?: Logger;
  /** A function is read per request, so a reload's new limit applies at once. */
  maxBody: number | (() => number);
  now: () => number;
}

/** The app (404 when unknown), then the body cap (413), then the signature (401 or 400). */
export function pusherAuth(gateway: PusherApiGateway, options: AuthOptions): MiddlewareHandler<PusherEnv, '/apps/:appId/*'> {
  const limit = options.maxBody;
  return async (c, next) => {
    const app = gateway.app(c.req.param('appId'));
    if (!app) return refuse(c, 404, `unknown app id ${JSON.stringify(c.req.param('appId'))}`, options.log);
    const maxSize = typeof limit === 'number' ? limit : limit();
    const cap = bodyLimit({ maxSize, onError: (c) => refuse(c, 413, `the body is larger than the limit of ${maxSize} bytes`, options.log) });
    return cap(c, async () => {
      const body = await c.req.text();
      const { path, query } = rawTarget(c.req.url);
      const refusal = verifyApiRequest(app, { method: c.req.method, path, query, body, now: options.now() });
      if (refusal) {
        c.res = refuse(c, refusal.status, refusal.message, options.log, refusal.hint);
        return;
      }
      c.set('pusherApp', app);
      c.set('pusherBody', body);
      await next();
    });
  };
}
