/**
 * One byte budget for everything a process keeps of past publications:
 * streams' history (MemoryHistory) and gone tokens' replay (Replay). Per
 * stream and per token there are limits already; this bounds the sum, which
 * many streams or tokens could otherwise grow without end.
 *
 * Every kept frame is one Held entry, in one ledger in the order it was kept.
 * Over budget, the oldest go first, whichever stream or token holds them: the
 * ledger's front is asked to its holder, which drops it (its own oldest) and
 * releases it. Entries released otherwise (size, ttl, a token back) stay in
 * the ledger as dead until they reach its front or the ledger is compacted,
 * so a put costs O(1) amortised and nothing scans the streams.
 */
import { Buffer } from 'node:buffer';

/**
 * What an entry costs besides its frame: the entry object, its slots in its
 * holder and in the ledger (about 60 bytes on V8). Counted so that a flood of
 * tiny frames is bounded too.
 */
export const ENTRY_OVERHEAD = 64;

/**
 * What a stream costs besides its entries (its object, its map slot, its
 * key), counted while it exists, so that many streams of one tiny frame
 * each, or emptied streams kept for their epoch, are bounded too.
 */
export const STREAM_OVERHEAD = 256;

/** limits.historyBytes when the config does not say: 64 MiB. */
export const DEFAULT_HISTORY_BYTES = 64 * 1024 * 1024;

/** A holder of entries (a stream, a gone token): drops its oldest, `held`, and releases it. */
export interface Holder {
  evict(held: Held): void;
}

/** One kept frame. */
export interface Held {
  readonly frame: string;
  readonly bytes: number;
  /** Still counted: false once released. */
  live: boolean;
  readonly holder: Holder;
}

/** Dead entries tolerated in the ledger beyond twice the live ones, before it is compacted. */
const SLACK = 1024;

export class MemoryBudget {
  #limit: number;
  #bytes = 0;
  #live = 0;
  #evicted = 0;
  #ledger: Array<Held | undefined> = [];
  #head = 0;
  /** Frees something that is worth less than any kept publication (an emptied stream); false when there is none. */
  readonly #reclaimers: Array<() => boolean> = [];
  /** Told after each put or change of limit that evicted entries: how many. */
  onEvict: ((count: number) => void) | undefined;

  /** `limit` Infinity: counts, never evicts (a scratch store, a test). */
  constructor(limit: number = DEFAULT_HISTORY_BYTES) {
    this.#limit = limit;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries held now. */
  get entries(): number {
    return this.#live;
  }

  /** Entries evicted for the budget since start. */
  get evicted(): number {
    return this.#evicted;
  }

  get limit(): number {
    return this.#limit;
  }

  /** A reload: a smaller budget evicts at once. */
  set limit(limit: number) {
    this.#limit = limit;
    this.#enforce();
  }

  /**
   * What keeping `frame` once costs. A frame kept by several holders (a
   * stream's history and gone tokens) is counted by each, though the string
   * is shared: the count errs on the side of too much.
   */
  cost(frame: string): number {
    return Buffer.byteLength(frame, 'utf8') + ENTRY_OVERHEAD;
  }

  /** A new entry of `holder`, not yet counted: see add(). `bytes`: its cost(), when known already. */
  entry(frame: string, holder: Holder, bytes = this.cost(frame)): Held {
    return { frame, bytes, live: true, holder };
  }

  /**
   * Counts an entry its holder has just stored as its newest. Over budget,
   * the oldest entries go, this one too if it alone is over: callers must
   * expect their holder to be asked to evict during this call.
   */
  add(held: Held): void {
    this.#ledger.push(held);
    this.#bytes += held.bytes;
    this.#live++;
    if (this.#bytes > this.#limit) this.#enforce();
  }

  /** A fixed cost (positive) or its end (negative), such as a stream's own. */
  charge(bytes: number): void {
    this.#bytes += bytes;
    if (bytes > 0 && this.#bytes > this.#limit) this.#enforce();
  }

  /** Asked first when over budget, before any publication is evicted. */
  reclaimWith(reclaim: () => boolean): void {
    this.#reclaimers.push(reclaim);
  }

  /** The holder no longer keeps it (size, ttl, a token back, evict()). Once per entry; later calls do nothing. */
  release(held: Held): void {
    if (!held.live) return;
    held.live = false;
    this.#bytes -= held.bytes;
    this.#live--;
    this.#compact();
  }

  #enforce(): void {
    for (const reclaim of this.#reclaimers) while (this.#bytes > this.#limit && reclaim());
    let count = 0;
    while (this.#bytes > this.#limit && this.#head < this.#ledger.length) {
      const held = this.#ledger[this.#head]!;
      this.#ledger[this.#head++] = undefined;
      if (!held.live) continue;
      held.holder.evict(held);
      // A holder that did not release it is not asked again: it is no longer counted.
      this.release(held);
      count++;
    }
    this.#compact();
    if (count === 0) return;
    this.#evicted += count;
    this.onEvict?.(count);
  }

  /** Dead entries at the front go at once; those behind a live one once they outnumber the live ones. */
  #compact(): void {
    const ledger = this.#ledger;
    while (this.#head < ledger.length && !ledger[this.#head]!.live) ledger[this.#head++] = undefined;
    if (this.#head === ledger.length) {
      this.#ledger = [];
      this.#head = 0;
    } else if (ledger.length - this.#head > 2 * this.#live + SLACK) {
      this.#ledger = ledger.filter((held, i) => i >= this.#head && held!.live);
      this.#head = 0;
    } else if (this.#head > SLACK && this.#head * 2 > ledger.length) {
      this.#ledger = ledger.slice(this.#head);
      this.#head = 0;
    }
  }
}

/** How often at most the budget's report is repeated while it keeps evicting. */
const REPORT_EVERY_MS = 60_000;

/** What the budget evicted since its last report. */
export interface Evictions {
  bytes: number;
  budget: number;
  evicted: number;
  evictedTotal: number;
}

/** Reports when the budget first evicts, then at most once a minute, with what it evicted meanwhile: one line, not one per eviction. */
export function reportEvictions(budget: MemoryBudget, report: (evictions: Evictions) => void, now: () => number = Date.now): void {
  let last = -Infinity;
  let since = 0;
  budget.onEvict = (count) => {
    since += count;
    const at = now();
    if (at - last < REPORT_EVERY_MS) return;
    last = at;
    report({ bytes: budget.bytes, budget: budget.limit, evicted: since, evictedTotal: budget.evicted });
    since = 0;
  };
}
