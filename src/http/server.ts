/**
 * The Hono app: routes, and the upgrade with auth before accept. The runtime
 * adapter supplies `upgradeWebSocket`; this module does not know which runtime.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { UpgradeWebSocket, WSContext } from 'hono/ws';
import { mountBridge } from './bridge-app.ts';
import { finish } from './errors.ts';
import type { BridgeDispatcher } from './options.ts';
import { originAllowed } from './access.ts';
import type { Trust } from './access.ts';
import { mountAssets } from './assets.ts';
import { tokenFromCookie } from './cookies.ts';
import { CLOSE_POLICY, CLOSE_TRY_LATER } from '../gateway.ts';
import type { Gateway, Refusal } from '../gateway.ts';
import { Client } from '../core/client.ts';
import type { Authorized, ClientOptions } from '../core/client.ts';
import type { Ticket } from '../core/admissions.ts';
import { parseRecover } from '../protocols/wsgate/control.ts';
import { AWARE, PLAIN } from '../protocols/wsgate/protocol.ts';
import { requestAuthority } from '../config/hosts.ts';
import type { Logger } from '../ops/log.ts';
import type { PathMatch } from '../config/paths.ts';
import type { Runtime } from '../runtime/types.ts';

export interface ServerOptions {
  /** Whether this app also serves the bridge (false when it has its own address). */
  bridgeHere: boolean;
  /**
   * May this request use the bridge? (the bearer secret, or loopback without a
   * proxy, a cross-site page or a foreign Host), and if not, why.
   * `allowBasic`: the read-only monitoring pages also take the secret as a Basic password.
   */
  trusted: (c: Context, allowBasic?: boolean) => Trust;
  upgradeWebSocket: UpgradeWebSocket<unknown>;
  /** Tells when an upgrade's client goes away while it waits for auth (the runtime's own way). */
  watchUpgrade: Runtime['watchUpgrade'];
  dispatcher: BridgeDispatcher;
  log: Logger;
  /** Re-reads the config; answers what POST /reload says. */
  reload: () => Promise<{ ok: true; hosts: string[] } | { ok: false; problems: string[] }>;
  /** Extra routes (the demo page) mounted before the 404. */
  extra?: (app: Hono) => void;
  /** What the dashboard says about this process. */
  about?: { runtime: string; version: string; node: string };
}

const decoder = new TextDecoder();

/** Binary frames reach the app as text, as they did with the old servers. */
function frameText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return decoder.decode(data);
  if (ArrayBuffer.isView(data)) return decoder.decode(data);
  return String(data);
}

/**
 * Whether the socket is known to be TLS: this listener's own, or a proxy's
 * word. Unknown is not "plain": a proxy may end TLS without saying so.
 */
function isTls(c: Context, forwardedScheme: 'http' | 'https' | undefined): boolean {
  if (c.req.url.startsWith('https:') || forwardedScheme === 'https') return true;
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

/** A frame's size as it came (the check for the pre-auth byte bound; exact for binary, close enough for text). */
function frameBytes(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  return ArrayBuffer.isView(data) ? data.byteLength : 0;
}

/** A client frame to the gateway, after the size check for runtimes that have none of their own. */
function deliver(gateway: Gateway, session: Client, data: unknown): void {
  const size = frameBytes(data);
  if (size > gateway.limits.frame && (typeof data !== 'string' || new TextEncoder().encode(data).byteLength > gateway.limits.frame)) {
    return gateway.tooBig(session, size);
  }
  gateway.message(session, frameText(data));
}

/**
 * One accepted socket: its session, and the runtime's events as methods. The
 * runtime keeps this object as long as the socket is open, so it holds only
 * what later events need, and never the upgrade's request.
 */
class SocketEvents extends Client {
  readonly gateway: Gateway;
  constructor(gateway: Gateway, authorized: Authorized) {
    super(authorized);
    this.gateway = gateway;
  }
  onOpen(_event: Event, ws: WSContext<unknown>): void {
    if (this.attached) return;
    this.gateway.open(this, ws.raw);
  }
  onMessage(event: MessageEvent): void {
    if (this.attached) deliver(this.gateway, this, event.data);
  }
  onClose(event: CloseEvent): void {
    if (this.attached) this.gateway.closed(this, event.code);
  }
}

export function createApp(gateway: Gateway, options: ServerOptions): Hono {
  const { upgradeWebSocket, log } = options;
  const app = new Hono();

  const upgrade = async (c: Context, path: PathMatch) => {
    const forwardedHost = c.req.header('x-forwarded-host');
    const authority = requestAuthority(forwardedHost, c.req.header('host'));
    if (!authority?.host) {
      log.info('upgrade refused', { host: JSON.stringify((forwardedHost || c.req.header('host') || '').slice(0, 100)), reason: 'bad Host header' });
      gateway.refused('', 'bad_host');
      return c.json({ status: 'error', message: 'bad Host header' }, 400);
    }
    const host = authority.host;
    const route = gateway.route(host);
    // Another site's page must not open sockets with this site's cookie.
    const origin = c.req.header('origin');
    if (!originAllowed(origin, { host, port: authority.port, scheme: isTls(c, authority.scheme) ? 'https' : undefined }, route?.config.origins)) {
      log.warn('upgrade refused', { host, origin: origin!.slice(0, 200), reason: 'origin not allowed' });
      gateway.refused(host, 'origin');
      return c.json({ status: 'error', message: 'origin not allowed' }, 403);
    }
    const client = clientOptions(c);
    if ('problem' in client) {
      log.info('upgrade refused', { host, reason: client.problem });
      gateway.refused(host, 'bad_request');
      return c.json({ status: 'error', message: client.problem }, 400);
    }
    const from = route?.config.tokenFrom ?? 'cookie';
    if (route && from === 'message') {
      // The token comes in the first frame, so the socket opens before auth can run. A full gateway says so now,
      // cheaply; the socket takes its place when it opens (an upgrade whose client vanishes may never open).
      const admitted = gateway.admit(host, undefined);
      if ('refused' in admitted) return refuseFull(c, host, admitted.refused);
      admitted.ticket.release();
      return upgradeWebSocket(c, greetingEvents(host, route.config.authTimeoutMs ?? 10_000, path, client));
    }
    const token = from === 'query' ? (new URL(c.req.url).searchParams.get(route?.config.tokenName ?? 'token') ?? undefined) : tokenFromCookie(c.req.header('cookie'), route?.config.tokenName);
    if (!token) {
      log.info('upgrade refused', { host, reason: from === 'query' ? 'no token parameter' : 'no token cookie' });
      gateway.refused(host, 'no_token');
      return unauthorized(c);
    }
    const admitted = gateway.admit(host, token);
    if ('refused' in admitted) return refuseFull(c, host, admitted.refused);
    // The upgrade's place is held while auth runs; a client that goes away meanwhile cancels its hook.
    const watch = options.watchUpgrade(c);
    let authorized: Authorized | Refusal;
    try {
      authorized = await gateway.authorize(host, token, path, client, watch.signal);
    } finally {
      watch.done();
      admitted.ticket.release();
    }
    if ('status' in authorized) return authorized.status === 401 ? unauthorized(c) : c.json({ status: 'error', message: authorized.reason }, authorized.status);
    return upgradeWebSocket(c, new SocketEvents(gateway, authorized));
  };

  const refuseFull = (c: Context, host: string, full: Refusal) => {
    log.warn('upgrade refused', { host, reason: full.reason });
    gateway.refused(host, 'limit');
    return c.json({ status: 'error', message: full.reason }, full.status);
  };

  /**
   * The first-message flow (`"tokenFrom": "message"`): the client must send
   * {"type":"auth","token":"..."} within the time limit; auth runs on it, and
   * frames sent meanwhile wait, in order, for the socket to be accepted.
   */
  const greetingEvents = (host: string, timeoutMs: number, path: PathMatch, client: ClientOptions) => {
    let session: Client | undefined;
    let waiting: unknown[] | undefined;
    /** Bytes of the frames waiting for auth: a count alone would let 100 frames of 1 MiB wait. */
    let waitingBytes = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    /** Its place among the sockets, from the open until it is accepted or gone. */
    let ticket: Ticket | undefined;
    /** Cancels the auth hook when the socket goes first. */
    let auth: AbortController | undefined;
    let gone = false;
    const fail = (ws: WSContext<unknown>, reason: string, kind: string, code = CLOSE_POLICY) => {
      clearTimeout(timer);
      // Refused while its auth runs: the hook is cancelled and its answer, when it comes, registers nothing.
      auth?.abort();
      ticket?.release();
      waiting = [];
      log.info('upgrade refused', { host, reason });
      // authorize() counted its own refusals.
      if (kind !== 'auth') gateway.refused(host, kind);
      ws.close(code, reason);
    };
    return {
      onOpen(_event: Event, ws: WSContext<unknown>) {
        // The gateway may have filled up since the upgrade was let through.
        const admitted = gateway.admit(host, undefined);
        if ('refused' in admitted) return fail(ws, admitted.refused.reason, 'limit', CLOSE_TRY_LATER);
        ticket = admitted.ticket;
        timer = setTimeout(() => fail(ws, 'no auth message in time', 'no_auth_message'), timeoutMs);
      },
      async onMessage(event: MessageEvent, ws: WSContext<unknown>) {
        if (session) return deliver(gateway, session, event.data);
        if (!ticket || ticket.released) return;
        if (waiting) {
          // Frames sent during auth wait for it, as many as may wait for the app on an open socket.
          waitingBytes += frameBytes(event.data);
          if (waiting.length >= gateway.limits.pending || waitingBytes > gateway.limits.sendBuffer) return fail(ws, 'too many messages before auth finished', 'limit');
          return void waiting.push(event.data);
        }
        let token: unknown;
        try {
          const first = JSON.parse(frameText(event.data)) as { type?: unknown; token?: unknown };
          token = first?.type === 'auth' ? first.token : undefined;
        } catch {
          // Not JSON: refused below like any other first frame.
        }
        if (typeof token !== 'string' || token === '') return fail(ws, 'the first frame must be {"type":"auth","token":"..."}', 'no_token');
        clearTimeout(timer);
        waiting = [];
        const full = gateway.admitToken(ticket, token);
        if (full) return fail(ws, full.reason, 'limit');
        auth = new AbortController();
        const pending = await gateway.authorize(host, token, path, client, auth.signal);
        auth = undefined;
        // Gone or refused meanwhile: onClose or fail() gave its place back and cancelled the hook; nothing is registered.
        if (gone || ticket.released) return;
        if ('status' in pending) return fail(ws, pending.status === 503 ? pending.reason : 'unauthorized', 'auth', pending.status === 503 ? CLOSE_TRY_LATER : CLOSE_POLICY);
        session = gateway.open(new Client(pending), ws.raw);
        ticket.release();
        for (const data of waiting.splice(0)) deliver(gateway, session, data);
      },
      onClose(event: CloseEvent) {
        gone = true;
        clearTimeout(timer);
        auth?.abort();
        ticket?.release();
        waiting = undefined;
        if (session) gateway.closed(session, event.code);
      },
    };
  };

  app.use('*', async (c, next) => {
    const wantsUpgrade = c.req.header('upgrade')?.toLowerCase() === 'websocket';
    const path = wantsUpgrade ? gateway.upgradePath(c.req.path) : undefined;
    if (path) return upgrade(c, path);
    if (c.req.method === 'GET' && gateway.isUpgradeOnlyPath(c.req.path)) {
      return c.json({ status: 'error', message: 'this path takes WebSocket upgrades only' }, 426);
    }
    return next();
  });

  mountAssets(app);
  if (options.bridgeHere) mountBridge(app, gateway, options);
  else app.get('/health', (c) => c.json({ status: 'ok' }));
  options.extra?.(app);
  finish(app, log);
  return app;
}

