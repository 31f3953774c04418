/**
 * Gives memory back after a burst of connections: once many sockets have
 * opened or closed and then a quarter of a second passes with none, the
 * runtime is asked for one full collection.
 *
 * Why: each upgrade leaves garbage behind (its request, Hono's context, the
 * auth's promises), and a collector left to itself lets the heap grow to a
 * multiple of what is live before it looks. After a reconnect storm of
 * 10,000 sockets that is 0.2-0.4 KB per socket held for good; a full
 * collection lets the allocator return those pages (docs/BENCHMARKS.md,
 * memory per idle socket). A collection costs about 10 ms at 12,000 sockets
 * and grows with them, so a burst is at least a quarter of the open sockets:
 * its cost per connection stays flat. A steady trickle of connections has
 * no quiet tick and never pays it, and needs it no more than the
 * collector's own pace gives.
 *
 * The hooks that come with a connection (auth, connect, close) keep a burst
 * going too: a one-shot connect hook runs after its socket opened, so after
 * a burst of one-shot upgrades the spawns go on for seconds once the last
 * socket is open, and a collection in between left their garbage to the
 * collector's own pace (docs/BENCHMARKS.md, memory per idle socket).
 */
import type { CoreObserver } from '../core/events.ts';

/** Opens and closes since the last collection that make a burst worth one, at the least. */
export const BURST = 1000;
/** How often to look: a burst is over when a tick passes with no open or close. */
export const SETTLE_TICK_MS = 250;

export class MemorySettle {
  readonly #collect: () => void;
  readonly #burst: number;
  /** Opens and closes counted, ever. */
  #changes = 0;
  /** Opens, closes and runs of the hooks that come with a connection, ever: a tick with none is quiet. */
  #activity = 0;
  /** `#activity` at the last tick. */
  #seen = 0;
  /** `#changes` at the last collection. */
  #collected = 0;

  constructor(collect: () => void, burst = BURST) {
    this.#collect = collect;
    this.#burst = burst;
  }

  observer(): CoreObserver {
    return {
      opened: () => void (this.#changes++, this.#activity++),
      closed: () => void (this.#changes++, this.#activity++),
      // They delay the quiet tick, but are no burst by themselves.
      hook: (run) => {
        if (run.hook === 'auth' || run.hook === 'connect' || run.hook === 'close') this.#activity++;
      },
    };
  }

  /** Every SETTLE_TICK_MS, with the sockets open now: true when it collected. */
  tick(sockets: number): boolean {
    const quiet = this.#activity === this.#seen;
    this.#seen = this.#activity;
    if (!quiet || this.#changes - this.#collected < Math.max(this.#burst, sockets / 4)) return false;
    this.#collected = this.#changes;
    this.#collect();
    return true;
  }
}
