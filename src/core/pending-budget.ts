/**
 * One byte budget for the frames that first-frame sockets (`"tokenFrom":
 * "message"`) send while their auth runs, all sockets of the process
 * together (limits.preAuthBytes). Each socket is bounded on its own
 * (limits.pending, limits.sendBuffer), but that leaves the sum to the number
 * of sockets: thousands of sockets whose auth hook is slow would hold
 * thousands of times the bound.
 *
 * A socket takes a Share; what it holds goes back in one release, whichever
 * way its auth ends, and a second release gives back nothing.
 */

/**
 * What a waiting frame costs besides its bytes (its slot in the socket's
 * queue, the string or buffer object): counted so that a flood of empty
 * frames is bounded too.
 */
export const WAITING_OVERHEAD = 64;

/** One socket's part of the budget. */
export interface Share {
  /** Bytes it holds now. */
  readonly held: number;
  /** Takes `bytes` when the sum of all shares stays within `limit`; else takes nothing and says false, as it does once released. */
  take(bytes: number, limit: number): boolean;
  /** Gives back all it holds, for good. */
  release(): void;
}

export class PendingBudget {
  #bytes = 0;

  /** Bytes held by every share together. */
  get bytes(): number {
    return this.#bytes;
  }

  share(): Share {
    let held = 0;
    let released = false;
    return {
      get held() {
        return held;
      },
      take: (bytes: number, limit: number): boolean => {
        if (released || this.#bytes + bytes > limit) return false;
        this.#bytes += bytes;
        held += bytes;
        return true;
      },
      release: (): void => {
        if (released) return;
        released = true;
        this.#bytes -= held;
        held = 0;
      },
    };
  }
}

/** The process's budget: the limit is process-wide, whatever serves the sockets. */
export const pendingBudget = new PendingBudget();
