/**
 * Whether Redis still answers the bus's commands. A Redis that stops
 * answering without closing its connections (SIGSTOP, a frozen VM, a
 * network that drops packets instead of refusing them) raises no error:
 * ioredis keeps the connection "ready", every PUBLISH waits for good, the
 * node never says it is degraded, and the casts it took reach nobody, not
 * even its own sockets, until Redis wakes up, late and after their callers
 * were told they missed. So the commands in flight are watched: when none
 * was answered for `ms` while some waited, the link is stalled, and
 * redis.ts treats it as a Redis gone away. The commands waiting then fail
 * at once, with that reason, rather than when their connection is gone.
 *
 * One timer for all commands, as for the waiting requests: a timer per
 * cast costs more than the rest of its bookkeeping.
 */
import { setImmediate } from 'node:timers';

export class StallWatch {
  readonly #ms: number;
  readonly #stalled: () => void;
  /** The commands sent and not answered yet: each one's way to fail it should Redis stall first. */
  readonly #waiting = new Set<(error: Error) => void>();
  /** When Redis last answered, or the first command of an idle link went out (performance.now()). */
  #since = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number, stalled: () => void) {
    this.#ms = ms;
    this.#stalled = stalled;
  }

  /** `work`, watched until it settles (answered, failed or dropped with its connection); it fails should Redis stall first. */
  watch<T>(work: Promise<T>): Promise<T> {
    if (this.#waiting.size === 0) this.#since = performance.now();
    this.#arm(this.#ms);
    return new Promise<T>((resolve, reject) => {
      const settled = () => {
        this.#waiting.delete(reject);
        this.#since = performance.now();
      };
      this.#waiting.add(reject);
      work.then(
        (value) => (settled(), resolve(value)),
        (error: unknown) => (settled(), reject(error)),
      );
    });
  }

  #arm(inMs: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      // An event loop that was busy past the timer has answers waiting to be read: they are read before setImmediate runs.
      setImmediate(() => {
        this.#timer = undefined;
        if (this.#waiting.size === 0) return;
        const left = this.#since + this.#ms - performance.now();
        if (left > 0) return this.#arm(left);
        const error = new Error(`Redis did not answer within ${this.#ms} ms`);
        const waiting = [...this.#waiting];
        this.#waiting.clear();
        this.#stalled();
        for (const fail of waiting) fail(error);
      });
    }, inMs);
  }
}
