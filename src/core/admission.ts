/**
 * Who gets in: a place among the sockets (held while auth runs, so sockets
 * still in auth count against every limit), then the auth hook.
 */
import { Admissions } from './admissions.ts';
import type { Ticket } from './admissions.ts';
import type { Authorized, ClientOptions } from './client.ts';
import type { CoreEvents, UpgradeRefusal } from './events.ts';
import { BUSY } from './hook-calls.ts';
import type { HookCalls } from './hook-calls.ts';
import type { Hub } from './hub.ts';
import { sha256Hex, shortHash } from './ids.ts';
import { socketIdText } from './socket-ids.ts';
import type { Routes } from './routes.ts';
import type { Recovery } from './history/recovery.ts';
import type { Config } from '../config/config.ts';
import type { PathMatch } from '../config/paths.ts';
import { refuses } from '../hooks/runners/runner.ts';
import type { GoneSignal } from '../runtime/types.ts';

/** Why an upgrade is refused: the HTTP status and what the client and the log are told. */
export interface Refusal {
  status: 401 | 429 | 503;
  reason: string;
}

/** Sockets counted against the limits: in all, of a host, of a token; each counted only when asked. */
export interface SocketCounts {
  all?: () => number;
  host?: () => number;
  token?: () => number;
}

/** The first socket limit `counts` reach, as the refusal an upgrade (or an open, lifecycle.ts) gets. */
export function socketsFull(limits: Config['limits'], counts: SocketCounts): Refusal | undefined {
  if (counts.all && counts.all() >= limits.sockets) return { status: 503, reason: `the gateway holds its maximum of ${limits.sockets} sockets` };
  if (counts.host && counts.host() >= limits.socketsPerHost) return { status: 503, reason: `the host holds its maximum of ${limits.socketsPerHost} sockets` };
  if (counts.token && counts.token() >= limits.socketsPerToken) return { status: 429, reason: `this token holds its maximum of ${limits.socketsPerToken} sockets` };
  return undefined;
}

export interface AdmissionParts {
  hub: Hub;
  routes: Routes;
  hooks: HookCalls;
  recovery: Recovery;
  events: CoreEvents;
  /**
   * Asked before an upgrade is refused for a full limit: upgrades whose
   * clients went may still hold places, since a runtime can learn of that
   * late (Runtime.checkUpgrades); they give them up now.
   */
  beforeFull?: () => void;
}

export class Admission {
  /** Sockets admitted but not open (auth running, or waiting for the auth frame): they count against the limits too. */
  readonly admissions = new Admissions();
  readonly #p: AdmissionParts;

  constructor(parts: AdmissionParts) {
    this.#p = parts;
  }

  /** An upgrade refused before or during auth: logged, and counted for /metrics under the host's configured key. */
  refused(refusal: UpgradeRefusal): void {
    this.#p.events.refused(refusal, this.#p.routes.label(refusal.host));
  }

  /**
   * A place for a new socket of this host (and token, when known), held by
   * the ticket until the socket opens or goes; or why there is none.
   */
  admit(host: string, token: string | undefined): { ticket: Ticket } | { refused: Refusal } {
    const refused = this.#askingFirst(() => this.#full(host, token));
    return refused ? { refused } : { ticket: this.admissions.enter(host, token) };
  }

  /** The first-frame flow learnt the token of an admitted socket: it takes the token's place too, or is refused. */
  admitToken(ticket: Ticket, token: string): Refusal | undefined {
    const refused = this.#askingFirst(() => this.#tokenFull(ticket.host, token));
    if (!refused) ticket.setToken(token);
    return refused;
  }

  /** A refusal stands only once upgrades whose clients went have given their places back. */
  #askingFirst(refusal: () => Refusal | undefined): Refusal | undefined {
    const refused = refusal();
    if (!refused || !this.#p.beforeFull) return refused;
    this.#p.beforeFull();
    return refusal();
  }

  #full(host: string, token: string | undefined): Refusal | undefined {
    const { hub, routes } = this.#p;
    const admitting = this.admissions;
    return socketsFull(routes.limits, {
      all: () => hub.size + admitting.size,
      host: () => hub.countHost(host) + admitting.countHost(host),
      token: token === undefined ? undefined : () => hub.countToken(host, token) + admitting.countToken(host, token),
    });
  }

  #tokenFull(host: string, token: string): Refusal | undefined {
    const { hub, routes } = this.#p;
    return socketsFull(routes.limits, { token: () => hub.countToken(host, token) + this.admissions.countToken(host, token) });
  }

  /**
   * Runs the auth hook for an upgrade that has a host and a token (its place
   * held by the caller's ticket); resolves to what it learnt when it may be
   * accepted, or to why not. When `signal` aborts (the client went away),
   * the hook is cancelled and nothing is registered.
   */
  async authorize(host: string, token: string, path: PathMatch | undefined, client: ClientOptions, signal?: GoneSignal): Promise<Authorized | Refusal> {
    const { hub } = this.#p;
    // The auth hook is told the socket's id, so its place is taken now: given back unless the upgrade is accepted.
    const serial = hub.reservations.reserve();
    if (serial === undefined) {
      this.refused({ host, kind: 'limit', reason: 'every socket place is taken', level: 'warn' });
      return { status: 503, reason: 'the gateway is full; try again later' };
    }
    let accepted = false;
    try {
      const result = await this.#authorizeAt(serial, host, token, path, client, signal);
      accepted = !('status' in result);
      return result;
    } finally {
      if (accepted) hub.reservations.handOver(serial);
      else hub.reservations.unreserve(serial);
    }
  }

  async #authorizeAt(serial: number, host: string, token: string, path: PathMatch | undefined, client: ClientOptions, signal?: GoneSignal): Promise<Authorized | Refusal> {
    const { routes, hub, hooks, recovery } = this.#p;
    const route = routes.match(host);
    const tokenHash = sha256Hex(token);
    if (!route) {
      this.refused({ host, token: shortHash(tokenHash), kind: 'host_not_configured', reason: 'host not configured', level: 'warn' });
      return { status: 401, reason: 'host not configured' };
    }
    const authorized: Authorized = { id: socketIdText(serial), serial, host: hub.hostName(host), token, tokenHash, route, params: path?.params, pathChannels: path?.channels.length ? path.channels : undefined, client };
    const outcome = await hooks.run(authorized, route, 'auth', undefined, undefined, signal);
    if (signal?.aborted) {
      this.refused({ host, socket: authorized.id, token: shortHash(tokenHash), kind: 'abandoned', reason: 'the client went away during auth', level: 'info' });
      return { status: 401, reason: 'the client went away' };
    }
    if (outcome === BUSY) {
      this.refused({ host, socket: authorized.id, token: shortHash(tokenHash), kind: 'busy', reason: 'hook processes are all busy', level: 'warn' });
      return { status: 503, reason: 'the gateway is busy: too many hooks are running or waiting; try again later' };
    }
    if (outcome === undefined || refuses(outcome)) {
      const failed = outcome === undefined;
      this.refused({ host, socket: authorized.id, token: shortHash(tokenHash), kind: failed ? 'auth_failed' : 'auth_refused', reason: failed ? 'auth hook failed' : 'auth returned false', level: 'info' });
      return { status: 401, reason: 'unauthorized' };
    }
    authorized.grant = hooks.grant(authorized, 'auth', outcome);
    const history = route.config.history;
    if (client.recover && history) authorized.stored = await recovery.readStored(authorized.host, token, history, client.recover);
    return authorized;
  }
}
