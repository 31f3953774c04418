/**
 * A connection's life after auth: the open (what it missed, its channels,
 * then its connect hook), each frame in its lane (the app's receive hook, or
 * a request of the gateway itself), the limits that close it, and the close
 * hook after its last receive.
 */
import { socketsFull } from './admission.ts';
import type { Client } from './client.ts';
import type { Channels } from './channels.ts';
import type { CoreEvents, UpgradeRefusal } from './events.ts';
import { BUSY } from './hook-calls.ts';
import type { HookCalls } from './hook-calls.ts';
import type { Hub } from './hub.ts';
import type { ClientRequests } from './client-requests.ts';
import type { Routes } from './routes.ts';
import type { Recovery } from './history/recovery.ts';
import { refuses } from '../hooks/runners/runner.ts';
import { sha256Hex } from './ids.ts';
import { utf8Length } from './utf8.ts';
import { withinMs } from './deadline.ts';

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_BAD_DATA = 1007;
export const CLOSE_TRY_LATER = 1013;
export const CLOSE_POLICY = 1008;
export const CLOSE_INTERNAL = 1011;

const TOO_MANY_MESSAGES = 'too many messages per second';

export interface LifecycleParts {
  hub: Hub;
  routes: Routes;
  hooks: HookCalls;
  channels: Channels;
  recovery: Recovery;
  events: CoreEvents;
  /** What clients ask of the gateway itself. */
  requests: ClientRequests;
}

export class Lifecycle {
  readonly #p: LifecycleParts;
  readonly #requests: ClientRequests;
  /** Lanes still running after their client closed (close hooks), for shutdown. */
  readonly #draining = new Set<Promise<void>>();
  /** Set by shutdown(), which closes only the sockets open by then: an upgrade still under way opens later. */
  #stopping = false;

  constructor(parts: LifecycleParts) {
    this.#p = parts;
    this.#requests = parts.requests;
  }

  /** The runtime accepted it: register it, give it what it missed, and queue its connect hook first in its lane. */
  open(client: Client, raw: unknown): Client {
    const { hub, routes, recovery, channels, events } = this.#p;
    client.attach(raw, routes.limits, performance.now());
    if (this.#stopping) {
      // No connect hook, so no close hook owed: the process exits once the shutdown's wait is over.
      client.markClosed();
      hub.close(client, client.protocol.goingAway?.shutdown ?? CLOSE_GOING_AWAY, 'server shutting down');
      return client;
    }
    // Its route is the one its auth matched: a reload since then moved the open sockets (rehome) but not this one.
    const route = routes.match(client.host);
    if (!route) return this.#refuseOpen(client, { kind: 'host_not_configured', reason: 'host no longer served', level: 'info' }, client.protocol.goingAway?.removed ?? CLOSE_GOING_AWAY);
    if (route !== client.route) client.moveTo(route);
    // An accepted upgrade's admission place went with its answer, and on Deno its open comes turns later: upgrades
    // admitted meanwhile did not count it. The limits are held here for open sockets, so they never end up over them.
    const full = socketsFull(routes.limits, { all: () => hub.size, host: () => hub.countHost(client.host), token: () => hub.countToken(client.host, client.token) });
    if (full) return this.#refuseOpen(client, { kind: 'limit', reason: full.reason, level: 'warn' }, CLOSE_TRY_LATER);
    // Its place was given up while it took too long to open (socket-places.ts): it never counted.
    if (!hub.add(client)) return this.#refuseOpen(client, { kind: 'limit', reason: 'the socket opened too late', level: 'warn' }, CLOSE_TRY_LATER, 'the socket opened too late; try again');
    events.opened(client, client.takeTokenHash() ?? sha256Hex(client.token), hub.size);
    recovery.replayTo(client);
    const granted = client.takeGranted();
    const joining = granted && channels.joinAll(client, granted);
    if (client.protocol.resumes) recovery.announceOwnStreams(client);
    const ready = client.protocol.ready(client.id);
    // "ready" says every channel of the upgrade is joined, with what it missed (docs/PROTOCOL.md): a client asks for the
    // channels it was not given and for their presence then. A join resuming from the shared store waits for its read.
    if (ready !== undefined && joining) void joining.then(() => client.open && hub.send(client, ready));
    else if (ready !== undefined) hub.send(client, ready);
    if (!client.protocol.hooks) return client;
    void client.enqueue(async () => {
      if (!client.open) return;
      const result = await this.#p.hooks.run(client, client.route, 'connect');
      if (!client.open || result === undefined) return;
      // The app never said yes: a client whose connect could not run does not stay.
      if (result === BUSY) return this.#refuse(client, CLOSE_TRY_LATER, 'the gateway is busy: the connect hook could not run; try again later');
      if (refuses(result)) {
        this.#p.events.closing(client, { kind: 'connect_refused', code: CLOSE_POLICY });
        hub.close(client, CLOSE_POLICY, 'connect refused');
        return;
      }
      const grant = this.#p.hooks.grant(client, 'connect', result);
      if (!grant) return;
      if (grant.info !== undefined) channels.setInfo(client, grant.info);
      channels.joinAll(client, grant.channels);
    });
    return client;
  }

  /** A socket turned away at its open: never registered, no hook runs, and its place (if still its own) goes back. */
  #refuseOpen(client: Client, why: Pick<UpgradeRefusal, 'kind' | 'reason' | 'level'>, code: number, closeReason = why.reason): Client {
    const { hub, routes, events } = this.#p;
    hub.reservations.unreserve(client.serial);
    client.markClosed();
    events.refused({ host: client.host, socket: client.id, ...why }, routes.label(client.host));
    hub.close(client, code, closeReason);
    return client;
  }

  /** A client frame: queued behind everything it sent before. Only receive streams output to the client. */
  message(client: Client, text: string): void {
    if (!client.open || client.closing) return;
    const limits = this.#p.routes.limits;
    const config = client.route.config;
    const traffic = this.#p.events.traffic(config.key);
    traffic.framesIn++;
    traffic.bytesIn += utf8Length(text);
    if (!client.takeMessage(limits, performance.now())) return this.#refuse(client, CLOSE_POLICY, TOO_MANY_MESSAGES);
    if (client.waiting >= client.maxWaiting(limits.pending)) return this.#refuse(client, CLOSE_POLICY, 'too many messages waiting for the app');
    const request = client.request(text, config.clientChannels === true);
    // An answer the protocol gives at once (a ping's pong) waits only for the answers to what came before it.
    if (request && !('request' in request) && 'reply' in request && client.waiting === 0) return void this.#p.hub.send(client, request.reply);
    if (!request && !client.protocol.hooks) return;
    // A process argument cannot carry a NUL byte: the hook could never see this message, so the client is told.
    if (!request && config.mode === 'oneshot' && text.includes('\0')) return this.#undelivered(client, CLOSE_BAD_DATA, "a message with a NUL byte cannot be passed to this host's hook");
    client.enqueueMessage(async () => {
      if (request) await this.#requests.run(client, request);
      else if ((await this.#p.hooks.run(client, client.route, 'receive', text, client)) === BUSY) this.#undelivered(client, CLOSE_TRY_LATER, 'the gateway is busy: the message was not delivered; try again later');
    });
  }

  /**
   * A ping or pong it sent, where the runtime tells: each costs a read and a
   * ping an answer too, so a flood of them is closed as a message flood is.
   */
  control(client: Client): void {
    if (!client.open || client.closing) return;
    if (!client.takeControl(this.#p.routes.limits, performance.now())) this.#refuse(client, CLOSE_POLICY, TOO_MANY_MESSAGES);
  }

  /**
   * Handling a client's frame threw. Whatever it was, the socket is closed
   * (1011) and its close runs as for any other, rather than the error
   * reaching the runtime's listener, which on Node left the socket unread
   * and never closed: a connection that held its places for good.
   */
  failed(client: Client, error: unknown): void {
    if (!client.startClosing()) return;
    this.#p.events.closing(client, { kind: 'error', code: CLOSE_INTERNAL, error: error instanceof Error ? error.message : String(error) });
    this.#p.hub.close(client, CLOSE_INTERNAL, 'internal error');
  }

  /** Closes a client that broke a limit, saying which; once, however many frames it sends until the close completes. */
  #refuse(client: Client, code: number, reason: string): void {
    if (!client.startClosing()) return;
    this.#p.events.closing(client, { kind: 'limit', code, reason });
    this.#p.hub.close(client, code, reason);
  }

  /**
   * A message the app did not get: its receive hook could not start (every
   * hook slot and queue place taken), or a one-shot hook's argv cannot carry
   * it (a NUL byte). Never dropped in silence: a client that resumes is told
   * and may send it again; a plain one is closed with `code` and the reason.
   */
  #undelivered(client: Client, code: number, reason: string): void {
    if (!client.open) return;
    if (!client.protocol.resumes) return this.#refuse(client, code, reason);
    this.#p.events.notice({ kind: 'messageRefused', client, reason });
    this.#p.hub.send(client, client.protocol.error(reason));
  }

  /** A frame over the size limit, for runtimes that do not check it themselves. */
  tooBig(client: Client, bytes: number): void {
    this.#refuse(client, CLOSE_TOO_BIG, `frame of ${bytes} bytes is over the limit of ${this.#p.routes.limits.frame}`);
  }

  /** A client that does not read: its unsent frames pile up. It would not read a close frame either, so it is dropped. */
  tooSlow(client: Client, buffered: number): void {
    if (!client.open) return;
    this.#p.events.closing(client, { kind: 'limit', code: CLOSE_TRY_LATER, reason: `${buffered} bytes unsent: the client does not read fast enough` });
    this.#p.hub.terminate(client);
    this.closed(client, CLOSE_TRY_LATER);
  }

  /** Closes clients that sent nothing for idleTimeout seconds (1001). */
  sweepIdle(now: number): void {
    const idle = this.#p.routes.config.idleTimeout;
    const idleMs = idle * 1000;
    if (idleMs <= 0) return;
    const { hub, events } = this.#p;
    for (const client of hub.all() as Client[]) {
      // Once: a client that is slow to answer the close (30 s on Node, for good on Deno) is not closed and logged again each second.
      if (now - client.lastSeen >= idleMs && client.startClosing()) {
        const code = client.protocol.goingAway?.idle ?? CLOSE_GOING_AWAY;
        events.closing(client, { kind: 'idle', code, seconds: idle });
        hub.close(client, code, 'idle');
      }
    }
  }

  /** The client is gone: unregister now, run close after its last receive. */
  closed(client: Client, code: number): void {
    if (!client.markClosed()) return;
    const { hub, channels, recovery, events } = this.#p;
    const joined = client.channels && [...client.channels];
    hub.remove(client);
    // A gone token's frames are kept for its return; a protocol without the app's tokens has none to come back.
    if (client.protocol.hooks) recovery.left(client, joined ?? []);
    if (joined) for (const channel of joined) channels.departed(client, channel);
    events.closed(client, code, hub.size);
    if (!client.protocol.hooks) return;
    const done = client.enqueue(async () => {
      await this.#p.hooks.run(client, client.route, 'close');
    });
    this.#draining.add(done);
    void done.finally(() => this.#draining.delete(done));
  }

  /**
   * A reload: clients whose host is still served take its new route; the
   * others are closed and, as at a shutdown, gone at once. A client that
   * never answers the close could otherwise keep sending for closeTimeout,
   * each frame running a receive hook of the removed host.
   */
  rehome(): void {
    const { hub, routes, events } = this.#p;
    for (const client of hub.all() as Client[]) {
      const route = routes.match(client.host);
      if (route) {
        client.moveTo(route);
        continue;
      }
      const code = client.protocol.goingAway?.removed ?? CLOSE_GOING_AWAY;
      // One closing for a limit already has its close under way: it is only made gone.
      if (client.startClosing()) {
        events.closing(client, { kind: 'host_removed', code });
        hub.close(client, code, 'host no longer served');
      }
      this.closed(client, code);
    }
  }

  /** Closes every client with 1001 and waits (bounded) for their close hooks, and for `closesSent` (types.ts Wire). */
  async shutdown(closesSent?: () => Promise<void>): Promise<void> {
    const { hub, routes } = this.#p;
    this.#stopping = true;
    for (const client of hub.all() as Client[]) {
      const code = client.protocol.goingAway?.shutdown ?? CLOSE_GOING_AWAY;
      hub.close(client, code, 'server shutting down');
      this.closed(client, code);
    }
    await withinMs(Promise.allSettled([...this.#draining, closesSent?.()]), routes.config.shutdownMs);
  }
}
