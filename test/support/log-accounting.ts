/**
 * What a throttled log says of a flood: the lines written whole, and what
 * the summary lines (`suppressed=N`) count as not written. Flood tests assert
 * that the two add up to every event, once, and that few lines did.
 */
import type { Started } from './server.ts';

export interface Accounted {
  whole: number;
  /** What the summaries count. */
  summed: number;
  summaries: number;
  /** The longest of those lines, whole or summary. */
  longest: number;
}

/** `summary` captures the count in its first group. */
export function accounted(logs: readonly string[], whole: RegExp, summary: RegExp): Accounted {
  const out = { whole: 0, summed: 0, summaries: 0, longest: 0 };
  for (const line of logs) {
    const sum = summary.exec(line);
    if (sum) {
      out.summed += Number(sum[1]);
      out.summaries++;
    } else if (whole.test(line)) out.whole++;
    else continue;
    out.longest = Math.max(out.longest, line.length);
  }
  return out;
}

/** Resolves once the log accounts for `wanted` events, awaiting each new chunk of output; fails with what it has after `timeoutMs`. */
export function untilAccounted(server: Started, whole: RegExp, summary: RegExp, wanted: number, timeoutMs = 5000): Promise<void> {
  const now = () => accounted(server.logs, whole, summary);
  return new Promise((resolve, reject) => {
    const streams = [server.child.stdout!, server.child.stderr!];
    const done = () => {
      clearTimeout(timer);
      for (const stream of streams) stream.off('data', check);
    };
    const check = () => {
      const { whole: lines, summed } = now();
      if (lines + summed < wanted) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the log accounts for ${JSON.stringify(now())} of ${wanted}`));
    }, timeoutMs);
    // After startServer's own listener, so a chunk's lines are in server.logs when this one runs.
    for (const stream of streams) stream.on('data', check);
    check();
  });
}
