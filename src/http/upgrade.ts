/**
 * The upgrade, with auth before accept: the Host and Origin checks, the
 * protocol the client asks for, the token, a place among the sockets, the
 * auth hook; then the runtime's upgrade with the protocol's socket events.
 * The runtime adapter supplies `upgradeWebSocket`; this module does not know
 * which runtime.
 */
import type { Context } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import { cameOverTls, originAllowed } from './access.ts';
import { tokenFromCookie } from './cookies.ts';
import type { Authorized, ClientOptions } from '../core/client.ts';
import type { Connections } from '../core/connections.ts';
import type { Refusal } from '../core/admission.ts';
import type { Route } from '../core/route.ts';
import { requestAuthority } from '../config/hosts.ts';
import { tokenProblem } from '../core/targets.ts';
import { joinableProblem } from '../core/streams.ts';
import type { PathMatch } from '../config/paths.ts';
import { parseRecover } from '../protocols/wsgate/control.ts';
import { firstFrameAuth } from '../protocols/wsgate/first-frame-auth.ts';
import { AWARE, PLAIN } from '../protocols/wsgate/protocol.ts';
import { clientEventsOf } from '../protocols/wsgate/socket-events.ts';
import type { Runtime } from '../runtime/types.ts';

export interface UpgradeOptions {
  upgradeWebSocket: UpgradeWebSocket<unknown>;
  /** Tells when an upgrade's client goes away while it waits for auth (the runtime's own way). */
  watchUpgrade: Runtime['watchUpgrade'];
}

/** What the upgrade needs of the gateway besides the connections: the route of a host. */
export interface UpgradeGateway extends Connections {
  route(host: string): Route | undefined;
}

/**
 * Whether the socket is known to be TLS: this listener's own, or a proxy's
 * word. Unknown is not "plain": a proxy may end TLS without saying so.
 */
function isTls(c: Context, forwardedScheme: 'http' | 'https' | undefined): boolean {
  if (cameOverTls(c) || forwardedScheme === 'https') return true;
  const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  return proto === 'https' || proto === 'wss';
}

const unauthorized = (c: Context) => c.text('Unauthorized', 401);

/** The protocol an upgrade asks for: `?wsgate=1` opts a client in to wsgate's own frames, `recover` says where it stopped (docs/PROTOCOL.md). */
function clientOptions(c: Context): ClientOptions | { problem: string } {
  if (c.req.query('wsgate') !== '1') return { protocol: PLAIN };
  const recover = parseRecover(c.req.query('recover'));
  return 'problem' in recover ? recover : { protocol: AWARE, recover: recover.positions };
}

/** The handler of an upgrade on a path that takes them. */
export function upgradeHandler(gateway: UpgradeGateway, options: UpgradeOptions): (c: Context, path: PathMatch) => Promise<Response> {
  const { upgradeWebSocket } = options;
  const ClientEvents = clientEventsOf(gateway);
  const refuseFull = (c: Context, host: string, full: Refusal) => {
    gateway.refused({ host, kind: 'limit', reason: full.reason, level: 'warn' });
    return c.json({ status: 'error', message: full.reason }, full.status);
  };

  const upgrade = async (c: Context, path: PathMatch): Promise<Response> => {
    const forwardedHost = c.req.header('x-forwarded-host');
    const authority = requestAuthority(forwardedHost, c.req.header('host'));
    if (!authority?.host) {
      gateway.refused({ host: '', shown: JSON.stringify((forwardedHost || c.req.header('host') || '').slice(0, 100)), kind: 'bad_host', reason: 'bad Host header', level: 'info' });
      return c.json({ status: 'error', message: 'bad Host header' }, 400);
    }
    const host = authority.host;
    const route = gateway.route(host);
    // Another site's page must not open sockets with this site's cookie.
    const origin = c.req.header('origin');
    if (!originAllowed(origin, { host, port: authority.port, scheme: isTls(c, authority.scheme) ? 'https' : undefined }, route?.config.origins)) {
      gateway.refused({ host, origin: origin!.slice(0, 200), kind: 'origin', reason: 'origin not allowed', level: 'warn' });
      return c.json({ status: 'error', message: 'origin not allowed' }, 403);
    }
    const client = clientOptions(c);
    if ('problem' in client) {
      gateway.refused({ host, kind: 'bad_request', reason: client.problem, level: 'info' });
      return c.json({ status: 'error', message: client.problem }, 400);
    }
    // The path's parameters come from the client's URL: the channels they name must be names the rest of the gateway takes.
    const badChannel = path.channels.map((channel) => joinableProblem(channel)).find((problem) => problem !== undefined);
    if (badChannel) {
      gateway.refused({ host, kind: 'bad_request', reason: `the path names a bad channel: ${badChannel}`, level: 'info' });
      return c.json({ status: 'error', message: `the path names a bad channel: ${badChannel}` }, 400);
    }
    const from = route?.config.tokenFrom ?? 'cookie';
    if (route && from === 'message') {
      // The token comes in the first frame, so the socket opens before auth can run. A full gateway says so now,
      // cheaply; the socket takes its place when it opens (an upgrade whose client vanishes may never open).
      const admitted = gateway.admit(host, undefined);
      if ('refused' in admitted) return refuseFull(c, host, admitted.refused);
      admitted.ticket.release();
      return upgradeWebSocket(c, firstFrameAuth(gateway, host, route.config.authTimeoutMs ?? 10_000, path, client));
    }
    const token = from === 'query' ? (new URL(c.req.url).searchParams.get(route?.config.tokenName ?? 'token') ?? undefined) : tokenFromCookie(c.req.header('cookie'), route?.config.tokenName);
    if (!token) {
      gateway.refused({ host, kind: 'no_token', reason: from === 'query' ? 'no token parameter' : 'no token cookie', level: 'info' });
      return unauthorized(c);
    }
    const badToken = tokenProblem(token);
    if (badToken) {
      gateway.refused({ host, kind: 'bad_token', reason: badToken, level: 'info' });
      return unauthorized(c);
    }
    const admitted = gateway.admit(host, token);
    if ('refused' in admitted) return refuseFull(c, host, admitted.refused);
    // The upgrade's place is held while auth runs; a client that goes away meanwhile cancels its hook,
    // and gives its place back at once: the next upgrade may be waiting for it (Admission's beforeFull).
    const watch = options.watchUpgrade(c);
    watch.addEventListener('abort', () => admitted.ticket.release());
    let authorized: Authorized | Refusal;
    try {
      authorized = await gateway.authorize(host, token, path, client, watch);
    } finally {
      watch.done();
      admitted.ticket.release();
    }
    if ('status' in authorized) return authorized.status === 401 ? unauthorized(c) : c.json({ status: 'error', message: authorized.reason }, authorized.status);
    return upgradeWebSocket(c, new ClientEvents(authorized));
  };

  return upgrade;
}
