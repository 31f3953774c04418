/**
 * Log lines to a stream whose reader may stall (a pipe to a logger that
 * stopped reading, a blocked container log driver). Bun, Deno and Node all
 * keep what a pipe cannot take yet in memory, with no bound, so a peer that
 * makes the gateway log (refused upgrades cost it nothing) could grow that
 * memory for as long as the reader is stuck. Past `limit` bytes not yet
 * written, lines are dropped and counted; once the backlog is down to half,
 * one line says how many were lost.
 */

/** The part of a writable stream this needs: write() calls back once the chunk is handed to the OS. */
export interface LineSink {
  write(chunk: string, done: (error?: Error | null) => void): unknown;
}

/** Bytes of log lines that may wait for a slow reader before lines are dropped. */
export const LOG_BACKLOG_LIMIT = 1024 * 1024;

/** Writes one line; `drained()` resolves once no line waits for the reader, lines taken meanwhile included (before the process exits). */
export interface LineWriter {
  (line: string): void;
  drained(): Promise<void>;
}

export function boundedLineWriter(sink: LineSink, limit = LOG_BACKLOG_LIMIT): LineWriter {
  let pending = 0;
  let dropped = 0;
  let waiters: Array<() => void> = [];
  // A write failed: the reader is gone (EPIPE) and no later line can reach it. Writing on would fail the same way, each
  // failure a chance for something to log it.
  let broken = false;
  const put = (text: string) => {
    // Characters, not bytes: close enough for a bound, and no encoding per line.
    const size = text.length;
    pending += size;
    sink.write(text, (error) => {
      pending -= size;
      if (error) broken = true;
      if (dropped > 0 && pending <= limit / 2 && !broken) {
        const lost = dropped;
        dropped = 0;
        put(`log lines dropped: ${lost} (the log's reader was too slow; at most ${limit} bytes wait for it)\n`);
      }
      if (pending > 0 || waiters.length === 0) return;
      const done = waiters;
      waiters = [];
      for (const resolve of done) resolve();
    });
  };
  const write = (line: string) => {
    if (broken) return;
    if (pending + line.length + 1 > limit) {
      dropped++;
      return;
    }
    put(`${line}\n`);
  };
  const drained = () => (pending === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve)));
  return Object.assign(write, { drained });
}
