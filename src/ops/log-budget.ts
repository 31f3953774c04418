/**
 * How many lines of one kind the log takes: a peer can cause some lines at
 * will (a refused upgrade costs it nothing), and one line each would let it
 * fill the disk and bury real events. Per key a bucket of `burst` lines,
 * refilled at `perSecond`: one-off lines and short bursts are written whole
 * as before; past that they are only counted, and a window of `windowMs`
 * after the first one counted, its count is handed back for one summary line
 * (so one a window while a flood lasts). Pure, with the clock passed in: the
 * caller owns the timer (throttled-log.ts).
 */

/** What a key counted but did not write, due for its summary. */
export interface Suppressed<T> {
  key: string;
  /** What the caller gave with the key's first line: enough to write its summary. */
  detail: T;
  count: number;
}

export interface BudgetOptions<T> {
  /** Lines a key may write at once, after a quiet spell. */
  burst?: number;
  /** Lines a key may write per second, on average, however long it goes on. */
  perSecond?: number;
  /** How long a summary sums. */
  windowMs?: number;
  /** Keys held at once; a new key past these shares one bucket (`overflow`), so keys a peer makes up cannot grow this. */
  keys?: number;
  overflow: T;
  now?: () => number;
}

/** The key a line is counted under once `keys` keys are held. */
export const OVERFLOW = '\0overflow';

interface Bucket<T> {
  tokens: number;
  /** When `tokens` was last refilled. */
  at: number;
  count: number;
  /** When the summary of `count` is due (once count > 0). */
  due: number;
  detail: T;
}

export class LogBudget<T> {
  readonly burst: number;
  readonly perSecond: number;
  readonly windowMs: number;
  readonly #keys: number;
  readonly #overflow: T;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket<T>>();

  constructor(options: BudgetOptions<T>) {
    this.burst = options.burst ?? 20;
    this.perSecond = options.perSecond ?? 5;
    this.windowMs = options.windowMs ?? 1000;
    this.#keys = options.keys ?? 1000;
    this.#overflow = options.overflow;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether a line of `key` is written now (true) or only counted (false); `detail` is asked only when the key is new. */
  take(key: string, detail: () => T): boolean {
    const now = this.#now();
    if (!this.#buckets.has(key) && this.#buckets.size >= this.#keys) key = OVERFLOW;
    let bucket = this.#buckets.get(key);
    if (!bucket) this.#buckets.set(key, (bucket = { tokens: this.burst, at: now, count: 0, due: 0, detail: key === OVERFLOW ? this.#overflow : detail() }));
    this.#refill(bucket, now);
    if (bucket.tokens >= 1) {
      bucket.tokens--;
      return true;
    }
    if (bucket.count++ === 0) bucket.due = now + this.windowMs;
    return false;
  }

  /**
   * The counts whose summaries are due (`all`: every count, due or not, as
   * the process exits), taken; keys with nothing counted and a full bucket
   * again are forgotten.
   */
  sweep(all = false): Array<Suppressed<T>> {
    const now = this.#now();
    const due: Array<Suppressed<T>> = [];
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now);
      if (bucket.count > 0 && (all || now >= bucket.due)) {
        due.push({ key, detail: bucket.detail, count: bucket.count });
        bucket.count = 0;
      }
      if (bucket.count === 0 && bucket.tokens >= this.burst) this.#buckets.delete(key);
    }
    return due;
  }

  /** When the next sweep has something to do (on the clock given), or undefined when no key is held. */
  nextSweep(): number | undefined {
    let earliest: number | undefined;
    for (const bucket of this.#buckets.values()) {
      const at = bucket.count > 0 ? bucket.due : bucket.at + ((this.burst - bucket.tokens) / this.perSecond) * 1000;
      earliest = Math.min(earliest ?? Infinity, at);
    }
    return earliest;
  }

  get held(): number {
    return this.#buckets.size;
  }

  #refill(bucket: Bucket<T>, now: number): void {
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000);
    bucket.at = now;
  }
}
