/**
 * A node joining the cluster (or coming back to it after Redis was away)
 * learns what the others keep for gone tokens. Its request goes on the bus
 * like any other, and its place there splits the casts: the others' answers
 * hold what was cast before it, and this node notes what is cast after it
 * (every node records casts for replay in bus order), so once the answers
 * are in it can put the two together, each frame once.
 */
import * as v from 'valibot';
import { Replay, replayKey } from './replay.ts';
import type { Kept, ReplayLimits } from './replay.ts';
import type { Selection } from '../targets.ts';
import { ENTRY_OVERHEAD } from './budget.ts';
import { utf8Length } from '../utf8.ts';


/** A node's answer to `replaySync`: each gone token it keeps, with the rest of its window. */
export const KeptListSchema = v.array(
  v.object({
    host: v.string(),
    token: v.string(),
    channels: v.array(v.string()),
    // The adopting node caps it at its own window.
    windowMs: v.pipe(v.number(), v.minValue(0)),
    frames: v.array(v.string()),
    dropped: v.pipe(v.number(), v.integer(), v.minValue(0)),
  }),
) satisfies v.GenericSchema<unknown, Kept[]>;

/** What the others' answers may hold in all: one Redis message, well under a subscriber's output limit. */
export const SYNC_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * What the casts noted while the answers are awaited may hold in all (their
 * frames plus ENTRY_OVERHEAD each). A flood during a sync must not grow them
 * without end: past it, the sync is given up (see overflowed).
 */
export const SYNC_CASTS_BYTES = 16 * 1024 * 1024;

export interface MergeOptions {
  /** The host's replay limits here; undefined when this node does not replay it. */
  limits(host: string): ReplayLimits | undefined;
  /** Whether this node holds a socket of the token (then it is not gone). */
  present(host: string, token: string): boolean;
  now?: number;
}

export interface Merged {
  /** Tokens taken over from the others' answers. */
  adopted: number;
  /** Tokens this node kept but no other node does any longer: they came back while it was away. */
  forgotten: number;
  /** Answers that were not a list of kept tokens. */
  invalid: number;
}

export class ReplaySync {
  /** Casts kept for replay since the split, to apply to what the answers bring. */
  readonly #casts: Array<{ host: string; selection: Selection; frame: string }> = [];
  /** Tokens that came back since the split: what the answers say of them is out of date. */
  readonly #back = new Set<string>();
  /** The tokens this node kept at the split, by replayKey(); undefined until its own request came back from the bus. */
  #before: Map<string, { host: string; token: string }> | undefined;
  #castBytes = 0;
  readonly #castLimit: number;
  /** The casts since the split outgrew their limit: they are gone, and merge() takes nothing over. */
  #overflowed = false;

  constructor(castLimit = SYNC_CASTS_BYTES) {
    this.#castLimit = castLimit;
  }

  /** Whether the casts noted outgrew their limit (then merge() took nothing over). */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** This node's own request came back from the bus: from here on, what happens is noted. */
  split(replay: Replay): void {
    this.#before = new Map([...replay.gone()].map((gone) => [replayKey(gone.host, gone.token), gone]));
  }

  get started(): boolean {
    return this.#before !== undefined;
  }

  cast(host: string, selection: Selection, frame: string): void {
    if (!this.#before || this.#overflowed) return;
    this.#castBytes += utf8Length(frame) + ENTRY_OVERHEAD;
    if (this.#castBytes <= this.#castLimit) {
      this.#casts.push({ host, selection, frame });
      return;
    }
    // Without every cast since the split, what the answers bring cannot be brought up to date: this node keeps its own.
    this.#overflowed = true;
    this.#casts.length = 0;
  }

  back(host: string, token: string): void {
    if (this.#before) this.#back.add(replayKey(host, token));
  }

  /**
   * Puts the others' answers into `replay`. A token the others missed more
   * of than this node replaces this node's copy (it was away for part of
   * it); a token this node kept before the split that no answering node
   * keeps came back while it was away, unless it left here unannounced.
   */
  merge(replay: Replay, answers: unknown[], options: MergeOptions): Merged {
    const merged: Merged = { adopted: 0, forgotten: 0, invalid: 0 };
    const before = this.#before;
    if (!before || this.#overflowed) return merged;
    const now = options.now ?? Date.now();
    const size = (kept: Kept) => kept.frames.length + kept.dropped;
    const best = new Map<string, Kept>();
    let valid = 0;
    for (const answer of answers) {
      const parsed = v.safeParse(KeptListSchema, answer);
      if (!parsed.success) {
        merged.invalid++;
        continue;
      }
      valid++;
      for (const kept of parsed.output) {
        const k = replayKey(kept.host, kept.token);
        const have = best.get(k);
        if (!have || size(kept) > size(have)) best.set(k, kept);
      }
    }
    if (valid > 0) {
      for (const [k, { host, token }] of before) {
        if (best.has(k)) continue;
        if (replay.missed(host, token) === undefined || replay.isSolo(host, token)) continue;
        replay.forget(host, token);
        merged.forgotten++;
      }
    }
    // Taken apart first, so the casts since the split reach exactly the tokens taken over.
    const taken = new Replay();
    for (const [k, kept] of best) {
      const limits = options.limits(kept.host);
      if (!limits || this.#back.has(k) || options.present(kept.host, kept.token)) continue;
      const mine = before.has(k) ? replay.missed(kept.host, kept.token) : undefined;
      if (mine !== undefined && mine >= size(kept)) continue;
      taken.adopt(kept, limits, now);
    }
    for (const { host, selection, frame } of this.#casts) taken.record(host, selection, frame);
    for (const kept of taken.kept(now)) {
      replay.adopt(kept, options.limits(kept.host)!, now);
      merged.adopted++;
    }
    return merged;
  }
}
