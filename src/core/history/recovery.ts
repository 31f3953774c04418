/**
 * What a connection missed, and how it gets it: each stream's recent
 * publications (history), what gone tokens missed (the replay window), and
 * the store the broker shares between nodes. Under one memory budget.
 */
import type { Client } from '../client.ts';
import type { Broker } from '../broker.ts';
import type { Hub } from '../hub.ts';
import type { Routes } from '../routes.ts';
import { ALL_STREAM, TOKEN_STREAM, streamOf, tokenStreamKey } from '../streams.ts';
import type { Stream } from '../streams.ts';
import type { NodeRequest } from '../requests.ts';
import type { Selection } from '../targets.ts';
import { MemoryHistory, covers, joinStored, mayBeEpoch, streamKey } from './history.ts';
import type { HistoryLimits, HistoryStore, Kept, Position, Since, StoredStream } from './history.ts';
import { ReplayWindow } from './replay-window.ts';
import { MemoryBudget, reportEvictions } from './budget.ts';
import { RECOVERING_HELD, holdWhileRecovering } from './recovering.ts';
import type { HeldWhileRecovering } from './recovering.ts';
import type { CoreEvents } from '../events.ts';

export interface RecoveryHealth {
  streams: number;
  replaying: number;
  bytes: number;
  budget: number;
  evicted: number;
}

export class Recovery {
  readonly #hub: Hub;
  readonly #routes: Routes;
  readonly #broker: Broker;
  readonly #events: CoreEvents;
  /** One bound on what history and replay keep in all (limits.historyBytes). */
  readonly #budget: MemoryBudget;
  readonly #history: HistoryStore;
  readonly #replay: ReplayWindow;
  /**
   * Joins waiting for what they missed to be read from the shared store, by
   * stream key: each holds the publications meanwhile. One per join, not per
   * client: a socket may wait twice on one channel (its path and its own
   * subscribe), and neither wait may end or take the other's.
   */
  readonly #recovering = new Map<string, Set<HeldWhileRecovering>>();
  #sweeps = 0;

  constructor(hub: Hub, routes: Routes, broker: Broker, events: CoreEvents) {
    this.#hub = hub;
    this.#routes = routes;
    this.#broker = broker;
    this.#events = events;
    this.#budget = new MemoryBudget(routes.limits.historyBytes);
    reportEvictions(this.#budget, (full) => events.notice({ kind: 'historyBudgetFull', ...full }));
    this.#history = new MemoryHistory(this.#budget);
    this.#replay = new ReplayWindow({
      budget: this.#budget,
      limits: (host) => routes.match(host)?.config.replay,
      sockets: (host, token) => hub.countToken(host, token),
      anyHost: () => routes.config.hosts.some((host) => host.replay),
      events,
      broker,
    });
    broker.onJoined(() => void this.#replay.sync().catch((error: Error) => events.notice({ kind: 'replaySyncFailed', node: broker.status()?.node, how: 'failed', reason: error.message })));
  }

  /** A reload may change the budget. */
  reconfigure(): void {
    this.#budget.limit = this.#routes.limits.historyBytes;
  }

  /**
   * A publication of a stream with history, kept at `numbered` (where the
   * broker numbered it) or at the stream's next offset; its position. Held
   * too for clients whose join waits for the shared store.
   */
  place(stream: Stream & { limits: HistoryLimits }, frame: string, numbered: Position | undefined): Position {
    let position: Position;
    if (numbered) {
      this.#history.put(stream.key, frame, numbered, stream.limits);
      position = numbered;
    } else position = this.#history.append(stream.key, frame, stream.limits);
    if (this.#recovering.size > 0) this.#recovering.get(stream.key)?.forEach((held) => holdWhileRecovering(held, position, frame));
    return position;
  }

  /** A publication on a host that replays, in the order every node sees it: kept for gone tokens it would have reached. */
  record(host: string, selection: Selection, frame: string): void {
    this.#replay.record(host, selection, frame);
  }

  /** A plain client's last socket of its token closed, on a host that replays. */
  left(client: Client, channels: string[]): void {
    const replay = client.route.config.replay;
    if (replay && !client.protocol.resumes && this.#hub.countToken(client.host, client.token) === 0) this.#replay.left(client.host, client.token, channels, replay);
  }

  /** The replay window's news from another node. */
  applyReplay(request: Extract<NodeRequest, { t: 'replayLeft' | 'replayBack' | 'replaySync' }>, taken: boolean): unknown {
    return this.#replay.apply(request, taken);
  }

  /** Frames a token missed while it had no socket, to its new one (before anything live). */
  replayTo(client: Client): void {
    if (!client.route.config.replay) return;
    const missed = this.#replay.back(client.host, client.token);
    // A client that resumes by offsets gets them that way: the plain frames would reach it twice.
    if (!missed || client.protocol.resumes) return;
    for (const frame of missed.frames) this.#hub.send(client, frame);
    this.#events.notice({ kind: 'replayed', client, frames: missed.frames.length, dropped: missed.dropped });
  }

  /** Whether this node's copy of a stream holds everything after `asked`. */
  covers(key: string, asked: Position, limits: HistoryLimits): boolean {
    return this.#history.since(key, asked, limits).recovered;
  }

  /** Whether the shared store may fill a gap this node's copy cannot: not for an epoch no node gives (a made-up one costs no read). */
  worthReading(key: string, asked: Position, limits: HistoryLimits): boolean {
    return mayBeEpoch(asked.epoch) && !this.covers(key, asked, limits);
  }

  /**
   * Before a client that resumes its `@all` or `@token` stream opens: what
   * the shared store holds of each whose gap this node's copy cannot fill
   * (it started later, or was cut off). Read now, so the open can give it at
   * once, before anything live.
   */
  async readStored(host: string, token: string, limits: HistoryLimits, recover: Map<string, Position>): Promise<Map<string, StoredStream> | undefined> {
    if (!this.#broker.shared) return undefined;
    let stored: Map<string, StoredStream> | undefined;
    for (const [stream, selection] of [[ALL_STREAM, { kind: 'all' }], [TOKEN_STREAM, { kind: 'token', token }]] as const) {
      const asked = recover.get(stream);
      const key = stream === ALL_STREAM ? streamKey(host, ALL_STREAM) : tokenStreamKey(host, token);
      if (!asked || !this.worthReading(key, asked, limits)) continue;
      const read = await this.#broker.readStream({ host, key, selection }, asked.offset);
      if (read) (stored ??= new Map()).set(stream, read);
    }
    return stored;
  }

  /** A client that resumes is told of its `@all` and `@token` streams at the open, when its host keeps their history. */
  announceOwnStreams(client: Client): void {
    const history = client.route.config.history;
    if (!history) return;
    this.announce(client, ALL_STREAM, streamKey(client.host, ALL_STREAM), history, 'joined');
    this.announce(client, TOKEN_STREAM, tokenStreamKey(client.host, client.token), history, 'joined');
    client.dropStored();
  }

  /**
   * Tells a client that resumes it is in a stream: where the stream is, and
   * when it said where it stopped (`since`, else the upgrade's `recover`),
   * whether what it missed can be given, followed by exactly that.
   */
  announce(client: Client, stream: string, key: string, limits: HistoryLimits | undefined, how: 'joined' | 'subscribed', since?: Position): void {
    const recovered = client.takeRecover(stream);
    const asked = since ?? recovered;
    let missed: Since | undefined;
    let state: { epoch?: string; offset?: number; recovered?: boolean } = {};
    if (limits && asked) {
      missed = this.#history.since(key, asked, limits);
      const stored = missed.recovered ? undefined : client.storedOf(stream);
      const joined = stored && joinStored(asked, stored, (after) => this.#history.since(key, after, limits));
      if (joined) missed = joined;
      state = { ...missed.top, recovered: missed.recovered };
    } else if (limits) state = { ...this.#history.top(key, limits) };
    else if (asked) state = { recovered: false };
    const protocol = client.protocol;
    this.#hub.send(client, protocol.inStream(stream, how, state));
    if (asked && missed) {
      for (const publication of missed.publications) this.#hub.send(client, protocol.publication(stream, { epoch: missed.top.epoch, offset: publication.offset }, publication.frame));
    }
    if (asked) this.#events.notice({ kind: 'recovered', client, channel: stream, recovered: missed?.recovered ?? false, missed: missed?.publications.length, fromStore: client.storedOf(stream) !== undefined });
  }

  /**
   * Joins a channel once what the client missed is read from the shared
   * store. Until then it is not a member: publications of the channel that
   * arrive meanwhile are held for it, and follow what the store gave, so it
   * gets each once and in order. `enter` makes it a member (false: it cannot be).
   */
  async joinFromStore(client: Client, channel: string, key: string, limits: HistoryLimits, how: 'joined' | 'subscribed', asked: Position, enter: () => boolean): Promise<void> {
    const holding: HeldWhileRecovering = { entries: [], limit: Math.min(limits.size, RECOVERING_HELD), lost: false };
    let waiting = this.#recovering.get(key);
    if (!waiting) this.#recovering.set(key, (waiting = new Set()));
    waiting.add(holding);
    const stored = await this.#broker.readStream({ host: client.host, key, selection: { kind: 'channel', channel } }, asked.offset);
    waiting.delete(holding);
    if (waiting.size === 0) this.#recovering.delete(key);
    if (!client.open || !enter()) return;
    const held = holding.entries;
    const protocol = client.protocol;
    if (holding.lost) this.#events.notice({ kind: 'recoveryHeldFull', client, channel, held: holding.limit });
    if (!covers(asked, stored) || holding.lost) {
      // The store cannot fill it either, or more came meanwhile than was held: what this node holds, said as not recovered unless it fills the gap.
      this.announce(client, channel, key, limits, how, asked);
      for (const { position, frame } of held) this.#hub.send(client, protocol.publication(channel, position, frame));
      return;
    }
    const top = Math.max(stored.offset, held.at(-1)?.position.offset ?? 0);
    this.#hub.send(client, protocol.inStream(channel, how, { epoch: asked.epoch, offset: top, recovered: true }));
    let last = asked.offset;
    for (const entry of stored.entries) {
      this.#hub.send(client, protocol.publication(channel, { epoch: asked.epoch, offset: entry.offset }, entry.frame));
      last = entry.offset;
    }
    for (const { position, frame } of held) {
      if (position.epoch === asked.epoch && position.offset <= last) continue;
      this.#hub.send(client, protocol.publication(channel, position, frame));
    }
    this.#events.notice({ kind: 'recovered', client, channel, recovered: true, missed: stored.entries.length, fromStore: true });
  }

  /**
   * GET /history: a stream's publications after `since` (all it holds without
   * one); undefined when the stream keeps no history.
   */
  history(host: string, stream: { channel: string } | { token: string }, since?: Position): Since | undefined {
    const selection: Selection = 'token' in stream ? { kind: 'token', token: stream.token } : stream.channel === ALL_STREAM ? { kind: 'all' } : { kind: 'channel', channel: stream.channel };
    const target = streamOf(this.#routes.match(host)?.config, host, selection);
    return target?.limits && this.#history.since(target.key, since, target.limits);
  }

  /** A channel's newest kept publication, if it keeps history and holds one now (this node's copy, which a cluster keeps in step). */
  last(host: string, channel: string): Kept | undefined {
    const target = streamOf(this.#routes.match(host)?.config, host, { kind: 'channel', channel });
    return target?.limits && this.#history.last(target.key, target.limits);
  }

  /** Once a second: gone tokens' windows; every tenth, the history of idle streams. */
  sweep(): void {
    this.#replay.sweep();
    if (++this.#sweeps % 10 === 0) this.#history.sweep();
  }

  /** Joins waiting for the shared store now. */
  get waiting(): number {
    let n = 0;
    for (const waiting of this.#recovering.values()) n += waiting.size;
    return n;
  }

  health(): RecoveryHealth {
    return { streams: this.#history.size, replaying: this.#replay.size, bytes: this.#budget.bytes, budget: this.#budget.limit, evicted: this.#budget.evicted };
  }
}
