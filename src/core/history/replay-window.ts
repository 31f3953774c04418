/**
 * The replay window of a gateway: what gone tokens missed (Replay), and, in a
 * cluster, the news that keeps every node's copy the same. A token's last
 * socket on a node closes: that node says so and every node keeps its
 * frames; a node still holding a socket of the token says it is back; the
 * node it comes back to gives the frames and tells the others to forget
 * them; a node that joins asks the others what they keep (ReplaySync).
 */
import type { Broker } from '../broker.ts';
import type { NodeRequest } from '../requests.ts';
import { ReplaySync, SYNC_ANSWER_BYTES, SYNC_CASTS_BYTES } from './replay-sync.ts';
import { newEpoch } from './history.ts';
import type { CoreEvents } from '../events.ts';
import type { MemoryBudget } from './budget.ts';
import { Replay } from './replay.ts';
import type { Missed, ReplayLimits } from './replay.ts';
import type { Selection } from '../targets.ts';

type ReplayRequest = Extract<NodeRequest, { t: 'replayLeft' | 'replayBack' | 'replaySync' }>;

export interface ReplayWindowOptions {
  /** The host's replay limits; undefined when it does not replay. */
  limits(host: string): ReplayLimits | undefined;
  /** Sockets of the token open on this node. */
  sockets(host: string, token: string): number;
  /** Whether any host replays (a node with none has nothing to sync). */
  anyHost(): boolean;
  /** Where syncs and expiries are reported. */
  events: CoreEvents;
  /** Shared with history: one bound on all the process keeps of past frames. */
  budget?: MemoryBudget;
  /** How the other nodes are told, and asked what they keep. */
  broker: Broker;
}

export class ReplayWindow {
  readonly #replay: Replay;
  /** Syncs under way, by request: what each notes from its request's place on the bus. */
  readonly #syncs = new Map<string, ReplaySync>();
  readonly #options: ReplayWindowOptions;
  readonly #broker: Broker;

  constructor(options: ReplayWindowOptions) {
    this.#options = options;
    this.#replay = new Replay(options.budget);
    this.#broker = options.broker;
  }

  /** Gone tokens kept now. */
  get size(): number {
    return this.#replay.size;
  }

  /** A cast on a host that replays: kept for every gone token it would have reached. */
  record(host: string, selection: Selection, frame: string): void {
    this.#replay.record(host, selection, frame);
    for (const sync of this.#syncs.values()) sync.cast(host, selection, frame);
  }

  /**
   * A plain client's last socket of the token on this node closed. Every
   * node keeps its frames, so it gets them on whichever node it comes back
   * to; the others are told once they can be (after Redis comes back), if not now.
   */
  left(host: string, token: string, channels: string[], limits: ReplayLimits): void {
    const told = this.#broker.notify({ t: 'replayLeft', host, token, channels });
    this.#replay.left(host, token, channels, limits, undefined, { here: true, solo: !told });
  }

  /** A socket of the token opened here: what it missed, if anything; no node keeps anything for it any longer. */
  back(host: string, token: string): Missed | undefined {
    const missed = this.#replay.back(host, token);
    for (const sync of this.#syncs.values()) sync.back(host, token);
    // The other nodes kept the same frames: they forget them, or they would give them again after its next leave.
    this.#broker.notify({ t: 'replayBack', host, token });
    return missed;
  }

  /** The news of another node (or this node's own sync request, back from the bus). */
  apply(request: ReplayRequest, own: boolean): unknown {
    switch (request.t) {
      case 'replayLeft':
        return this.#leftElsewhere(request.host, request.token, request.channels);
      case 'replayBack':
        for (const sync of this.#syncs.values()) sync.back(request.host, request.token);
        return this.#replay.forget(request.host, request.token);
      case 'replaySync':
        if (!own) return this.#replay.kept(Date.now(), SYNC_ANSWER_BYTES);
        this.#syncs.get(request.sync)?.split(this.#replay);
        return [];
    }
  }

  /**
   * Another node's last socket of a token closed. This node keeps what
   * reaches the token from now on, unless it still holds a socket of it:
   * then the token is not gone, and every node is told so.
   */
  #leftElsewhere(host: string, token: string, channels: string[]): void {
    const limits = this.#options.limits(host);
    if (!limits) return;
    if (this.#options.sockets(host, token) > 0) this.#broker.notify({ t: 'replayBack', host, token });
    else this.#replay.left(host, token, channels, limits);
  }

  /**
   * A node that joins the cluster (or comes back to it) takes over what the
   * others keep for gone tokens, so a token that left before it started gets
   * its frames here too; then it tells the others of the tokens that left it
   * while they could not be told.
   */
  async sync(): Promise<void> {
    const broker = this.#broker;
    const node = broker.status()?.node;
    if (!this.#options.anyHost()) return;
    const id = newEpoch();
    const sync = new ReplaySync();
    this.#syncs.set(id, sync);
    let gathered: Awaited<ReturnType<Broker['gather']>>;
    try {
      gathered = await broker.gather({ t: 'replaySync', sync: id });
    } finally {
      this.#syncs.delete(id);
    }
    const { events } = this.#options;
    if (!sync.started) return events.notice({ kind: 'replaySyncFailed', node, how: 'incomplete', reason: gathered.spread?.degraded ?? 'its own request did not come back in time' });
    if (sync.overflowed) {
      events.notice({ kind: 'replaySyncFailed', node, how: 'abandoned', reason: `more than ${SYNC_CASTS_BYTES} bytes of casts arrived while the answers were awaited; gone tokens that left before this node joined are not kept here` });
      for (const solo of this.#replay.takeSolo()) broker.notify({ t: 'replayLeft', ...solo });
      return;
    }
    const answers = [...gathered.results].filter(([from]) => from !== node).map(([, result]) => result);
    const merged = sync.merge(this.#replay, answers, { limits: this.#options.limits, present: (host, token) => this.#options.sockets(host, token) > 0 });
    for (const solo of this.#replay.takeSolo()) broker.notify({ t: 'replayLeft', ...solo });
    events.notice({ kind: 'replaySynced', node, tokens: merged.adopted, forgotten: merged.forgotten, invalid: merged.invalid });
  }

  /** Forgets tokens whose window is over (every node keeps them; `here`: the token left this node). */
  sweep(): void {
    this.#replay.sweep(undefined, (host, token, frames, here) => this.#options.events.notice({ kind: 'replayExpired', host, token, frames, here }));
  }
}
