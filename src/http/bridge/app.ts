/**
 * The PHP-facing API as one Hono sub-app: /message, /subscribe,
 * /unsubscribe, /presence, /history, /disconnect, /dispatch and /reload,
 * all behind one access check.
 */
import { Hono } from 'hono';
import { accessGuard } from '../guard.ts';
import type { BridgeOptions } from '../options.ts';
import { castRoutes } from './casts.ts';
import { channelRoutes } from './channels.ts';
import { dispatchRoutes } from './dispatch.ts';
import type { BridgeGateway } from './gateway.ts';

/**
 * The paths the access check covers. It is mounted on the public app at `/`,
 * where `use('*')` would guard every path of that app, so it names these;
 * `(?:…)` keeps Hono's pattern from matching `/messages` too.
 */
const PATHS = ['message', 'subscribe', 'unsubscribe', 'presence', 'history', 'disconnect', 'dispatch', 'reload'];

export function bridgeApi(gateway: BridgeGateway, options: Pick<BridgeOptions, 'trusted' | 'log' | 'dispatcher' | 'reload'>): Hono {
  return new Hono()
    .use(`/:bridge{(?:${PATHS.join('|')})}`, accessGuard(options.trusted, options.log, 'bearer'))
    .route('/', castRoutes(gateway))
    .route('/', channelRoutes(gateway))
    .route('/', dispatchRoutes(gateway, options.dispatcher, options.log))
    .post('/reload', async (c) => {
      const result = await options.reload();
      return result.ok ? c.json({ status: 'ok', hosts: result.hosts }) : c.json({ status: 'error', message: 'the config has errors; nothing changed', problems: result.problems }, 400);
    });
}
