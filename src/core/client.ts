/**
 * One connection, from the moment its auth said yes until it is gone: what
 * the upgrade learnt, its state, its lane (the order its hooks run in) and
 * its limits. Other modules ask it; only it changes its own state. The hub
 * keeps its channel memberships on it (`channels`), as the registry's index.
 */
import type { Socket } from './hub.ts';
import type { Position, StoredStream } from './history/history.ts';
import type { Grant } from '../hooks/runners/runner.ts';
import type { Route } from './route.ts';
import type { ClientProtocol, ParsedFrame } from './protocol.ts';

/** The protocol a connection speaks, as its upgrade chose it, and where it said it stopped in each stream. */
export interface ClientOptions {
  protocol: ClientProtocol;
  recover?: Map<string, Position>;
}

/** An upgrade whose auth said yes: what it learnt about the connection before it opens. */
export interface Authorized {
  id: string;
  host: string;
  token: string;
  route: Route;
  /** sha256 of the token, for the log lines of the upgrade and the open. */
  tokenHash: string;
  /** What the auth hook granted (channels, info), if anything. */
  grant?: Grant;
  /** The upgrade path's parameters (`/ws/rooms/{room}`), given to every hook. */
  params?: Record<string, string>;
  /** Channels the upgrade path joins. */
  pathChannels?: string[];
  /** Its protocol, and where it stopped in each stream (`recover`). */
  client: ClientOptions;
  /** What Redis held of the host-wide and token streams it recovers, where this node's copy could not fill the gap. */
  stored?: Map<string, StoredStream>;
}

/** The lane of a client with nothing queued: one settled promise shared by all, not one kept per client. */
const IDLE: Promise<void> = Promise.resolve();

/** Where a client is in its life. */
const ACCEPTED = 0;
const OPEN = 1;
/** Closed by the gateway for a limit: frames still arriving until the close completes are dropped unlogged. */
const CLOSING = 2;
const CLOSED = 3;

/**
 * What the upgrade hands over for the open and the first joins, dropped
 * piece by piece as it is used: one field on every client instead of four
 * (a client with more than 18 fields takes the engine's next object size).
 */
interface Handover {
  /** Channels the path and the auth hook granted, joined once it is open. */
  granted?: string[];
  /** The token's hash until the open is logged; not kept per open client. */
  tokenHash?: string;
  /** Where it stopped per stream; each is used by the first join of its stream. */
  recover?: Map<string, Position>;
  /** What Redis held of its `@all` and `@token` streams, read at the upgrade, until the open uses it. */
  stored?: Map<string, StoredStream>;
}

export interface RateLimits {
  messagesPerSecond: number;
  messageBurst: number;
}

export class Client implements Socket {
  readonly id: string;
  readonly host: string;
  readonly token: string;
  #route: Route;
  /** The runtime adapter's socket, from open on: the hub writes to it through the runtime's Wire. */
  #raw: unknown = undefined;
  #state = ACCEPTED;
  #lane: Promise<void> = IDLE;
  /** Receive events queued or running. */
  #waiting = 0;
  /** Token bucket for messages per second: what is left, and when it was last filled. */
  #allowance = 0;
  #filledAt = 0;
  /** When the client last sent a frame (for idleTimeout). */
  #lastSeen = 0;
  /** Channels it belongs to: kept by the hub. */
  channels?: Set<string> = undefined;
  /** Its place in the hub's list of its host's sockets: kept by the hub. */
  slot = -1;
  /** What the auth or connect hook said about it, for presence. */
  #info: unknown;
  /** The upgrade path's parameters, for every hook. */
  readonly params: Record<string, string> | undefined;
  /** What it speaks: how the core's publications and answers are framed for it. */
  readonly protocol: ClientProtocol;
  #handover: Handover | undefined;

  constructor(authorized: Authorized) {
    this.id = authorized.id;
    this.host = authorized.host;
    this.token = authorized.token;
    this.#route = authorized.route;
    this.#info = authorized.grant?.info;
    this.params = authorized.params;
    this.protocol = authorized.client.protocol;
    const granted = [...(authorized.pathChannels ?? []), ...(authorized.grant?.channels ?? [])];
    this.#handover = { tokenHash: authorized.tokenHash };
    if (granted.length) this.#handover.granted = granted;
    if (authorized.client.recover) this.#handover.recover = authorized.client.recover;
    if (authorized.stored) this.#handover.stored = authorized.stored;
  }

  /** Casts to streams reach it framed by its protocol (kept apart on the hub's topics). */
  get aware(): boolean {
    return this.protocol.wraps;
  }

  /** Forgets a used piece of the handover, and the handover once nothing is left in it. */
  #used(piece: keyof Handover): void {
    const handover = this.#handover;
    if (!handover) return;
    delete handover[piece];
    if (!handover.granted && !handover.tokenHash && !handover.recover && !handover.stored) this.#handover = undefined;
  }

  get raw(): unknown {
    return this.#raw;
  }

  get route(): Route {
    return this.#route;
  }

  /** A reload gave its host a new route: later events take it. */
  moveTo(route: Route): void {
    this.#route = route;
  }

  /** Registered and not gone (it may be closing). */
  get open(): boolean {
    return this.#state === OPEN || this.#state === CLOSING;
  }

  /** Whether the runtime's socket was handed over (the open happened), whatever happened since. */
  get attached(): boolean {
    return this.#raw !== undefined;
  }

  get closing(): boolean {
    return this.#state === CLOSING;
  }

  /** The runtime accepted it: from now on it can be written to, and its rate limit starts full. */
  attach(raw: unknown, limits: RateLimits, now: number): void {
    this.#raw = raw;
    this.#state = OPEN;
    this.#allowance = limits.messageBurst;
    this.#filledAt = this.#lastSeen = now;
  }

  /** Marks it closing for a limit; false when it was already, so a limit is acted on (and logged) once. */
  startClosing(): boolean {
    if (this.#state !== OPEN) return false;
    this.#state = CLOSING;
    return true;
  }

  /** It is gone; false when it was gone already (or never opened). */
  markClosed(): boolean {
    if (!this.open) return false;
    this.#state = CLOSED;
    return true;
  }

  get lastSeen(): number {
    return this.#lastSeen;
  }

  /** A frame came: it counts as seen, and takes one from its rate allowance; false when there was none left. */
  takeMessage(limits: RateLimits, now: number): boolean {
    this.#lastSeen = now;
    this.#allowance = Math.min(limits.messageBurst, this.#allowance + ((now - this.#filledAt) / 1000) * limits.messagesPerSecond);
    this.#filledAt = now;
    if (this.#allowance < 1) return false;
    this.#allowance -= 1;
    return true;
  }

  /** Messages queued for the app or running now. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Queues a task behind everything queued before it. A task never rejects
   * (hook failures become log lines), so the lane never breaks.
   */
  enqueue(task: () => Promise<void>): Promise<void> {
    const lane = this.#lane.then(task, task);
    this.#lane = lane;
    // Back to the shared idle lane once drained, so an idle client holds no promise of its own.
    void lane.then(() => {
      if (this.#lane === lane) this.#lane = IDLE;
    });
    return lane;
  }

  /** Queues a message for the app, counted in `waiting` until it is done. */
  enqueueMessage(task: () => Promise<void>): void {
    this.#waiting++;
    // As enqueue(), with the count taken down in the same step: this runs once per message.
    const lane = this.#lane.then(task, task);
    this.#lane = lane;
    void lane.then(() => {
      this.#waiting--;
      if (this.#lane === lane) this.#lane = IDLE;
    });
  }

  get info(): unknown {
    return this.#info;
  }

  /** The connect hook said who it is. */
  setInfo(info: unknown): void {
    this.#info = info;
  }

  /** The channels granted before it opened, once: they are joined at the open. */
  takeGranted(): string[] | undefined {
    const granted = this.#handover?.granted;
    this.#used('granted');
    return granted;
  }

  /** The token's hash for the open's log line, once. */
  takeTokenHash(): string | undefined {
    const hash = this.#handover?.tokenHash;
    this.#used('tokenHash');
    return hash;
  }

  /** Where it said it stopped in `stream`, once: only the first join of a stream resumes. */
  takeRecover(stream: string): Position | undefined {
    const recover = this.#handover?.recover;
    const position = recover?.get(stream);
    recover?.delete(stream);
    if (recover?.size === 0) this.#used('recover');
    return position;
  }

  /** Where it said it stopped in `stream`, without using it up. */
  recoverOf(stream: string): Position | undefined {
    return this.#handover?.recover?.get(stream);
  }

  /** What Redis held of `stream` for it, read at the upgrade. */
  storedOf(stream: string): StoredStream | undefined {
    return this.#handover?.stored?.get(stream);
  }

  /** What a frame it sent asks: read by its protocol (a protocol with state per connection overrides this). */
  request(text: string, hostAllows: boolean): ParsedFrame {
    return this.protocol.request?.(text, hostAllows);
  }

  /** The upgrade's Redis reads are used: they are not kept for the client's life. */
  dropStored(): void {
    this.#used('stored');
  }
}
