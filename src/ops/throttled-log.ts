/**
 * A log line a peer can cause at will, written through a LogBudget: a burst
 * and then a few a second per key as they come, the rest summed in one line
 * per key a second after the first one not written (so each second while a
 * flood lasts), saying how many were not written.
 */
import { LogBudget } from './log-budget.ts';
import type { Fields, Level, Logger } from './log.ts';

interface Summary {
  level: Level;
  event: string;
  fields: Fields;
}

/**
 * Writes `event` unless `key` has had its lines this window. `summary`: the
 * fields of the line that sums up what was not written (no socket or token:
 * it stands for many).
 */
export type ThrottledLine = (key: string, level: Level, event: string, fields: Fields, summary: Fields) => void;

export interface ThrottleOptions {
  burst?: number;
  perSecond?: number;
  windowMs?: number;
  keys?: number;
  /** For tests: the clock, and how to call back after `ms` on it. */
  now?: () => number;
  later?: (callback: () => void, ms: number) => void;
}

function unrefTimeout(callback: () => void, ms: number): void {
  const timer = setTimeout(callback, ms);
  // A summary still due must not keep the process alive. Deno's timers are numbers: it has no unref here.
  (timer as { unref?: () => void }).unref?.();
}

export function throttledLog(log: Logger, options: ThrottleOptions = {}): ThrottledLine {
  const now = options.now ?? (() => performance.now());
  const later = options.later ?? unrefTimeout;
  // Keys past `keys` (made up by a peer, say) share one window, summed in a line of its own.
  const overflow: Summary = { level: 'warn', event: 'log lines suppressed', fields: { note: 'too many kinds of line at once to sum each' } };
  const budget = new LogBudget<Summary>({ burst: options.burst, perSecond: options.perSecond, windowMs: options.windowMs, keys: options.keys, overflow, now });
  const seconds = budget.windowMs / 1000;
  // When the timer set last fires (Infinity: none is set), and which it is: one set before it does nothing.
  let timerAt = Infinity;
  let timer = 0;
  const write = (all: boolean) => {
    for (const { detail, count } of budget.sweep(all)) log[detail.level](detail.event, { ...detail.fields, suppressed: count, seconds });
  };
  const sweep = () => {
    timerAt = Infinity;
    write(false);
    schedule();
  };
  const arm = (end: number) => {
    const mine = ++timer;
    timerAt = end;
    // A millisecond late rather than early: a timer that fires just before would find nothing to sweep.
    later(() => mine === timer && sweep(), Math.max(1, Math.ceil(end - now()) + 1));
  };
  // A stop ends the process before the next sweep: what was counted is written then, not lost.
  log.held?.add(() => write(true));
  const schedule = () => {
    // Asked after each line: the walk over the keys only when no sweep is due yet.
    if (timerAt !== Infinity) return;
    const end = budget.nextSweep();
    if (end !== undefined) arm(end);
  };
  return (key, level, event, fields, summary) => {
    if (budget.take(key, () => ({ level, event, fields: summary }))) log[level](event, fields);
    else {
      // The timer may be set for another key's bucket to be full again, seconds on: this key's summary is due sooner.
      const due = now() + budget.windowMs;
      if (due < timerAt) arm(due);
    }
    schedule();
  };
}
