/**
 * The time a reload's steps may take (`reloadTimeout`). A step that never
 * settles (a config on a hung mount, a hook module whose top-level await never
 * does) fails its reload, so the reloads asked after it can run; and while a
 * file read given up on still hangs, no reload starts another.
 */
import type { Logger } from './ops/log.ts';

/**
 * Steps given up that still run, at most: each may hold one of the runtime's few file-system threads (Node has four,
 * Bun one a core) for as long as a mount hangs, and a reload asked every minute would otherwise take them all, and with
 * them every realpath, file read and DNS lookup of the gateway.
 */
const MAX_GIVEN_UP = 1;

/** A step a reload gave up on, still running. `counted`: against MAX_GIVEN_UP (not a hook module's top-level await, which holds no thread). */
interface GivenUp {
  step: string;
  since: number;
  counted: boolean;
}

export class ReloadSteps {
  readonly #log: Logger;
  readonly #givenUp = new Set<GivenUp>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Why no reload may start now, if a step given up on still holds a thread. */
  held(): string | undefined {
    const holding = [...this.#givenUp].filter((entry) => entry.counted);
    if (holding.length < MAX_GIVEN_UP) return undefined;
    const [oldest] = holding;
    const ago = Math.round((performance.now() - oldest!.since) / 1000);
    return `${oldest!.step} has not finished, given up by an earlier reload ${ago} s ago: no reload starts until it has (a hung file system? each such read holds one of the few threads that read files)`;
  }

  /** What `work` gives, or an error naming `step` once `ms` have passed without it; given up on, it is held until it settles. */
  async within<T>(step: string, work: Promise<T>, ms: number, counted = true): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const entry = { step, since: performance.now(), counted };
        this.#givenUp.add(entry);
        const settled = () => {
          this.#givenUp.delete(entry);
          this.#log.info('reload', { note: `${step}, given up ${Math.round((performance.now() - entry.since) / 1000)} s ago, finished after all` });
        };
        work.then(settled, settled);
        reject(new Error(`${step} did not finish within ${ms / 1000} s (reloadTimeout)`));
      }, ms);
    });
    try {
      return await Promise.race([work, stuck]);
    } finally {
      clearTimeout(timer);
    }
  }
}
