/**
 * The requests a node sent to the others and waits on: the answers each has
 * so far, and its deadline. A request stops waiting once every node it
 * expected has answered, at its deadline, or when told to.
 */

/** Answers a request takes from nodes it did not expect (they joined since the last heartbeat). */
export const MAX_UNKNOWN_ANSWERS = 64;

interface Waiting {
  expected: ReadonlySet<string>;
  results: Map<string, unknown>;
  /** Expected nodes that have not answered yet. */
  remaining: number;
  /** When it stops waiting (performance.now()). Every request waits equally long, so the map holds them in deadline order. */
  deadline: number;
  resolve: () => void;
  /** Answers were dropped (see MAX_UNKNOWN_ANSWERS); said once per request. */
  overflowed?: boolean;
}

export class WaitingRequests {
  readonly #deadlineMs: number;
  readonly #waiting = new Map<string, Waiting>();
  /** One timer for every deadline, set for the earliest: a timer per cast cost more than the rest of its bookkeeping. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  constructor(deadlineMs: number) {
    this.#deadlineMs = deadlineMs;
  }

  /** Requests waiting now. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Starts waiting on `id`: `results` fills as answers come; `done` resolves when the request stops waiting. */
  wait(id: string, expected: ReadonlySet<string>): { results: Map<string, unknown>; done: Promise<void> } {
    const results = new Map<string, unknown>();
    const done = new Promise<void>((resolve) => {
      this.#waiting.set(id, { expected, results, remaining: expected.size, deadline: performance.now() + this.#deadlineMs, resolve });
    });
    this.#arm();
    return { results, done };
  }

  /** Stops waiting on `id` now, with what it has; false when it no longer waited (its deadline passed). */
  finish(id: string): boolean {
    const waiting = this.#waiting.get(id);
    if (!waiting) return false;
    this.#waiting.delete(id);
    waiting.resolve();
    return true;
  }

  /** Stops waiting on every request now (the node stops). */
  finishAll(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // Each finish takes its request out of the map, which a Map iteration allows.
    for (const id of this.#waiting.keys()) this.finish(id);
  }

  /**
   * Takes `node`'s answer to `id`. A request it no longer waits on drops it.
   * Answers from nodes it did not expect are taken too, but not without end:
   * a peer that makes up node names would grow them until the deadline. Says
   * 'overflow' the first time a request drops one for that.
   */
  answer(id: string, node: string, result: unknown): 'overflow' | undefined {
    const waiting = this.#waiting.get(id);
    if (!waiting) return undefined;
    const expected = waiting.expected.has(node);
    const first = !waiting.results.has(node);
    if (!expected && first && waiting.results.size >= waiting.expected.size + MAX_UNKNOWN_ANSWERS) {
      if (waiting.overflowed) return undefined;
      waiting.overflowed = true;
      return 'overflow';
    }
    waiting.results.set(node, result);
    if (first && expected && --waiting.remaining === 0) this.finish(id);
    return undefined;
  }

  /** Sets the timer for the earliest deadline, unless it is set. */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const first = this.#waiting.values().next().value;
    if (!first) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = performance.now();
      for (const [id, waiting] of this.#waiting) {
        if (waiting.deadline > now) break;
        this.finish(id);
      }
      this.#arm();
    }, Math.max(0, first.deadline - performance.now()));
  }
}
