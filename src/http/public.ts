/**
 * The public port's Hono app: upgrades on the configured paths, the browser
 * client, the bridge and ops pages (unless the bridge has an address of its
 * own), the demo, and the answers for everything else.
 */
import { handshakeProblem } from './handshake.ts';
import { Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import { mountAssets } from './assets.ts';
import { mountBridge } from './bridge-app.ts';
import type { BridgeAppGateway } from './bridge-app.ts';
import { finish } from './errors.ts';
import { plainHealth } from './ops.ts';
import type { BridgeOptions } from './options.ts';
import { upgradeHandler } from './upgrade.ts';
import type { UpgradeGateway } from './upgrade.ts';
import type { PathMatch } from '../config/paths.ts';
import { pusherUpgrade as pusherUpgradeHandler } from './pusher/upgrade.ts';
import type { PusherUpgradeGateway } from './pusher/upgrade.ts';
import type { PusherFront } from '../protocols/pusher/front.ts';
import { pusherApi } from './pusher/api.ts';
import type { PusherApiGateway } from './pusher/gateway.ts';
import type { Runtime } from '../runtime/types.ts';

export interface ServerOptions extends BridgeOptions {
  /** Whether this app also serves the bridge (false when it has its own address). */
  bridgeHere: boolean;
  upgradeWebSocket: UpgradeWebSocket<unknown>;
  /** Tells when an upgrade's client goes away while it waits for auth (the runtime's own way). */
  watchUpgrade: Runtime['watchUpgrade'];
  /** Extra routes (the demo page) mounted before the 404. */
  extra?: (app: Hono) => void;
}

export interface PublicGateway extends UpgradeGateway, BridgeAppGateway, PusherUpgradeGateway {
  upgradePath(path: string): PathMatch | undefined;
  isUpgradeOnlyPath(path: string): boolean;
  readonly pusher: PusherFront;
  readonly pusherApi: PusherApiGateway;
  readonly maxBody: number;
}

/** Where pusher-js and Laravel Echo connect: /app/{key}. */
const PUSHER_PATH = /^\/app\/[^/]+$/;

/** The key in /app/{key}; a malformed escape is a key no app has. */
function appKeyOf(path: string): string {
  try {
    return decodeURIComponent(path.slice('/app/'.length));
  } catch {
    return path.slice('/app/'.length);
  }
}

/**
 * A WebSocket upgrade names it in both headers (RFC 6455 4.2.1). Node hands
 * a request with `Upgrade: websocket` but no `Connection: upgrade` to the
 * app as a plain request, where node-ws would wait for an upgrade that never
 * comes and keep the request for good: such a request is not an upgrade.
 */
export function isWebSocketUpgrade(upgrade: string | undefined, connection: string | undefined): boolean {
  if (upgrade?.trim().toLowerCase() !== 'websocket') return false;
  return (connection ?? '').split(',').some((token) => token.trim().toLowerCase() === 'upgrade');
}

export function createApp(gateway: PublicGateway, options: ServerOptions): Hono {
  const app = new Hono();
  const upgrade = upgradeHandler(gateway, options);
  const pusherUpgrade = pusherUpgradeHandler(gateway, gateway.pusher, options.upgradeWebSocket);
  app.use('*', async (c, next) => {
    const wantsUpgrade = isWebSocketUpgrade(c.req.header('upgrade'), c.req.header('connection'));
    const pusherPath = wantsUpgrade && PUSHER_PATH.test(c.req.path) && gateway.pusher.serving;
    const path = wantsUpgrade && !pusherPath ? gateway.upgradePath(c.req.path) : undefined;
    if ((pusherPath || path) && options.stopping?.()) {
      // Cheap, and before any hook: the sockets it has are closing, and a client that tries again reaches another node.
      gateway.refused({ host: '', shown: (c.req.header('host') ?? '').slice(0, 100), kind: 'stopping', reason: 'the gateway is stopping', level: 'info' });
      return c.json({ status: 'error', message: 'the gateway is stopping: connect again shortly' }, 503, { 'retry-after': '1' });
    }
    if (pusherPath || path) {
      const problem = handshakeProblem((name) => c.req.header(name), c.req.method);
      if (problem) {
        gateway.refused({ host: '', shown: JSON.stringify((c.req.header('host') ?? '').slice(0, 100)), kind: 'bad_request', reason: problem.message, level: 'info' });
        return c.json({ status: 'error', message: problem.message }, problem.status, problem.headers);
      }
    }
    if (pusherPath) return pusherUpgrade(c, appKeyOf(c.req.path));
    if (path) return upgrade(c, path);
    if (c.req.method === 'GET' && gateway.isUpgradeOnlyPath(c.req.path)) {
      return c.json({ status: 'error', message: 'this path takes WebSocket upgrades only' }, 426);
    }
    return next();
  });
  mountAssets(app);
  // Signed by the app's secret, so it needs no guard of the bridge's: Laravel and the Pusher SDKs post here.
  app.route('/', pusherApi(gateway.pusherApi, { log: options.log, maxBody: () => gateway.maxBody }));
  if (options.bridgeHere) mountBridge(app, gateway, options);
  else app.get('/health', (c) => plainHealth(c, options.stopping));
  options.extra?.(app);
  finish(app, options.log);
  return app;
}
