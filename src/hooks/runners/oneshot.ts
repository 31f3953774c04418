/**
 * One process per event: `<command...> websocket::<hook> <host> <token> <socket> [<message>]`,
 * as a plain argv. stdout is streamed line by line (receive) or collected as
 * the result; stderr is kept for the log; a timeout, a line over the bound or
 * the client going away kills the process and everything it started. Each
 * process holds a slot of the shared HookSlots while it runs.
 */
import { LineSplitter, LineTooLong } from '../lines.ts';
import { holdGroup } from '../../runtime/groups.ts';
import type { Child, GoneSignal, SpawnOptions } from '../../runtime/types.ts';
import { cancelledOutcome } from './runner.ts';
import type { HookJob, HookOutcome, Runner } from './runner.ts';
import type { HookSlots } from './slots.ts';

export type Spawn = (argv: string[], options?: SpawnOptions) => Child;

export interface OneshotOptions {
  /** The program and its leading arguments, e.g. ["php", "/srv/app/www/app.php"]. */
  command: string[];
  spawn: Spawn;
  timeoutMs: number;
  /** The process-wide caps every one-shot hook process counts against. */
  slots: HookSlots;
  /** Bytes a line of output may have (limits.hookLine). */
  maxLine: number;
}

/** Enough stdout for any sane auth/connect result; the rest is dropped, not buffered. */
const RESULT_CAP = 1 << 20;
const STDERR_CAP = 16 << 10;
/** How long output may still come once the hook process exited (what it printed last, in the pipe). */
const PIPE_GRACE_MS = 2000;

/** Why a process was killed: `outlived` when only what it left behind was, after it exited. */
type Ended = { error: string; cancelled?: true; outlived?: true };

const OUTLIVED = `a process it started still held its output ${PIPE_GRACE_MS} ms after it exited; its process group was killed and what it printed since dropped`;

export function hookArgv(command: string[], job: HookJob): string[] {
  const argv = [...command, `websocket::${job.hook}`, job.host, job.token, job.socket];
  if (job.message !== undefined) argv.push(job.message);
  return argv;
}

export interface ProcessOptions {
  timeoutMs: number;
  /** Every non-empty stdout line, as it is printed; without it, stdout (trimmed) is the result. */
  onLine?: (line: string) => void;
  /** Aborts when the client went away: the process group is killed, the outcome is cancelled. */
  signal?: GoneSignal;
  /** Bytes a line of stdout may have (limits.hookLine); a longer one kills the process and fails it. */
  maxLine?: number;
}

/**
 * Runs a program to its end, as the leader of its own process group, so a
 * kill (timeout, cancel, an over-long line) ends whatever it started too;
 * so does still holding its output PIPE_GRACE_MS after it exited.
 * Exit 0 is success; anything else, or the timeout, is a failure. Never rejects.
 */
export async function runProcess(spawn: Spawn, argv: string[], options: ProcessOptions): Promise<HookOutcome> {
  const { timeoutMs, onLine, signal, maxLine } = options;
  if (signal?.aborted) return cancelledOutcome();
  let child: Child;
  try {
    child = spawn(argv, { group: true });
  } catch (error) {
    return { ok: false, error: `could not start ${argv[0]}: ${(error as Error).message}` };
  }

  // Why it was killed, if it was: the first reason wins, and nothing more is sent once there is one.
  let ended: Ended | undefined;
  const end = (why: Ended) => {
    if (ended) return;
    ended = why;
    child.kill();
  };
  const timer = setTimeout(() => end({ error: `timed out after ${timeoutMs} ms and was killed` }), timeoutMs);
  const onAbort = () => end(cancelledOutcome());
  signal?.addEventListener('abort', onAbort, { once: true });

  let result = '';
  const splitter = new LineSplitter(maxLine);
  const emit = (line: string) => {
    if (ended) return;
    if (onLine) {
      if (line.trim() !== '') onLine(line);
    } else if (result.length < RESULT_CAP) {
      result += (result ? '\n' : '') + line;
    }
  };
  const readStdout = (async () => {
    try {
      for await (const chunk of child.stdout) splitter.push(chunk, emit);
      splitter.end(emit);
    } catch (error) {
      if (error instanceof LineTooLong) end({ error: error.message });
      else throw error;
    }
  })();
  let stderr = '';
  const readStderr = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      if (stderr.length < STDERR_CAP) stderr += decoder.decode(chunk, { stream: true });
    }
  })();
  const pipes = Promise.all([readStdout.catch(() => {}), readStderr.catch(() => {})]);
  // Until its pipes close, whatever holds them is killed with wsgate, even after the hook process itself exited.
  if (child.pid !== undefined) {
    const release = holdGroup(child.pid);
    void pipes.then(release);
  }

  try {
    let code: number | null;
    try {
      code = await child.exited;
    } catch (error) {
      return { ok: false, error: `could not start ${argv[0]}: ${(error as Error).message}` };
    }
    // A grandchild that inherited the pipes could hold them open forever, and stream to the socket of a hook that has ended.
    if (!(await closedInTime(pipes))) {
      end({ error: OUTLIVED, outlived: true });
      // What left the group (setsid) outlives the kill and may hold the pipes for good: wsgate lets go of them.
      child.closeOutput?.();
    }
    const why = ended as Ended | undefined;
    // Only what it left behind was killed: the hook ran to its end and its result stands, with a note for the log.
    const note = why?.outlived ? `wsgate: ${why.error}` : '';
    const trimmed = [stderr.trim().slice(0, STDERR_CAP), note].filter(Boolean).join('\n') || undefined;
    if (why?.cancelled) return cancelledOutcome();
    if (why && !why.outlived) return { ok: false, error: why.error, stderr: trimmed };
    if (code !== 0) return { ok: false, error: code === null ? 'killed by a signal' : `exited with code ${code}`, stderr: trimmed };
    return { ok: true, result: result.trim(), stderr: trimmed };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** True when the pipes closed within the grace period after the process exited. */
async function closedInTime(pipes: Promise<unknown>): Promise<boolean> {
  let grace: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([pipes.then(() => true), new Promise<boolean>((resolve) => (grace = setTimeout(resolve, PIPE_GRACE_MS, false)))]);
  clearTimeout(grace);
  return closed;
}

export class OneshotRunner implements Runner {
  readonly kind = 'oneshot';
  readonly #options: OneshotOptions;

  constructor(options: OneshotOptions) {
    this.#options = options;
  }

  async run(job: HookJob, onLine?: (line: string) => void, signal?: GoneSignal): Promise<HookOutcome> {
    const { spawn, timeoutMs, command, slots, maxLine } = this.#options;
    // Auth hooks also count against their host's cap: one host's flood of upgrades cannot take every slot.
    // A close hook is never refused: the app must hear that a socket it accepted has gone.
    const slot = await slots.acquire(job.hook === 'auth' ? { host: job.host, authHost: job.host } : { host: job.host, neverBusy: job.hook === 'close' }, signal);
    if (!slot.ok) return 'busy' in slot ? { ok: false, error: slot.busy, busy: true } : cancelledOutcome();
    try {
      // The path's parameters go in the environment: the argv stays exactly what the old servers passed.
      const withParams: Spawn = job.params ? (argv, options = {}) => spawn(argv, { ...options, env: { ...options.env, WSGATE_PARAMS: JSON.stringify(job.params) } }) : spawn;
      return await runProcess(withParams, hookArgv(command, job), { timeoutMs, onLine, signal, maxLine });
    } finally {
      slot.release();
    }
  }
}
