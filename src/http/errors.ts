/** The JSON answers of an app for a path no route takes and for a handler that threw. */
import type { Hono } from 'hono';
import type { Logger } from '../ops/log.ts';

export function finish(app: Hono, log: Logger): void {
  app.notFound((c) => c.json({ status: 'error', message: 'not found' }, 404));
  app.onError((error, c) => {
    // Runtimes that build the request URL from a malformed Host throw here.
    if (error instanceof TypeError && /invalid url/i.test(error.message)) {
      return c.json({ status: 'error', message: 'bad request URL or Host header' }, 400);
    }
    log.error('request failed', { path: c.req.path, error: error.message });
    return c.json({ status: 'error', message: 'internal error' }, 500);
  });
}
