/**
 * What the core tells the world: sockets opened, closed and refused, hooks
 * run, casts delivered. Metrics, the dashboard's feed and the log observe
 * these (src/ops/observers.ts); the core calls none of them itself.
 */
import type { Client } from './client.ts';
import type { HookName } from '../hooks/runners/runner.ts';
import type { Traffic } from './hub.ts';
import type { Member } from './protocol.ts';

/** One hook run as it ended. */
export interface HookRun {
  host: string;
  socket: string;
  hook: HookName;
  /** The configured host key, the metrics label. */
  label: string;
  mode: string;
  seconds: number;
  outcome: 'ok' | 'failed' | 'cancelled' | 'busy';
  error?: string;
  stderr?: string;
}

/** An upgrade turned away, before or during auth. */
export interface UpgradeRefusal {
  /** The host it named ("" when its Host header was unusable). */
  host: string;
  /** What the log shows as the host, when not `host` (the unusable header, quoted). */
  shown?: string;
  /** Why, in one word, for /metrics. */
  kind: string;
  /** Why, for the log. */
  reason: string;
  /** warn: the gateway or its config turned it away; info: the client's own doing. */
  level: 'info' | 'warn';
  socket?: string;
  /** The token's short hash. */
  token?: string;
  origin?: string;
}

/** Why the gateway closes a client (its own close is reported by `closed` when it completes). */
export type Closing =
  | { kind: 'limit'; code: number; reason: string }
  | { kind: 'idle'; code: number; seconds: number }
  | { kind: 'disconnect'; code: number }
  | { kind: 'host_removed' | 'connect_refused'; code: number }
  /** Handling one of its frames threw: a bug of ours, closed rather than left half-handled. */
  | { kind: 'error'; code: number; error: string };

/**
 * What the core did that only the log tells: recoveries, replays, refusals
 * and the debug trail of joins and casts. One union, so an observer sees
 * every kind in one switch and a new kind is a compile error there.
 */
export type Notice =
  | { kind: 'replayed'; client: Client; frames: number; dropped: number }
  /** A client that resumes was told whether what it missed in a stream could be given (`fromStore`: read from the shared store). */
  | { kind: 'recovered'; client: Client; channel: string; recovered: boolean; missed?: number; fromStore: boolean }
  /** More publications came while a join waited for the shared store than it could hold. */
  | { kind: 'recoveryHeldFull'; client: Client; channel: string; held: number }
  | { kind: 'replaySynced'; node?: string; tokens: number; forgotten: number; invalid: number }
  | { kind: 'replaySyncFailed'; node?: string; how: 'incomplete' | 'abandoned' | 'failed'; reason: string }
  /** A gone token's window ended with frames kept (`here`: the token left this node). The token is raw: the observer hashes it. */
  | { kind: 'replayExpired'; host: string; token: string; frames: number; here: boolean }
  /** The history budget evicts (first time, then at most once a minute): what since the last notice. */
  | { kind: 'historyBudgetFull'; bytes: number; budget: number; evicted: number; evictedTotal: number }
  | { kind: 'grantIgnored'; host: string; socket: string; hook: HookName; problem: string }
  /** A message of a client that resumes did not reach the app; it was told so. */
  | { kind: 'messageRefused'; client: Client; reason: string }
  | { kind: 'subscribe'; client: Client; channel: string; refused: boolean }
  | { kind: 'joined'; client: Client; channel: string }
  /** The app (re)placed every socket a selection picks in a channel, or took them out. */
  | { kind: 'subscribed'; host: string; channel: string; target: string; sockets: number; join: boolean };

export interface CoreObserver {
  notice?(notice: Notice): void;
  /** The gateway closes a client, and why. */
  closing?(client: Client, closing: Closing): void;
  /** An upgrade refused; `label` is the configured host key ("" for strangers). */
  refused?(refusal: UpgradeRefusal, label: string): void;
  opened?(client: Client, tokenHash: string, sockets: number): void;
  closed?(client: Client, code: number, sockets: number): void;
  hook?(run: HookRun): void;
  /** A publication delivered to this node's sockets; `label` is the configured host key; `taken`: this node took it from a caller (it counts as a cast here). */
  cast?(host: string, label: string, kind: string, sent: number, taken: boolean): void;
  /** A channel got its first socket (`occupied`) or lost its last, on this node. */
  channel?(host: string, channel: string, occupied: boolean): void;
  /** A user came to (`added`) or left a channel with members by user. */
  member?(host: string, channel: string, member: Member, added: boolean): void;
  /** A client subscribed to a channel that gives its last publication, and there was none. */
  cacheMiss?(host: string, channel: string): void;
  /** A client sent an event to the others in a channel. */
  clientEvent?(client: Client, channel: string, event: string, data: unknown, user?: string): void;
}

const NO_TRAFFIC: Traffic = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0 };

export class CoreEvents {
  readonly #observers: CoreObserver[] = [];
  #traffic: (label: string) => Traffic = () => NO_TRAFFIC;

  observe(observer: CoreObserver): void {
    this.#observers.push(observer);
    if (observer.channel) this.wantsChannels = true;
  }

  /** Some observer takes channel events: only then is occupancy asked of the member store (a round trip among nodes). */
  wantsChannels = false;

  /** Where a host's frames in and out are counted. */
  countTrafficWith(traffic: (label: string) => Traffic): void {
    this.#traffic = traffic;
  }

  traffic(label: string): Traffic {
    return this.#traffic(label);
  }

  refused(refusal: UpgradeRefusal, label: string): void {
    for (const o of this.#observers) o.refused?.(refusal, label);
  }

  opened(client: Client, tokenHash: string, sockets: number): void {
    for (const o of this.#observers) o.opened?.(client, tokenHash, sockets);
  }

  closed(client: Client, code: number, sockets: number): void {
    for (const o of this.#observers) o.closed?.(client, code, sockets);
  }

  closing(client: Client, closing: Closing): void {
    for (const o of this.#observers) o.closing?.(client, closing);
  }

  hook(run: HookRun): void {
    for (const o of this.#observers) o.hook?.(run);
  }

  cast(host: string, label: string, kind: string, sent: number, taken: boolean): void {
    for (const o of this.#observers) o.cast?.(host, label, kind, sent, taken);
  }

  notice(notice: Notice): void {
    for (const o of this.#observers) o.notice?.(notice);
  }

  channel(host: string, channel: string, occupied: boolean): void {
    for (const o of this.#observers) o.channel?.(host, channel, occupied);
  }

  member(host: string, channel: string, member: Member, added: boolean): void {
    for (const o of this.#observers) o.member?.(host, channel, member, added);
  }

  cacheMiss(host: string, channel: string): void {
    for (const o of this.#observers) o.cacheMiss?.(host, channel);
  }

  clientEvent(client: Client, channel: string, event: string, data: unknown, user?: string): void {
    for (const o of this.#observers) o.clientEvent?.(client, channel, event, data, user);
  }
}
