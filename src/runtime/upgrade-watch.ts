/**
 * An upgrade's "client went away" while its auth runs, followed only until
 * the answer is given, so an open socket keeps nothing of it, and a runtime
 * that also aborts a request's signal after a successful answer does not
 * cancel anything then.
 *
 * Cheap on purpose: an upgrade that is answered within `lateMs` does not
 * follow its client at all. On Bun, a request's signal once read stays with
 * the upgraded socket for its life (about 0.45 KB per idle socket); on Node,
 * an AbortController and the socket's listeners per upgrade were about 1 KB
 * of memory per socket after a burst, as garbage that V8 promotes while 64
 * upgrades are in flight and keeps until it compacts (docs/BENCHMARKS.md).
 * So the watch is a small object of its own, not an AbortController, and an
 * auth that answers sooner costs nothing more. One that waits (a slow hook,
 * a queue behind other upgrades: where a client that vanished matters) is
 * still cancelled when its client goes, since a client followed after it
 * went is found gone at once.
 *
 * A hook queue that is full asks for the upgrades still unfollowed before it
 * refuses (followUnfollowedNow): clients that vanished then give up their
 * places at once, as they would if followed from the start.
 */
import type { GoneSignal } from './types.ts';

/** Starts following a client: calls `gone` when it goes (at once if it has gone), and gives back how to stop. */
export type Follow = (gone: () => void) => () => void;

const unfollowed = new Set<UpgradeWatch>();
let sweep: ReturnType<typeof setTimeout> | undefined;
let sweepAt = Infinity;
// Watches due this close together are followed in one pass.
const SLACK_MS = 20;

function stopSweep(): void {
  clearTimeout(sweep);
  sweep = undefined;
  sweepAt = Infinity;
}

function followDue(): void {
  stopSweep();
  const now = performance.now();
  let next = Infinity;
  for (const watch of unfollowed) {
    if (watch.followAt <= now + SLACK_MS) watch.follow();
    else next = Math.min(next, watch.followAt);
  }
  if (next < Infinity) plan(next);
}

function plan(at: number): void {
  if (at >= sweepAt) return;
  clearTimeout(sweep);
  sweepAt = at;
  sweep = setTimeout(followDue, Math.max(0, at - performance.now()));
  // Nothing to follow must not keep the process alive (Deno's timers are numbers: it has no unref here).
  (sweep as { unref?: () => void }).unref?.();
}

/** Leaves the set; with nothing left to follow, the timer goes too. */
function leave(watch: UpgradeWatch): void {
  if (unfollowed.delete(watch) && unfollowed.size === 0) stopSweep();
}

/** The watch of one upgrade: a GoneSignal that aborts when its client goes, until done(). */
export class UpgradeWatch implements GoneSignal {
  aborted = false;
  readonly followAt: number;
  #follow: Follow | undefined;
  #unfollow: (() => void) | undefined;
  #listeners: Array<() => void> | undefined;

  constructor(follow: Follow, lateMs = 0) {
    this.#follow = follow;
    this.followAt = performance.now() + lateMs;
    if (lateMs <= 0) this.follow();
    else {
      unfollowed.add(this);
      plan(this.followAt);
    }
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    // As with an AbortSignal, a listener added after the abort is never called.
    if (!this.aborted) (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const at = this.#listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.#listeners!.splice(at, 1);
  }

  /** Starts following its client now, if it has not yet and is not done. */
  follow(): void {
    leave(this);
    const follow = this.#follow;
    this.#follow = undefined;
    if (follow) this.#unfollow = follow(() => this.#abort());
  }

  /** The answer is given: the client is no longer followed, and nothing aborts from now on. */
  done(): void {
    leave(this);
    this.#follow = undefined;
    this.#unfollow?.();
    this.#unfollow = undefined;
    this.#listeners = undefined;
  }

  #abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.#listeners;
    this.done();
    for (const listener of listeners ?? []) {
      // As an AbortSignal does: one listener that throws does not keep the others, or whoever followed, from going on.
      try {
        listener();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/** Follows, from now on, every upgrade still unfollowed: those whose client went are cancelled now. */
export function followUnfollowedNow(): void {
  for (const watch of [...unfollowed]) watch.follow();
}

/** A Follow of a request's own signal (Bun, Deno: aborted when the client disconnects before the answer). */
export const followSignal =
  (signal: () => AbortSignal): Follow =>
  (gone) => {
    const request = signal();
    if (request.aborted) {
      gone();
      return () => {};
    }
    request.addEventListener('abort', gone, { once: true });
    return () => request.removeEventListener('abort', gone);
  };
