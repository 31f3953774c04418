/**
 * The access middleware of the bridge and of the ops pages: trusted callers
 * pass, the others get 401 with the way in (and a log line, since a refused
 * bridge call is a PHP app misconfigured or someone probing).
 */
import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../ops/log.ts';
import { throttledLog } from '../ops/throttled-log.ts';
import type { Trusted } from './options.ts';

/**
 * `bearer`: the bridge, which moves data to every user. `basic`: the
 * read-only monitoring pages, which also take the secret as a Basic password
 * because that is what a browser asks for and Prometheus's basic_auth sends
 * (never on the bridge: a browser replays cached Basic credentials on
 * requests another site makes it send).
 */
export function accessGuard(trusted: Trusted, log: Logger, kind: 'bearer' | 'basic'): MiddlewareHandler {
  const basic = kind === 'basic';
  // Anyone who reaches the port (a web page too) calls as often as it likes: per reason, a few lines and then a sum.
  // The reasons are a fixed few (Refusal), so the keys are too; the cap is only a backstop.
  const limited = throttledLog(log, { keys: 8 });
  return async (c, next) => {
    const trust = trusted(c, basic);
    if (trust.ok) return next();
    const reason = `${trust.reason} and no valid ${basic ? '' : 'bearer '}secret`;
    limited(reason, 'warn', 'bridge refused', { path: c.req.path, reason }, { reason });
    if (basic) {
      c.header('WWW-Authenticate', 'Basic realm="wsgate", charset="UTF-8"');
      return c.json({ status: 'error', message: 'this page needs Authorization: Bearer <secret> (or the secret as the Basic password) when opened from another machine or through a proxy' }, 401);
    }
    c.header('WWW-Authenticate', 'Bearer');
    return c.json({ status: 'error', message: 'this endpoint needs Authorization: Bearer <secret> when called from another machine, through a proxy, or from a web page' }, 401);
  };
}
