/**
 * A resident worker's process whose stdout the test writes, line by line
 * (`say`): its kill ends its output and its process, as a SIGKILL would.
 */
import type { Child } from '../../src/runtime/types.ts';

const encoder = new TextEncoder();

export function scriptedChild(options: { pid?: number; killedWith?: number | null } = {}): { child: Child; say: (line: string) => void } {
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
  const child: Child = { pid: options.pid, stdin: { write() {}, end() {} }, stdout: stdout(), stderr: stderr(), exited, kill: () => (say(''), exit(options.killedWith ?? null)) };
  return { child, say };
}
