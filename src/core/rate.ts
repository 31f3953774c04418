/**
 * A rate with a burst, kept as one number: the time the next frame is due
 * (the generic cell rate algorithm). Each frame taken moves it on by one
 * interval (1 s / rate); a frame is refused while that time lies more than
 * burst - 1 intervals ahead. Kept as a time, not a count of what is left, it
 * needs no refill of its own and no clock beside it, and a reload that
 * changes the rate or the burst applies from the next frame on, with no
 * debt carried over from the old rate.
 */

/** What a float's rounding may add over many intervals, as a share of one: a frame exactly on its due time is taken. */
const SLACK = 1e-6;

/** The due time after taking one frame at `now` (ms), or undefined when none may be taken now. */
export function takeFrame(due: number, now: number, perSecond: number, burst: number): number | undefined {
  const interval = 1000 / perSecond;
  const from = Math.max(due, now);
  if (from - now > (burst - 1 + SLACK) * interval) return undefined;
  return from + interval;
}
