/**
 * Recent publications per stream (a channel, a host's `@all`, a token's
 * casts), so a client that drops can be given exactly what it missed. Each
 * stream numbers its publications 1, 2, 3 ... within an epoch; a new epoch
 * (a restart, or a stream that expired and began again) tells a client that
 * its position means nothing here any more.
 *
 * Kept in memory behind HistoryStore, so a cluster can keep it elsewhere.
 */
import { randomBytes } from 'node:crypto';

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

export interface HistoryStore {
  /** Records a publication; returns its position. */
  append(stream: string, frame: string, limits: HistoryLimits, now?: number): Position;
  /** Records a publication numbered elsewhere (by the cluster, in Redis), keeping this node's copy in step. */
  put(stream: string, frame: string, position: Position, limits: HistoryLimits, now?: number): void;
  /** Where a stream is now (a stream never published to starts an epoch at offset 0). */
  top(stream: string, limits: HistoryLimits, now?: number): Position;
  /** What came after `since`; `since` undefined: everything held. */
  since(stream: string, since: Position | undefined, limits: HistoryLimits, now?: number): Since;
  /** Drops expired publications, and forgets streams left empty and alone for long. */
  sweep(now?: number): void;
  /** Streams held, for tests and /health. */
  readonly size: number;
}

/** A stream's publications in a ring: `start` is the oldest held, `count` how many. */
interface Ring {
  epoch: string;
  /** The offset of the newest publication (0: none yet). */
  offset: number;
  frames: string[];
  times: number[];
  start: number;
  count: number;
  ttlMs: number;
  /** When it was last published to or asked about. */
  touched: number;
  /** Its positions come from the cluster (put), not from this node (append). */
  shared: boolean;
}

/**
 * An emptied stream is forgotten only after it was left alone this long, so a
 * client of a quiet channel still resumes in the same epoch.
 */
const FORGET_AFTER_MS = 3_600_000;

/** Epochs are short and random: a restart must not reuse one. */
export const newEpoch = (): string => randomBytes(6).toString('base64url');

/** The key of a stream within a host: hosts never share a stream. */
export const streamKey = (host: string, stream: string): string => `${host}\n${stream}`;

export class MemoryHistory implements HistoryStore {
  readonly #rings = new Map<string, Ring>();

  get size(): number {
    return this.#rings.size;
  }

  #ring(stream: string, limits: HistoryLimits, now: number): Ring {
    let ring = this.#rings.get(stream);
    if (ring && ring.frames.length !== limits.size) ring = this.#resize(stream, ring, limits);
    if (!ring) {
      ring = { epoch: newEpoch(), offset: 0, frames: new Array(limits.size), times: new Array(limits.size), start: 0, count: 0, ttlMs: limits.ttlMs, touched: now, shared: false };
      this.#rings.set(stream, ring);
    }
    ring.ttlMs = limits.ttlMs;
    ring.touched = now;
    this.#expire(ring, now);
    return ring;
  }

  /** A reload changed the size: keep the newest that fit. */
  #resize(stream: string, old: Ring, limits: HistoryLimits): Ring {
    const keep = Math.min(old.count, limits.size);
    const ring: Ring = { ...old, frames: new Array(limits.size), times: new Array(limits.size), start: 0, count: keep };
    for (let i = 0; i < keep; i++) {
      const from = (old.start + old.count - keep + i) % old.frames.length;
      ring.frames[i] = old.frames[from]!;
      ring.times[i] = old.times[from]!;
    }
    this.#rings.set(stream, ring);
    return ring;
  }

  #expire(ring: Ring, now: number): void {
    while (ring.count > 0 && now - ring.times[ring.start]! >= ring.ttlMs) {
      ring.frames[ring.start] = undefined as unknown as string;
      ring.start = (ring.start + 1) % ring.frames.length;
      ring.count--;
    }
  }

  append(stream: string, frame: string, limits: HistoryLimits, now = Date.now()): Position {
    const ring = this.#ring(stream, limits, now);
    // Numbering of its own after the cluster's (Redis away): an epoch of its own, so no position means two things.
    if (ring.shared) this.#restart(ring, newEpoch(), 0, false);
    this.#store(ring, frame, now);
    ring.offset++;
    return { epoch: ring.epoch, offset: ring.offset };
  }

  put(stream: string, frame: string, position: Position, limits: HistoryLimits, now = Date.now()): void {
    const ring = this.#ring(stream, limits, now);
    if (ring.epoch === position.epoch && ring.shared && position.offset <= ring.offset) return;
    // Another epoch, or a gap (this node missed some): what it holds no longer leads up to this one.
    if (!ring.shared || ring.epoch !== position.epoch || position.offset !== ring.offset + 1) this.#restart(ring, position.epoch, position.offset - 1, true);
    this.#store(ring, frame, now);
    ring.offset = position.offset;
  }

  #restart(ring: Ring, epoch: string, offset: number, shared: boolean): void {
    ring.frames.fill(undefined as unknown as string);
    Object.assign(ring, { epoch, offset, start: 0, count: 0, shared });
  }

  #store(ring: Ring, frame: string, now: number): void {
    const capacity = ring.frames.length;
    const at = (ring.start + ring.count) % capacity;
    ring.frames[at] = frame;
    ring.times[at] = now;
    if (ring.count < capacity) ring.count++;
    else ring.start = (ring.start + 1) % capacity;
  }

  top(stream: string, limits: HistoryLimits, now = Date.now()): Position {
    const ring = this.#ring(stream, limits, now);
    return { epoch: ring.epoch, offset: ring.offset };
  }

  since(stream: string, since: Position | undefined, limits: HistoryLimits, now = Date.now()): Since {
    const ring = this.#ring(stream, limits, now);
    const top = { epoch: ring.epoch, offset: ring.offset };
    const oldest = ring.offset - ring.count + 1;
    // Recoverable: same epoch, not ahead of us, and nothing between it and the oldest held is lost.
    const recovered = since !== undefined && since.epoch === ring.epoch && since.offset <= ring.offset && since.offset >= oldest - 1;
    // Not recovered: still everything held after the position (all of another epoch), so
    // a client misses only what is truly gone, and is told it may have.
    const after = since !== undefined && since.epoch === ring.epoch && since.offset <= ring.offset ? since.offset : 0;
    const from = Math.max(oldest, after + 1);
    const publications: Publication[] = [];
    for (let offset = from; offset <= ring.offset; offset++) {
      publications.push({ offset, frame: ring.frames[(ring.start + (offset - oldest)) % ring.frames.length]! });
    }
    return { top, recovered, publications };
  }

  sweep(now = Date.now()): void {
    for (const [stream, ring] of this.#rings) {
      this.#expire(ring, now);
      if (ring.count === 0 && now - ring.touched >= ring.ttlMs + FORGET_AFTER_MS) this.#rings.delete(stream);
    }
  }
}
