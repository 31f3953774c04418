/** When to try again after a lost connection: growing delays, with jitter. */
import type { ClientOptions } from './types.ts';

export interface ReconnectSchedule {
  /** Calls `retry` after the next delay. */
  next(): void;
  /** Connected: once it has stayed up as long as the longest wait (and the wait before it), the next loss starts again from the first delay. */
  reset(): void;
  cancel(): void;
}

export function reconnectSchedule(options: ClientOptions, retry: () => void): ReconnectSchedule {
  const delay = options.delay ?? 333;
  const factor = options.factor ?? 3;
  const maxDelay = options.maxDelay ?? 10000;
  const jitter = options.jitter ?? 0.25;
  let attempt = 0;
  /** The wait before the connection now being made. */
  let waited = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let steady: ReturnType<typeof setTimeout> | undefined;

  function fire(): void {
    timer = undefined;
    retry();
  }

  function unsteady(): void {
    if (steady !== undefined) clearTimeout(steady);
    steady = undefined;
  }

  return {
    next() {
      // Lost before it proved steady (a connect hook that refuses right after "ready", a gateway that is busy):
      // the waits go on growing, or every page would try again three times a second for ever.
      unsteady();
      attempt++;
      const wait = Math.min(maxDelay, delay * factor ** (attempt - 1));
      // Jitter spreads the reconnects of many clients after a restart of wsgate.
      waited = wait * (1 + jitter * (2 * Math.random() - 1));
      timer = setTimeout(fire, waited);
    },
    reset() {
      unsteady();
      if (attempt === 0) return;
      // At least the longest wait: a connect hook slower than the first wait that then refuses must not start them over.
      steady = setTimeout(() => {
        steady = undefined;
        attempt = 0;
      }, Math.max(waited, maxDelay));
    },
    cancel() {
      unsteady();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
