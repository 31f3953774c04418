/**
 * Recent publications per stream (a channel, a host's `@all`, a token's
 * casts), so a client that drops can be given exactly what it missed. Each
 * stream numbers its publications 1, 2, 3 ... within an epoch; a new epoch
 * (a restart, or a stream that expired and began again) tells a client that
 * its position means nothing here any more.
 *
 * Kept in memory behind HistoryStore, so a cluster can keep it elsewhere.
 */
import { createHash, randomBytes } from 'node:crypto';
import { MemoryBudget, STREAM_OVERHEAD } from './budget.ts';
import type { Held, Holder } from './budget.ts';

export interface HistoryLimits {
  /** Publications kept per stream. */
  size: number;
  /** How long each is kept, in milliseconds. */
  ttlMs: number;
}

export interface Position {
  epoch: string;
  offset: number;
}

export interface Publication {
  offset: number;
  /** The frame as cast: JSON text. */
  frame: string;
}

export interface Since {
  /** Where the stream is now. */
  top: Position;
  /** Whether `publications` are all that came after the position asked about. */
  recovered: boolean;
  /** What the stream holds after the position (all it holds for another epoch or none given). */
  publications: Publication[];
}

/** A stream as Redis held it when asked: its epoch, its newest offset, and the entries after the position asked about. */
export interface StoredStream {
  epoch?: string;
  offset: number;
  entries: Publication[];
}

/** Whether what Redis held follows on from `asked` without a gap: same epoch, and nothing after it lost. */
export function covers(asked: Position, stored: StoredStream | undefined): stored is StoredStream {
  const first = stored?.entries[0];
  return stored !== undefined && stored.epoch === asked.epoch && (first ? first.offset === asked.offset + 1 : stored.offset === asked.offset);
}

/**
 * What a client that stopped at `asked` missed, when this node's copy could
 * not say: what Redis held (`stored`), followed by this node's copy after
 * it (`local`). Undefined when neither fills the gap.
 */
export function joinStored(asked: Position, stored: StoredStream, local: (after: Position) => Since): Since | undefined {
  if (!covers(asked, stored)) return undefined;
  const last = Math.max(stored.offset, stored.entries.at(-1)?.offset ?? 0);
  const after = local({ epoch: asked.epoch, offset: last });
  if (after.recovered) return { top: after.top, recovered: true, publications: [...stored.entries, ...after.publications] };
  // This node's copy has seen none of the epoch yet, or lags behind Redis (what it lacks is on its way and
  // reaches the client live, where wsgate.js drops what it already has): Redis's read is all there is.
  if (after.top.epoch !== asked.epoch || after.top.offset <= last) return { top: { epoch: asked.epoch, offset: last }, recovered: true, publications: stored.entries };
  return undefined;
}

/** A stream's newest publication and when its ttl drops it (ms since the epoch). */
export interface Kept {
  frame: string;
  expires: number;
}

export interface HistoryStore {
  /** Records a publication; returns its position. */
  append(stream: string, frame: string, limits: HistoryLimits, now?: number): Position;
  /** Records a publication numbered elsewhere (by the cluster, in Redis), keeping this node's copy in step. */
  put(stream: string, frame: string, position: Position, limits: HistoryLimits, now?: number): void;
  /** Where a stream is now (a stream never published to starts an epoch at offset 0). */
  top(stream: string, limits: HistoryLimits, now?: number): Position;
  /** What came after `since`; `since` undefined: everything held. */
  since(stream: string, since: Position | undefined, limits: HistoryLimits, now?: number): Since;
  /** The newest publication held, and when its ttl drops it (ms since the epoch): a cache channel's kept event. */
  last(stream: string, limits: HistoryLimits, now?: number): Kept | undefined;
  /** Drops expired publications, and forgets streams left empty and alone for long. */
  sweep(now?: number): void;
  /** Streams held, for tests and /health. */
  readonly size: number;
}

/** A kept publication of a stream: when it was kept, for its ttl. */
interface Entry extends Held {
  readonly time: number;
}

/**
 * A stream's publications, oldest first from `head` (the slots before it are
 * dropped ones, cut off now and then). Grown as publications come, not made
 * at the stream's full size: what a stream costs is what it holds.
 */
interface Ring {
  key: string;
  epoch: string;
  /** The offset of the newest publication (0: none yet). */
  offset: number;
  entries: Array<Entry | undefined>;
  head: number;
  size: number;
  ttlMs: number;
  /** When it was last published to or asked about. */
  touched: number;
  /** Its positions come from the cluster (put), not from this node (append). */
  shared: boolean;
  /** What the budget asks when this stream's oldest publication is the oldest kept anywhere. */
  holder: Holder;
}

const held = (ring: Ring): number => ring.entries.length - ring.head;

/**
 * An emptied stream is forgotten only after it was left alone this long, so a
 * client of a quiet channel still resumes in the same epoch.
 */
const FORGET_AFTER_MS = 3_600_000;

/** Epochs are short and random: a restart must not reuse one. */
export const newEpoch = (): string => randomBytes(6).toString('base64url');

/**
 * Whether an epoch a client names could be one wsgate gave: newEpoch()'s and
 * #unborn()'s are 8 base64url characters. Any other cannot be in the shared
 * store either, so it is answered without asking it.
 */
export const mayBeEpoch = (epoch: string): boolean => /^[A-Za-z0-9_-]{8}$/.test(epoch);

/** The key of a stream within a host: hosts never share a stream. */
export const streamKey = (host: string, stream: string): string => `${host}\n${stream}`;

export class MemoryHistory implements HistoryStore {
  readonly #rings = new Map<string, Ring>();
  readonly #budget: MemoryBudget;
  /** Makes the epochs of streams not yet created: see #unborn(). */
  readonly #salt = randomBytes(12).toString('base64url');
  /** Bumped each time a stream is forgotten, so no epoch #unborn() gives is one a forgotten stream had. */
  #generation = 0;
  /** Streams emptied by their ttl but kept for their epoch, longest empty first: the first to go when over budget. */
  readonly #idle = new Set<Ring>();

  /** `budget`: shared with the replay window, for one bound on all that is kept; a budget of its own without. */
  constructor(budget: MemoryBudget = new MemoryBudget()) {
    this.#budget = budget;
    budget.reclaimWith(() => {
      for (const ring of this.#idle) {
        this.#forget(ring);
        return true;
      }
      return false;
    });
  }

  get size(): number {
    return this.#rings.size;
  }

  /**
   * The epoch a stream that is not held would start with, said to readers
   * without creating it (a read of any name must cost nothing): the same for
   * the same name until any stream is forgotten, and what its first
   * publication then takes. So a client that read the top of a quiet stream
   * (epoch E, offset 0) and comes back after its first publications is told
   * it recovered when it did; once a stream was forgotten meanwhile (rare
   * outside a flood) the epoch differs, and it is told it did not, which is
   * never wrong, only cautious. A forgotten stream's own epoch never comes
   * back: it was made at an earlier generation. Salted per process, so a
   * restart does not reuse one either.
   */
  #unborn(stream: string): string {
    return createHash('sha256').update(`${this.#salt}\n${this.#generation}\n${stream}`).digest('base64url').slice(0, 8);
  }

  /** The stream as it is now (expired publications dropped), or undefined when it is not held. Reads use this. */
  #find(stream: string, limits: HistoryLimits, now: number): Ring | undefined {
    const ring = this.#rings.get(stream);
    if (!ring) return undefined;
    ring.ttlMs = limits.ttlMs;
    ring.touched = now;
    if (ring.size !== limits.size) this.#resize(ring, limits.size);
    this.#expire(ring, now);
    return ring;
  }

  /** The stream to publish to, created when not held. */
  #ring(stream: string, limits: HistoryLimits, now: number): Ring {
    const found = this.#find(stream, limits, now);
    if (found) return found;
    const ring: Ring = { key: stream, epoch: this.#unborn(stream), offset: 0, entries: [], head: 0, size: limits.size, ttlMs: limits.ttlMs, touched: now, shared: false, holder: { evict: () => this.#evict(ring) } };
    this.#rings.set(stream, ring);
    this.#budget.charge(STREAM_OVERHEAD);
    return ring;
  }

  /** A reload changed the size: keep the newest that fit. */
  #resize(ring: Ring, size: number): void {
    ring.size = size;
    while (held(ring) > size) this.#dropOldest(ring);
  }

  #expire(ring: Ring, now: number): void {
    while (held(ring) > 0 && now - ring.entries[ring.head]!.time >= ring.ttlMs) this.#dropOldest(ring);
  }

  #dropOldest(ring: Ring): void {
    const entry = ring.entries[ring.head]!;
    ring.entries[ring.head++] = undefined;
    // The dropped slots are cut off once they are half the array, so each costs O(1) amortised.
    if (ring.head === ring.entries.length) {
      ring.entries = [];
      ring.head = 0;
      this.#idle.add(ring);
    } else if (ring.head >= 32 && ring.head * 2 >= ring.entries.length) {
      ring.entries = ring.entries.slice(ring.head);
      ring.head = 0;
    }
    this.#budget.release(entry);
  }

  /**
   * The budget is over and this stream holds the oldest publication kept:
   * it goes, as if the stream's size had cut it off (a client from before it
   * is told it did not recover). A stream left empty is forgotten: its next
   * publication starts a new epoch, which tells the same to a client that
   * stopped at its last offset, cautious but never wrong.
   */
  #evict(ring: Ring): void {
    if (held(ring) === 0) return;
    this.#dropOldest(ring);
    if (held(ring) === 0) this.#forget(ring);
  }

  #forget(ring: Ring): void {
    // Out of the idle set whatever else: the budget's reclaimer takes from it until it is empty, so it must shrink.
    this.#idle.delete(ring);
    if (this.#rings.get(ring.key) !== ring) return;
    this.#rings.delete(ring.key);
    this.#generation++;
    this.#budget.charge(-STREAM_OVERHEAD);
  }

  append(stream: string, frame: string, limits: HistoryLimits, now = Date.now()): Position {
    const ring = this.#ring(stream, limits, now);
    // Numbering of its own after the cluster's (Redis away): an epoch of its own, so no position means two things.
    if (ring.shared) this.#restart(ring, newEpoch(), 0, false);
    const position = { epoch: ring.epoch, offset: ++ring.offset };
    this.#store(ring, frame, now);
    return position;
  }

  put(stream: string, frame: string, position: Position, limits: HistoryLimits, now = Date.now()): void {
    const ring = this.#ring(stream, limits, now);
    if (ring.epoch === position.epoch && ring.shared && position.offset <= ring.offset) return;
    // Another epoch, or a gap (this node missed some): what it holds no longer leads up to this one.
    if (!ring.shared || ring.epoch !== position.epoch || position.offset !== ring.offset + 1) this.#restart(ring, position.epoch, position.offset - 1, true);
    ring.offset = position.offset;
    this.#store(ring, frame, now);
  }

  #restart(ring: Ring, epoch: string, offset: number, shared: boolean): void {
    while (held(ring) > 0) this.#dropOldest(ring);
    Object.assign(ring, { epoch, offset, shared });
  }

  /** Keeps the stream's newest publication (its offset already counted); the budget may then drop the oldest anywhere, even this. */
  #store(ring: Ring, frame: string, now: number): void {
    if (held(ring) >= ring.size) this.#dropOldest(ring);
    this.#idle.delete(ring);
    const entry: Entry = { frame, bytes: this.#budget.cost(frame), live: true, holder: ring.holder, time: now };
    ring.entries.push(entry);
    this.#budget.add(entry);
  }

  top(stream: string, limits: HistoryLimits, now = Date.now()): Position {
    const ring = this.#find(stream, limits, now);
    return ring ? { epoch: ring.epoch, offset: ring.offset } : { epoch: this.#unborn(stream), offset: 0 };
  }

  since(stream: string, since: Position | undefined, limits: HistoryLimits, now = Date.now()): Since {
    const ring = this.#find(stream, limits, now);
    if (!ring) {
      // Nothing held: a position at the start of the epoch a first publication would take misses nothing.
      const top = { epoch: this.#unborn(stream), offset: 0 };
      return { top, recovered: since !== undefined && since.epoch === top.epoch && since.offset === 0, publications: [] };
    }
    const top = { epoch: ring.epoch, offset: ring.offset };
    const count = held(ring);
    const oldest = ring.offset - count + 1;
    // Recoverable: same epoch, not ahead of us, and nothing between it and the oldest held is lost.
    const recovered = since !== undefined && since.epoch === ring.epoch && since.offset <= ring.offset && since.offset >= oldest - 1;
    // Not recovered: still everything held after the position (all of another epoch), so
    // a client misses only what is truly gone, and is told it may have.
    const after = since !== undefined && since.epoch === ring.epoch && since.offset <= ring.offset ? since.offset : 0;
    const from = Math.max(oldest, after + 1);
    const publications: Publication[] = [];
    for (let offset = from; offset <= ring.offset; offset++) {
      publications.push({ offset, frame: ring.entries[ring.head + (offset - oldest)]!.frame });
    }
    return { top, recovered, publications };
  }

  last(stream: string, limits: HistoryLimits, now = Date.now()): Kept | undefined {
    const ring = this.#find(stream, limits, now);
    const entry = ring && held(ring) > 0 ? ring.entries.at(-1) : undefined;
    return entry && { frame: entry.frame, expires: entry.time + ring!.ttlMs };
  }

  sweep(now = Date.now()): void {
    for (const ring of this.#rings.values()) {
      this.#expire(ring, now);
      if (held(ring) === 0 && now - ring.touched >= ring.ttlMs + FORGET_AFTER_MS) this.#forget(ring);
    }
  }
}
