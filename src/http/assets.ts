/**
 * The browser client, served by every gateway from inside itself:
 * /wsgate.js (a classic script defining `wsgate`), /wsgate.mjs (an ES
 * module) and /wsgate.d.ts (its types). Built from src/client/wsgate.ts by
 * scripts/embed-client.mjs.
 */
import type { Hono } from 'hono';
import { WSGATE_DTS, WSGATE_JS, WSGATE_MJS } from '../client/bundle.ts';
import { sha256Hex } from '../core/ids.ts';

const FILES: Record<string, { body: string; type: string }> = {
  '/wsgate.js': { body: WSGATE_JS, type: 'text/javascript; charset=utf-8' },
  '/wsgate.mjs': { body: WSGATE_MJS, type: 'text/javascript; charset=utf-8' },
  '/wsgate.d.ts': { body: WSGATE_DTS, type: 'application/typescript; charset=utf-8' },
};

export function mountAssets(app: Hono): void {
  for (const [path, file] of Object.entries(FILES)) {
    // Pages may cache it, but must ask again: a new wsgate may bring a new client.
    const etag = `"${sha256Hex(file.body).slice(0, 16)}"`;
    app.get(path, (c) => {
      c.header('ETag', etag);
      c.header('Cache-Control', 'no-cache');
      if (c.req.header('if-none-match') === etag) return c.body(null, 304);
      c.header('Content-Type', file.type);
      return c.body(file.body);
    });
  }
}
