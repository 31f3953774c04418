/**
 * The bridge's routes: the PHP-facing API (bridge/app.ts) and the ops pages
 * (ops.ts), on the public app or, with `"bridge"` in the config, on an app
 * of their own at their own address.
 */
import { Hono } from 'hono';
import { bridgeApi } from './bridge/app.ts';
import type { BridgeGateway } from './bridge/gateway.ts';
import { finish } from './errors.ts';
import { opsApp } from './ops.ts';
import type { OpsGateway } from './ops.ts';
import type { BridgeOptions } from './options.ts';

/** What the bridge and the ops pages need of the gateway. */
export type BridgeAppGateway = BridgeGateway & OpsGateway;

/** The bridge alone, for its own address. */
export function createBridgeApp(gateway: BridgeAppGateway, options: BridgeOptions): Hono {
  const app = new Hono();
  mountBridge(app, gateway, options);
  finish(app, options.log);
  return app;
}

export function mountBridge(app: Hono, gateway: BridgeAppGateway, options: BridgeOptions): void {
  app.route('/', bridgeApi(gateway, options));
  app.route('/', opsApp(gateway, options));
}
