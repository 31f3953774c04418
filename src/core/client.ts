/**
 * One connection, from the moment its auth said yes until it is gone: what
 * the upgrade learnt, its state, its lane (the order its hooks run in) and
 * its limits. Other modules ask it; only it changes its own state. The hub
 * keeps its channel memberships on it (`channels`), as the registry's index.
 */
import { takeFrame } from './rate.ts';
import type { Socket } from './hub.ts';
import type { Position, StoredStream } from './history/history.ts';
import type { Grant } from '../hooks/runners/runner.ts';
import type { Route } from './route.ts';
import type { ClientProtocol, ParsedFrame } from './protocol.ts';
import { socketIdText } from './socket-ids.ts';

/** The protocol a connection speaks, as its upgrade chose it, and where it said it stopped in each stream. */
export interface ClientOptions {
  protocol: ClientProtocol;
  recover?: Map<string, Position>;
}

/** An upgrade whose auth said yes: what it learnt about the connection before it opens. */
export interface Authorized {
  id: string;
  /** Its place among the hub's sockets, which `id` spells (Hub.reserve()). */
  serial: number;
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

/** Where a client is in its life: the low two bits of its `#flags`. */
const ACCEPTED = 0;
const OPEN = 1;
/** Closed by the gateway for a limit: frames still arriving until the close completes are dropped unlogged. */
const CLOSING = 2;
const CLOSED = 3;
const STATE = 3;
/** The rest of `#flags` counts its receive events queued or running. */
const WAITING_SHIFT = 2;
const ONE_WAITING = 1 << WAITING_SHIFT;

/**
 * What only some clients have, or have only for a while: one field on every
 * client instead of seven. Bun gives an object of up to 12 fields a
 * 112-byte cell, of 13-18 a 160-byte one (docs/BENCHMARKS.md, memory per
 * idle socket). The upgrade's handover (granted, tokenHash, recover,
 * stored) is dropped piece by piece as the open and the first joins use it.
 */
interface Rare {
  /** Channels it belongs to: kept by the hub. */
  channels?: Set<string>;
  /** What the auth or connect hook said about it, for presence. */
  info?: unknown;
  /** The upgrade path's parameters, for every hook. */
  params?: Record<string, string>;
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

/**
 * Twelve fields, so that an idle socket costs Bun's 112-byte cell: what
 * every event reads is a field, the rest is in `#rare`.
 */
export class Client implements Socket {
  /** Its place among the hub's sockets: its id is spelt from it when asked, not kept as a string. */
  readonly serial: number;
  readonly host: string;
  readonly token: string;
  #route: Route;
  /** The runtime adapter's socket, from open on: the hub writes to it through the runtime's Wire. */
  #raw: unknown = undefined;
  /** Its state (STATE bits) and its receive events queued or running (in ONE_WAITING steps). */
  #flags = ACCEPTED;
  #lane: Promise<void> = IDLE;
  /** When its next frame is due under its rate (core/rate.ts): before that, frames come out of its burst. */
  #due = 0;
  /** When the client last sent a message (for idleTimeout). */
  #lastSeen = 0;
  /** Its place in the hub's list of its host's sockets: kept by the hub. */
  slot = -1;
  /** What it speaks: how the core's publications and answers are framed for it. */
  readonly protocol: ClientProtocol;
  #rare: Rare | undefined;

  constructor(authorized: Authorized) {
    this.serial = authorized.serial;
    this.host = authorized.host;
    this.token = authorized.token;
    this.#route = authorized.route;
    this.protocol = authorized.client.protocol;
    const rare: Rare = { tokenHash: authorized.tokenHash };
    if (authorized.grant?.info !== undefined) rare.info = authorized.grant.info;
    if (authorized.params) rare.params = authorized.params;
    const granted = [...(authorized.pathChannels ?? []), ...(authorized.grant?.channels ?? [])];
    if (granted.length) rare.granted = granted;
    if (authorized.client.recover) rare.recover = authorized.client.recover;
    if (authorized.stored) rare.stored = authorized.stored;
    this.#rare = rare;
  }

  /** Its id, as the contract spells it (a protocol with ids of its own overrides this). */
  get id(): string {
    return socketIdText(this.serial);
  }

  get #state(): number {
    return this.#flags & STATE;
  }

  set #state(state: number) {
    this.#flags = (this.#flags & ~STATE) | state;
  }

  /** Channels it belongs to: kept by the hub. */
  get channels(): Set<string> | undefined {
    return this.#rare?.channels;
  }

  set channels(channels: Set<string> | undefined) {
    if (channels) (this.#rare ??= {}).channels = channels;
    else this.#drop('channels');
  }

  /** The upgrade path's parameters, for every hook. */
  get params(): Record<string, string> | undefined {
    return this.#rare?.params;
  }

  /** Casts to streams reach it framed by its protocol (kept apart on the hub's topics). */
  get aware(): boolean {
    return this.protocol.wraps;
  }

  /** Forgets a piece of `#rare`, and `#rare` once nothing is left in it. */
  #drop(piece: keyof Rare): void {
    const rare = this.#rare;
    if (!rare) return;
    delete rare[piece];
    for (const key in rare) if (rare[key as keyof Rare] !== undefined) return;
    this.#rare = undefined;
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
    this.#due = now;
    this.#lastSeen = now;
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

  /** A frame came: it counts as seen, and takes one from its rate; false when its rate has none left. */
  takeMessage(limits: RateLimits, now: number): boolean {
    this.#lastSeen = now;
    return this.takeControl(limits, now);
  }

  /** A ping or pong came: it takes one from the same rate as a message, but is no message (`lastSeen`, for idleTimeout and Pusher's activity, stays). */
  takeControl(limits: RateLimits, now: number): boolean {
    const due = takeFrame(this.#due, now, limits.messagesPerSecond, this.messageBurst(limits));
    if (due === undefined) return false;
    this.#due = due;
    return true;
  }

  /** How many frames it may send at once before its rate applies, the gateway's `messageBurst` given (a protocol whose clients send more at once overrides this). */
  messageBurst(limits: RateLimits): number {
    return limits.messageBurst;
  }

  /** How many of its messages may wait at once, the gateway's `pending` bound given (a protocol whose clients send more at once overrides this). */
  maxWaiting(pending: number): number {
    return pending;
  }

  /** Messages queued for the app or running now. */
  get waiting(): number {
    return this.#flags >> WAITING_SHIFT;
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
    this.#flags += ONE_WAITING;
    // As enqueue(), with the count taken down in the same step: this runs once per message.
    const lane = this.#lane.then(task, task);
    this.#lane = lane;
    const done = () => {
      this.#flags -= ONE_WAITING;
      if (this.#lane === lane) this.#lane = IDLE;
    };
    // A task that failed is off the count too (left on it, the socket would be closed as too far behind one day); its
    // error goes on to the stray handler, which logs it.
    void lane.then(done, (error: unknown) => {
      done();
      throw error;
    });
  }

  /** What the auth or connect hook said about it, for presence. */
  get info(): unknown {
    return this.#rare?.info;
  }

  /** The connect hook said who it is. */
  setInfo(info: unknown): void {
    if (info !== undefined) (this.#rare ??= {}).info = info;
    else this.#drop('info');
  }

  /** The channels granted before it opened, once: they are joined at the open. */
  takeGranted(): string[] | undefined {
    const granted = this.#rare?.granted;
    this.#drop('granted');
    return granted;
  }

  /** The token's hash for the open's log line, once. */
  takeTokenHash(): string | undefined {
    const hash = this.#rare?.tokenHash;
    this.#drop('tokenHash');
    return hash;
  }

  /** Where it said it stopped in `stream`, once: only the first join of a stream resumes. */
  takeRecover(stream: string): Position | undefined {
    const recover = this.#rare?.recover;
    const position = recover?.get(stream);
    recover?.delete(stream);
    if (recover?.size === 0) this.#drop('recover');
    return position;
  }

  /** Where it said it stopped in `stream`, without using it up. */
  recoverOf(stream: string): Position | undefined {
    return this.#rare?.recover?.get(stream);
  }

  /** What Redis held of `stream` for it, read at the upgrade. */
  storedOf(stream: string): StoredStream | undefined {
    return this.#rare?.stored?.get(stream);
  }

  /** What a frame it sent asks: read by its protocol (a protocol with state per connection overrides this). */
  request(text: string, hostAllows: boolean): ParsedFrame {
    return this.protocol.request?.(text, hostAllows);
  }

  /** The upgrade's Redis reads are used: they are not kept for the client's life. */
  dropStored(): void {
    this.#drop('stored');
  }
}
