/**
 * What the dashboard shows besides the numbers of /health: the latest
 * connects, disconnects and hook failures, and per-second samples of casts
 * and hook latency over the last minutes. Both are small rings: a busy
 * gateway keeps the newest and forgets the rest.
 */

export interface FeedEvent {
  seq: number;
  /** Milliseconds since the epoch. */
  at: number;
  kind: 'connect' | 'disconnect' | 'hook failed';
  host: string;
  socket?: string;
  detail?: string;
}

export interface Sample {
  at: number;
  casts: number;
  hookRuns: number;
  /** Mean hook duration over the second, in ms (0 without runs). */
  hookMs: number;
}

export class Feed {
  /**
   * Random per process: `seq` numbers mean something only to the feed that
   * gave them, and behind a load balancer, or after a restart, a page's next
   * poll may reach a process whose numbers run their own way.
   */
  readonly id = crypto.randomUUID();
  readonly #events: FeedEvent[] = [];
  readonly #samples: Sample[] = [];
  #seq = 0;
  #last: { casts: number; runs: number; seconds: number } | undefined;

  constructor(
    readonly keepEvents = 200,
    readonly keepSamples = 300,
  ) {}

  push(kind: FeedEvent['kind'], host: string, socket?: string, detail?: string, at = Date.now()): void {
    const event: FeedEvent = { seq: ++this.#seq, at, kind, host };
    if (socket !== undefined) event.socket = socket;
    if (detail !== undefined) event.detail = detail.slice(0, 300);
    this.#events.push(event);
    if (this.#events.length > this.keepEvents) this.#events.shift();
  }

  /** Events after `seq` (all kept, without it). */
  since(seq = 0): FeedEvent[] {
    return this.#events.filter((event) => event.seq > seq);
  }

  /**
   * The `seq` to give since() for a page's cursor: its own number when this
   * feed gave it; 0, all that is kept, when another feed did (the page then
   * replaces what it shows, as it cannot tell which of its events these are).
   * Without a feed id at all `after` is taken as it is, as before feed ids.
   */
  resume(feed: string | undefined, after: number): number {
    return feed === undefined || feed === this.id ? after : 0;
  }

  /** Takes one sample from running totals; the first call only sets the baseline. */
  sample(totals: { casts: number; runs: number; seconds: number }, at = Date.now()): void {
    const last = this.#last;
    this.#last = totals;
    if (!last) return;
    const runs = totals.runs - last.runs;
    this.#samples.push({ at, casts: totals.casts - last.casts, hookRuns: runs, hookMs: runs > 0 ? ((totals.seconds - last.seconds) * 1000) / runs : 0 });
    if (this.#samples.length > this.keepSamples) this.#samples.shift();
  }

  samples(): Sample[] {
    return [...this.#samples];
  }
}
