/**
 * A resident worker's process whose stdout the test writes, line by line
 * (`say`): its kill ends its output and its process, as a SIGKILL would,
 * at once or `killDelayMs` later (a real exit is seen a turn or more after
 * the kill). `onWrite` sees what the pool writes to its stdin, and may
 * answer or end the process (`end`, as a crash would).
 */
import { Worker } from '../../src/hooks/pool/worker.ts';
import type { Child } from '../../src/runtime/types.ts';

const encoder = new TextEncoder();

type Say = (line: string) => void;
type End = (code: number | null) => void;

export function scriptedChild(
  options: { pid?: number; killedWith?: number | null; killDelayMs?: number; onWrite?: (text: string, say: Say, end: End) => void } = {},
): { child: Child; say: Say } {
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let exit!: (code: number | null) => void;
  const exited = new Promise<number | null>((resolve) => (exit = resolve));
  async function* stdout() {
    for (;;) {
      while (lines.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const line = lines.shift()!;
      // An empty line is the end of its output.
      if (line === '') return;
      yield encoder.encode(line);
    }
  }
  async function* stderr() {
    await exited;
  }
  const say = (line: string) => {
    lines.push(line);
    wake?.();
  };
  const end = (code: number | null) => {
    say('');
    exit(code);
  };
  const kill = () => (options.killDelayMs === undefined ? end(options.killedWith ?? null) : void setTimeout(end, options.killDelayMs, options.killedWith ?? null));
  const stdin = { write: (text: string) => options.onWrite?.(text, say, end), end() {} };
  const child: Child = { pid: options.pid, stdin, stdout: stdout(), stderr: stderr(), exited, kill };
  return { child, say };
}

/** A Worker on a scripted process that has said it is ready: the test writes its frames with `say`. */
export async function readyWorker(maxLine: number): Promise<{ worker: Worker; say: Say }> {
  const { child, say } = scriptedChild();
  const worker = new Worker(['php'], () => child, { onExit() {}, onStderr() {} }, 10_000, maxLine);
  say('{"t":"ready"}\n');
  await worker.ready;
  return { worker, say };
}
