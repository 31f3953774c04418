/**
 * One call at a time, in the order the calls were made: each starts once the
 * one before has settled, whatever its outcome. For work that awaits midway
 * and must not interleave with the next call (a reload that reads the config
 * and certificate files, then swaps them in).
 */
export function serialised<A extends unknown[], R>(run: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let last: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const next = last.then(() => run(...args));
    // The failure is its caller's to handle; the next call only needs it settled.
    last = next.catch(() => {});
    return next;
  };
}
