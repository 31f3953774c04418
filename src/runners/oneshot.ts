/**
 * One process per event: `<command...> websocket::<hook> <host> <token> <socket> [<message>]`,
 * as a plain argv. stdout is streamed line by line (receive) or collected as
 * the result; stderr is kept for the log; a timeout kills the process.
 */
import { LineSplitter } from '../lines.ts';
import type { Child, SpawnOptions } from '../runtime/types.ts';
import type { HookJob, HookOutcome, Runner } from './runner.ts';

export type Spawn = (argv: string[], options?: SpawnOptions) => Child;

export interface OneshotOptions {
  /** The program and its leading arguments, e.g. ["php", "/srv/app/www/app.php"]. */
  command: string[];
  spawn: Spawn;
  timeoutMs: number;
}

/** Enough stdout for any sane auth/connect result; the rest is dropped, not buffered. */
const RESULT_CAP = 1 << 20;
const STDERR_CAP = 16 << 10;
const PIPE_GRACE_MS = 2000;

export function hookArgv(command: string[], job: HookJob): string[] {
  const argv = [...command, `websocket::${job.hook}`, job.host, job.token, job.socket];
  if (job.message !== undefined) argv.push(job.message);
  return argv;
}

/**
 * Runs a program to its end. With `onLine`, every non-empty stdout line goes
 * there as it is printed; without, stdout (trimmed) is the result.
 * Exit 0 is success; anything else, or the timeout, is a failure. Never rejects.
 */
export async function runProcess(spawn: Spawn, argv: string[], timeoutMs: number, onLine?: (line: string) => void): Promise<HookOutcome> {
  let child: Child;
  try {
    child = spawn(argv);
  } catch (error) {
    return { ok: false, error: `could not start ${argv[0]}: ${(error as Error).message}` };
  }

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill();
  }, timeoutMs);

  let result = '';
  const splitter = new LineSplitter();
  const emit = (line: string) => {
    if (onLine) {
      if (line.trim() !== '') onLine(line);
    } else if (result.length < RESULT_CAP) {
      result += (result ? '\n' : '') + line;
    }
  };
  const readStdout = (async () => {
    for await (const chunk of child.stdout) splitter.push(chunk, emit);
    splitter.end(emit);
  })();
  let stderr = '';
  const readStderr = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      if (stderr.length < STDERR_CAP) stderr += decoder.decode(chunk, { stream: true });
    }
  })();

  try {
    let code: number | null;
    try {
      code = await child.exited;
    } catch (error) {
      return { ok: false, error: `could not start ${argv[0]}: ${(error as Error).message}` };
    }
    // A grandchild that inherited the pipes could hold them open forever.
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([readStdout.catch(() => {}), readStderr.catch(() => {})]),
      new Promise((resolve) => (grace = setTimeout(resolve, PIPE_GRACE_MS))),
    ]);
    clearTimeout(grace);
    const trimmed = stderr.trim().slice(0, STDERR_CAP) || undefined;
    if (timedOut) return { ok: false, error: `timed out after ${timeoutMs} ms and was killed`, stderr: trimmed };
    if (code !== 0) return { ok: false, error: code === null ? 'killed by a signal' : `exited with code ${code}`, stderr: trimmed };
    return { ok: true, result: result.trim(), stderr: trimmed };
  } finally {
    clearTimeout(timer);
  }
}

export class OneshotRunner implements Runner {
  readonly kind = 'oneshot';
  readonly #options: OneshotOptions;

  constructor(options: OneshotOptions) {
    this.#options = options;
  }

  run(job: HookJob, onLine?: (line: string) => void): Promise<HookOutcome> {
    const { spawn, timeoutMs, command } = this.#options;
    // The path's parameters go in the environment: the argv stays exactly what the old servers passed.
    const withParams: Spawn = job.params ? (argv, options = {}) => spawn(argv, { ...options, env: { ...options.env, WSGATE_PARAMS: JSON.stringify(job.params) } }) : spawn;
    return runProcess(withParams, hookArgv(command, job), timeoutMs, onLine);
  }
}
