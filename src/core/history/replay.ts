/**
 * Transparent replay for clients that know nothing of offsets (Phlo's page
 * script): when a token's last socket closes, the frames that would have
 * reached it are kept for a short window, and its next socket gets them, in
 * order, before anything live.
 */
import { MemoryBudget } from './budget.ts';
import type { Held, Holder } from './budget.ts';
import type { Selection } from '../targets.ts';

export interface ReplayLimits {
  /** How long a gone token's frames are kept, in milliseconds. */
  windowMs: number;
  /** At most this many frames per token; the oldest go first. */
  frames: number;
}

/** A token with no open socket on its host, and what it missed so far. */
interface Absent {
  host: string;
  token: string;
  until: number;
  channels: readonly string[];
  /** Counted in the budget shared with history. */
  frames: Held[];
  /** Frames that did not fit, or were evicted for the budget. */
  dropped: number;
  limit: number;
  /** Its last socket closed on this node (not on another node of the cluster). */
  here: boolean;
  /** It left while the other nodes of the cluster could not be told. */
  solo: boolean;
  holder: Holder;
}

/** How a token came to be kept: on this node or another, and whether the others were told. */
export interface LeftHow {
  here?: boolean;
  solo?: boolean;
}

/** A gone token as one node keeps it, for another. */
export interface Kept {
  host: string;
  token: string;
  channels: string[];
  /** What is left of its window, in milliseconds. */
  windowMs: number;
  frames: string[];
  dropped: number;
}

export interface Missed {
  frames: string[];
  dropped: number;
}

const key = (host: string, name: string): string => `${host}\n${name}`;
/** How tokens are told apart across hosts, here and in a cluster sync. */
export const replayKey = key;

export class Replay {
  readonly #budget: MemoryBudget;
  /** By host and token. */
  readonly #absent = new Map<string, Absent>();
  /** By host: the absent tokens of each, for host-wide casts (and the fast "none here" test). */
  readonly #byHost = new Map<string, Set<Absent>>();
  /** By host and channel: the absent tokens whose last socket was in it. */
  readonly #byChannel = new Map<string, Set<Absent>>();

  /** `budget`: shared with history; without, one that never evicts (a scratch copy, as ReplaySync's). */
  constructor(budget: MemoryBudget = new MemoryBudget(Infinity)) {
    this.#budget = budget;
  }

  get size(): number {
    return this.#absent.size;
  }

  /**
   * The token's last socket on `host` closed, a member of `channels`. In a
   * cluster the token may already be kept (its last sockets on two nodes
   * closed at about the same time): what it missed so far stays, its window
   * runs from now, and it is kept for the channels of both.
   */
  left(host: string, token: string, channels: readonly string[], limits: ReplayLimits, now = Date.now(), how: LeftHow = {}): void {
    const k = key(host, token);
    let absent = this.#absent.get(k);
    // One whose window is over but not yet swept begins again.
    if (absent && absent.until <= now) {
      this.#forget(k);
      absent = undefined;
    }
    if (absent) {
      absent.until = Math.max(absent.until, now + limits.windowMs);
      absent.here ||= how.here === true;
      absent.solo ||= how.solo === true;
    } else {
      const created: Absent = { host, token, until: now + limits.windowMs, channels: [], frames: [], dropped: 0, limit: limits.frames, here: how.here === true, solo: how.solo === true, holder: { evict: () => this.#dropOldest(created) } };
      absent = created;
      this.#absent.set(k, absent);
      let hosted = this.#byHost.get(host);
      if (!hosted) this.#byHost.set(host, (hosted = new Set()));
      hosted.add(absent);
    }
    const added = channels.filter((channel) => !absent.channels.includes(channel));
    if (added.length) absent.channels = [...absent.channels, ...added];
    for (const channel of added) {
      const ck = key(host, channel);
      let members = this.#byChannel.get(ck);
      if (!members) this.#byChannel.set(ck, (members = new Set()));
      members.add(absent);
    }
  }

  /**
   * What is kept now, for a node that joins the cluster later: each token
   * with the rest of its window. At most about `bytes` of frames in all, the
   * newest of each token first: the answer is one Redis message, and a
   * subscriber whose output buffer overflows is cut off by Redis.
   */
  kept(now = Date.now(), bytes = Infinity): Kept[] {
    const kept: Kept[] = [];
    let left = bytes;
    for (const absent of this.#absent.values()) {
      if (absent.until <= now) continue;
      const { host, token, channels, dropped } = absent;
      let from = absent.frames.length;
      while (from > 0 && left >= absent.frames[from - 1]!.frame.length) left -= absent.frames[--from]!.frame.length;
      kept.push({ host, token, channels: [...channels], windowMs: absent.until - now, frames: absent.frames.slice(from).map((held) => held.frame), dropped: dropped + from });
    }
    return kept;
  }

  /** The gone tokens kept now. */
  *gone(): IterableIterator<{ host: string; token: string }> {
    for (const { host, token } of this.#absent.values()) yield { host, token };
  }

  /** How many frames the token missed so far (kept and dropped), or undefined when it is not kept. */
  missed(host: string, token: string): number | undefined {
    const absent = this.#absent.get(key(host, token));
    return absent && absent.frames.length + absent.dropped;
  }

  /** Keeps a token as another node kept it (see kept()), in place of what this node kept of it, if anything. */
  adopt(kept: Kept, limits: ReplayLimits, now = Date.now()): void {
    this.#forget(key(kept.host, kept.token));
    this.left(kept.host, kept.token, kept.channels, { windowMs: Math.min(kept.windowMs, limits.windowMs), frames: limits.frames }, now);
    const absent = this.#absent.get(key(kept.host, kept.token))!;
    const frames = kept.frames.slice(-limits.frames);
    absent.dropped = kept.dropped + (kept.frames.length - frames.length);
    for (const frame of frames) this.#keep(absent, frame);
  }

  /** The tokens that left while the cluster could not be told: now it can. Each is said once. */
  takeSolo(): Array<{ host: string; token: string; channels: string[] }> {
    const solo: Array<{ host: string; token: string; channels: string[] }> = [];
    for (const absent of this.#absent.values()) {
      if (!absent.solo) continue;
      absent.solo = false;
      solo.push({ host: absent.host, token: absent.token, channels: [...absent.channels] });
    }
    return solo;
  }

  /** Whether the token left while the cluster could not be told (and has not been told since). */
  isSolo(host: string, token: string): boolean {
    return this.#absent.get(key(host, token))?.solo === true;
  }

  /** The token has a socket again somewhere else (another node): nothing is kept for it any longer. */
  forget(host: string, token: string): void {
    this.#forget(key(host, token));
  }

  /** A socket of the token opened: what it missed within the window, if anything; forgets the token either way. */
  back(host: string, token: string, now = Date.now()): Missed | undefined {
    const k = key(host, token);
    const absent = this.#absent.get(k);
    if (!absent) return undefined;
    const frames = absent.frames.map((held) => held.frame);
    this.#forget(k);
    if (absent.until <= now || (frames.length === 0 && absent.dropped === 0)) return undefined;
    return { frames, dropped: absent.dropped };
  }

  /** A frame cast on `host`: kept for every absent token it would have reached. */
  record(host: string, selection: Selection, frame: string): void {
    const hosted = this.#byHost.get(host);
    if (!hosted) return;
    // Measured once, however many tokens keep it.
    let bytes: number | undefined;
    const keep = (absent: Absent) => this.#keep(absent, frame, (bytes ??= this.#budget.cost(frame)));
    switch (selection.kind) {
      case 'all':
        for (const absent of hosted) keep(absent);
        break;
      case 'notToken':
        for (const absent of hosted) if (absent.token !== selection.token) keep(absent);
        break;
      case 'token': {
        const absent = this.#absent.get(key(host, selection.token));
        if (absent) keep(absent);
        break;
      }
      case 'channel':
        this.#byChannel.get(key(host, selection.channel))?.forEach(keep);
        break;
      case 'sockets':
        // Socket ids die with their sockets: a new socket has a new id.
        break;
    }
  }

  /** Forgets tokens whose window is over; calls `expired` for each that had missed frames (`here`: it left this node). */
  sweep(now = Date.now(), expired?: (host: string, token: string, frames: number, here: boolean) => void): void {
    for (const [k, absent] of this.#absent) {
      if (absent.until > now) continue;
      const frames = absent.frames.length;
      this.#forget(k);
      if (frames > 0) expired?.(absent.host, absent.token, frames + absent.dropped, absent.here);
    }
  }

  #forget(k: string): void {
    const absent = this.#absent.get(k);
    if (!absent) return;
    this.#absent.delete(k);
    for (const held of absent.frames) this.#budget.release(held);
    absent.frames = [];
    const hosted = this.#byHost.get(absent.host);
    hosted?.delete(absent);
    if (hosted?.size === 0) this.#byHost.delete(absent.host);
    for (const channel of absent.channels) {
      const ck = key(absent.host, channel);
      const members = this.#byChannel.get(ck);
      members?.delete(absent);
      if (members?.size === 0) this.#byChannel.delete(ck);
    }
  }

  /** One more frame the token missed: past its limit, its oldest goes. Shared with history, the budget may take the oldest anywhere. */
  #keep(absent: Absent, frame: string, bytes?: number): void {
    if (absent.frames.length >= absent.limit) this.#dropOldest(absent);
    const held = this.#budget.entry(frame, absent.holder, bytes);
    absent.frames.push(held);
    this.#budget.add(held);
  }

  /** Its oldest frame goes (its limit, or the budget): the client is told how many it lost when it comes back. */
  #dropOldest(absent: Absent): void {
    const held = absent.frames.shift();
    if (!held) return;
    absent.dropped++;
    this.#budget.release(held);
  }
}
