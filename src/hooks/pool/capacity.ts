/** The global worker cap, shared by the pools of every app, and the one timer that reaps their idle workers. */

/** What the cap asks of each app's pool (pool.ts). */
export interface CappedPool {
  readonly liveWorkers: number;
  /** Jobs waiting for a worker. */
  readonly queued: number;
  readonly settings: { readonly idleMs: number };
  /** When its longest-idle worker went idle, if it has one. */
  oldestIdle(): number | undefined;
  stopOldestIdle(reason: string): void;
  /** Starts what waits, if there is room now. */
  pump(): void;
  reap(now: number): void;
  stop(): Promise<void>;
}

const REAP_MIN_MS = 25;
const REAP_MAX_MS = 1000;

/** The global worker cap, shared by every pool; makes room by stopping another pool's idle worker. */
export class Capacity {
  readonly pools = new Set<CappedPool>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #every = 0;
  /**
   * Pools refused room while jobs of theirs wait. Room comes when another pool's worker exits, and also when one is
   * free (handOver): a worker kept idle for its idle time (a minute by default) must not keep them waiting that long.
   */
  readonly #waiting = new Set<CappedPool>();
  #handingOver = false;

  /**
   * `beforeBusy` is asked before a full queue refuses a job: it may cancel
   * queued jobs whose clients went (Runtime.checkUpgrades), as HookSlots does.
   */
  /** `afterReap`: called on each of the reaper's ticks, once idle workers were told to go (Pools drops idle pools then). */
  constructor(
    public cap: number,
    readonly beforeBusy: () => void = () => {},
    private readonly afterReap: () => void = () => {},
  ) {}

  get live(): number {
    let n = 0;
    for (const pool of this.pools) n += pool.liveWorkers;
    return n;
  }

  /** True when one more worker may start now, stopping the longest-idle worker of another pool if need be. */
  claim(pool: CappedPool): boolean {
    const claimed = this.#claim(pool);
    if (claimed) this.#waiting.delete(pool);
    else this.#waiting.add(pool);
    return claimed;
  }

  #claim(pool: CappedPool): boolean {
    if (this.live < this.cap) return true;
    let oldest: { pool: CappedPool; idleSince: number } | undefined;
    for (const other of this.pools) {
      if (other === pool) continue;
      const since = other.oldestIdle();
      if (since !== undefined && (!oldest || since < oldest.idleSince)) oldest = { pool: other, idleSince: since };
    }
    if (!oldest) return false;
    oldest.pool.stopOldestIdle('stopped to make room for another app');
    return this.live < this.cap;
  }

  /**
   * Whether a pool other than `pool` waits for room holding no worker, or two fewer than `pool`: `pool` then owes it an
   * idle worker. Not for one fewer: two busy apps would trade a worker back and forth, a boot each time, for no gain.
   */
  owed(pool: CappedPool): boolean {
    for (const other of this.#waiting) {
      // Its jobs ran or left meanwhile.
      if (other.queued === 0) this.#waiting.delete(other);
      else if (other !== pool && pool.liveWorkers > 0 && (other.liveWorkers === 0 || other.liveWorkers + 1 < pool.liveWorkers)) return true;
    }
    return false;
  }

  /**
   * A worker of `from` is idle: the pools waiting for room claim it now (their claim stops it), longest waiting first.
   * Not again from within: a pool pumped here may owe a worker too, to a pool that cannot claim yet (booting, in its
   * backoff), and two such pools would pump each other without end.
   */
  handOver(from: CappedPool): void {
    if (this.#handingOver) return;
    this.#handingOver = true;
    try {
      for (const other of [...this.#waiting]) if (other !== from) other.pump();
    } finally {
      this.#handingOver = false;
    }
  }

  /** Another pool may be waiting for room. */
  released(): void {
    for (const pool of this.pools) pool.pump();
  }

  add(pool: CappedPool): void {
    this.pools.add(pool);
    this.settingsChanged();
  }

  /** A pool that has no worker and nothing waiting goes (Pools: an app that is not configured, once idle). */
  remove(pool: CappedPool): void {
    this.pools.delete(pool);
    this.#waiting.delete(pool);
  }

  /**
   * One shared timer reaps idle workers of every pool, at half the shortest
   * idle setting (at most every second): a worker goes within 1.5x its idle
   * time, as the Phlo daemon's reaper, whose timer follows the setting too.
   */
  settingsChanged(): void {
    let shortest = 2 * REAP_MAX_MS;
    for (const pool of this.pools) shortest = Math.min(shortest, pool.settings.idleMs);
    const every = Math.max(REAP_MIN_MS, Math.min(REAP_MAX_MS, Math.floor(shortest / 2)));
    if (this.#timer && every === this.#every) return;
    clearInterval(this.#timer);
    this.#every = every;
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const p of this.pools) p.reap(now);
      this.afterReap();
    }, every);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.pools].map((p) => p.stop()));
  }
}
