/**
 * A Pusher client's upgrade at /app/{key}: its app by key, the protocol
 * version it speaks, the app's origins, a place among the sockets; then the
 * runtime's upgrade with a PusherConnection. Pusher's clients act on close
 * codes, not on HTTP statuses, so what they must act on (no such app, a
 * protocol they must not retry, an app over capacity) is said the Pusher
 * way: the socket opens, gets a pusher:error and is closed with its code.
 */
import type { Context } from 'hono';
import type { UpgradeWebSocket, WSContext, WSEvents } from 'hono/ws';
import { originAllowed } from '../access.ts';
import type { Ticket } from '../../core/admissions.ts';
import type { Authorized } from '../../core/client.ts';
import type { Connections } from '../../core/connections.ts';
import type { UpgradeRefusal } from '../../core/events.ts';
import type { Route } from '../../core/route.ts';
import { requestAuthority } from '../../config/hosts.ts';
import { PusherConnection } from '../../protocols/pusher/connection.ts';
import { PUSHER_CLOSE, pusherError } from '../../protocols/pusher/frames.ts';
import type { PusherFront } from '../../protocols/pusher/front.ts';
import { PUSHER } from '../../protocols/pusher/protocol.ts';
import { pusherIdText } from '../../core/socket-ids.ts';
import type { Hub } from '../../core/hub.ts';

export interface PusherUpgradeGateway extends Connections {
  route(host: string): Route | undefined;
  /** Places for sockets, which their ids spell. */
  readonly hub: Pick<Hub, 'reservations'>;
  /** One string per host, as the hub holds it. */
  hostName(host: string): string;
}

/** The protocol versions whose frames these are: pusher-js 8 speaks 7; 5 and 6 differ in nothing this server sends. */
const PROTOCOLS = new Set(['5', '6', '7']);


/**
 * Opens the socket only to say, the Pusher way, why it cannot stay. While it
 * is open it holds a place among the sockets, and a peer that never answers
 * the close is dropped after a second, not at the runtime's close timeout
 * (30 s on Node): else many such peers could hold sockets beyond every limit.
 * Deno has no way to drop one; there the place it holds is the bound.
 */
function closeWith(gateway: Connections, host: string, code: number, message: string): WSEvents<unknown> {
  let ticket: Ticket | undefined;
  return {
    onOpen(_event: Event, ws: WSContext<unknown>) {
      // Full since the upgrade was let through: refused all the same, without a place.
      const admitted = gateway.admit(host, undefined);
      if ('ticket' in admitted) ticket = admitted.ticket;
      ws.send(pusherError(code, message));
      gateway.closeRefused(ws.raw, code, message);
    },
    onClose() {
      ticket?.release();
    },
  };
}

export function pusherUpgrade(gateway: PusherUpgradeGateway, front: PusherFront, upgradeWebSocket: UpgradeWebSocket<unknown>): (c: Context, key: string) => Promise<Response> {
  /**
   * Refused the Pusher way, with a socket that lives a second at most; but
   * when the gateway's sockets are full, not even that: a 503 before any is
   * accepted, as for every other upgrade.
   */
  const refuseOpen = (c: Context, host: string, code: number, message: string, refusal?: UpgradeRefusal): Response | Promise<Response> => {
    const admitted = gateway.admit(host, undefined);
    if ('refused' in admitted) {
      gateway.refused({ host, kind: 'limit', reason: admitted.refused.reason, level: 'warn' });
      return c.json({ status: 'error', message: admitted.refused.reason }, admitted.refused.status);
    }
    admitted.ticket.release();
    if (refusal) gateway.refused(refusal);
    return upgradeWebSocket(c, closeWith(gateway, host, code, message));
  };
  return async (c, key) => {
    const app = front.byKey(key);
    if (!app) {
      const refusal: UpgradeRefusal = { host: '', shown: JSON.stringify(key.slice(0, 100)), kind: 'pusher_app', reason: 'no Pusher app has this key', level: 'info' };
      return refuseOpen(c, '', PUSHER_CLOSE.noSuchApp, `App key ${key.slice(0, 100)} does not exist`, refusal);
    }
    const host = app.host;
    const version = c.req.query('protocol');
    if (version === undefined) return refuseOpen(c, host, PUSHER_CLOSE.noProtocol, 'No protocol version supplied');
    if (!PROTOCOLS.has(version)) return refuseOpen(c, host, PUSHER_CLOSE.unsupportedProtocol, `Unsupported protocol version ${version.slice(0, 20)}`);
    const origin = c.req.header('origin');
    if (app.origins && !originAllowed(origin, { host: requestAuthority(undefined, c.req.header('host'))?.host ?? '' }, app.origins)) {
      gateway.refused({ host, origin: origin!.slice(0, 200), kind: 'origin', reason: 'origin not allowed', level: 'warn' });
      return c.json({ status: 'error', message: 'origin not allowed' }, 403);
    }
    if (app.maxConnections !== undefined && front.count(app) >= app.maxConnections) {
      const refusal: UpgradeRefusal = { host, kind: 'limit', reason: `the app holds its maximum of ${app.maxConnections} connections`, level: 'warn' };
      return refuseOpen(c, host, PUSHER_CLOSE.overCapacity, 'Over capacity', refusal);
    }
    const route = gateway.route(host);
    if (!route) {
      gateway.refused({ host, kind: 'host_not_configured', reason: `the app's host ${host} is not configured`, level: 'warn' });
      return c.json({ status: 'error', message: 'the app is not served here' }, 503);
    }
    const serial = gateway.hub.reservations.reserve();
    if (serial === undefined) {
      gateway.refused({ host, kind: 'limit', reason: 'every socket place is taken', level: 'warn' });
      return c.json({ status: 'error', message: 'the gateway is full; try again later' }, 503);
    }
    const id = pusherIdText(serial);
    // A Pusher connection has no token: it is its own, so per-token limits never bind it.
    const admitted = gateway.admit(host, id);
    if ('refused' in admitted) {
      gateway.hub.reservations.unreserve(serial);
      gateway.refused({ host, kind: 'limit', reason: admitted.refused.reason, level: 'warn' });
      return c.json({ status: 'error', message: admitted.refused.reason }, admitted.refused.status);
    }
    admitted.ticket.release();
    gateway.hub.reservations.handOver(serial);
    const authorized: Authorized = { id, serial, host: gateway.hostName(host), token: id, tokenHash: '', route, client: { protocol: PUSHER } };
    return upgradeWebSocket(c, new PusherConnection(gateway, front, authorized, app));
  };
}
