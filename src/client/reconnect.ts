/** When to try again after a lost connection: growing delays, with jitter. */
import type { ClientOptions } from './types.ts';

export interface ReconnectSchedule {
  /** Calls `retry` after the next delay. */
  next(): void;
  /** Connected: the next loss starts again from the first delay. */
  reset(): void;
  cancel(): void;
}

export function reconnectSchedule(options: ClientOptions, retry: () => void): ReconnectSchedule {
  const delay = options.delay ?? 333;
  const factor = options.factor ?? 3;
  const maxDelay = options.maxDelay ?? 10000;
  const jitter = options.jitter ?? 0.25;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function fire(): void {
    timer = undefined;
    retry();
  }

  return {
    next() {
      attempt++;
      const wait = Math.min(maxDelay, delay * factor ** (attempt - 1));
      // Jitter spreads the reconnects of many clients after a restart of wsgate.
      timer = setTimeout(fire, wait * (1 + jitter * (2 * Math.random() - 1)));
    },
    reset() {
      attempt = 0;
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
