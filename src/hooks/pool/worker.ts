/**
 * One resident worker process: boots, says ready, then runs one job at a
 * time. A worker whose ready frame says `"pipeline": true` may be handed the
 * next job while it still runs one: the job waits in its stdin, so PHP goes
 * from one job to the next without waiting for the gateway. Anything
 * off-protocol (a non-JSON line, an unknown id, a `fatal` frame, an exit)
 * ends the worker and fails the job it runs; jobs still waiting behind it
 * never started, and are handed back (`notStarted`) to run elsewhere.
 *
 * Never twice: a job written ahead is handed back only when the worker
 * cannot have started it. PHP starts the next job once it has printed the
 * current one's answer, and the gateway reads that output in order, so
 * once the worker is dead and its output read to the end, a job written
 * ahead is known not to have started if no answer to the job before it
 * came, nor any frame of its own. Output read after the worker was killed
 * is read for that alone; a line that cannot be read while a job waits
 * behind (it may have been the answer), or output not read to its end,
 * counts as a start: the job fails rather than risk running again.
 */
import { LineSplitter, LineTooLong } from '../lines.ts';
import { utf8Length } from '../../core/utf8.ts';
import { holdGroup } from '../../runtime/groups.ts';
import type { Child, SpawnOptions } from '../../runtime/types.ts';
import { jobFrame, lineText, parseFrame } from './frames.ts';

export interface WorkerJob {
  target: string;
  args: unknown[];
  stream: boolean;
  params?: Record<string, string>;
  /** The pool queue's lane (a host, dispatch, a webhook app) and its turn within it (a socket): both served round-robin. Not sent to the worker. */
  lane?: string;
  sublane?: string;
}

/** `busy`: it never started, the pool's queue being full (an upgrade answers 503 then, as for one-shot hooks). */
export type WorkerOutcome = { ok: true; result: unknown; stderr?: string } | { ok: false; error: string; stderr?: string; notStarted?: true; busy?: true; stopped?: true };

/** Jobs a pipelining worker holds at once: the one it runs and the next. */
export const PIPELINE_DEPTH = 2;

export type Spawn = (argv: string[], options?: SpawnOptions) => Child;

interface Current {
  id: string;
  onLine?: (line: string) => void;
  resolve: (outcome: WorkerOutcome) => void;
  timeoutMs: number;
  /** Armed when the job reaches the head of the line, i.e. when PHP starts it. */
  timer?: ReturnType<typeof setTimeout>;
  stderr: string;
  /** PHP may have started it while it waited behind another (see the class comment); the head has started anyway. */
  maybeStarted?: true;
}

const STDERR_CAP = 16 << 10;
/** What an idle or booting worker may have logged of its stderr per second; the rest is counted, not logged. */
const IDLE_STDERR_PER_SECOND = 16 << 10;
const RETIRE_GRACE_MS = 2000;
/** How long its output may still come once the worker exited; then what holds its pipes is killed. */
const PIPE_GRACE_MS = 200;

async function* nothing(): AsyncGenerator<Uint8Array> {}

/** A spawn that throws (no such program) becomes a child that has already failed, so one path handles both. */
function spawnOrStub(spawn: Spawn, argv: string[]): Child {
  try {
    // Its own process group: a kill (timeout, off-protocol) ends what the worker started too.
    return spawn(argv, { stdin: true, group: true });
  } catch (error) {
    return { pid: undefined, stdout: nothing(), stderr: nothing(), exited: Promise.reject(error as Error), kill() {} };
  }
}
/** True when `pipes` closed within PIPE_GRACE_MS. */
async function closedWithin(pipes: Promise<unknown>): Promise<boolean> {
  let grace: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([pipes.then(() => true), new Promise<boolean>((r) => (grace = setTimeout(r, PIPE_GRACE_MS, false)))]);
  clearTimeout(grace);
  return closed;
}
let nextWorker = 1;

export class Worker {
  readonly number = nextWorker++;
  state: 'booting' | 'idle' | 'busy' | 'dead' = 'booting';
  jobs = 0;
  readonly started = Date.now();
  idleSince = Date.now();
  /** Set when the worker should go once its current job is done (recycle, reload). */
  retiring = false;
  /** Why it died, once it has. */
  death?: string;
  /** The worker said it reads jobs one after another from stdin, so it may be sent the next one early. */
  pipelines = false;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  readonly #child: Child;
  /** Jobs sent and not answered, oldest first: the first is the one PHP runs. */
  readonly #inflight: Current[] = [];
  #nextJob = 1;
  /** The idle stderr budget's second, what it has logged in it, and what it dropped. */
  #stderrSecond = 0;
  #stderrLogged = 0;
  #stderrDropped = 0;
  /** Its stdout was read to the end: nothing it printed is left unseen. */
  #stdoutRead = false;
  /** Killed because the gateway stops (kill): its jobs end stopped or busy. */
  #stopping = false;
  #bootStderr = '';
  readonly #maxLine: number | undefined;
  #markReady!: () => void;
  #failBoot!: (error: Error) => void;

  constructor(
    argv: string[],
    spawn: Spawn,
    /** `writesAhead`: its pool writes a busy worker its next job even unasked (pool.writeAhead, read now: a reload may change it). */
    private readonly hooks: { onExit(worker: Worker, reason: string): void; onStderr(worker: Worker, text: string): void; writesAhead?(): boolean },
    bootTimeoutMs: number,
    maxLine?: number,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = resolve;
      this.#failBoot = reject;
    });
    this.ready.catch(() => {});
    this.#maxLine = maxLine;
    const child = spawnOrStub(spawn, argv);
    this.#child = child;
    const bootTimer = setTimeout(() => this.kill(`did not say ready within ${bootTimeoutMs} ms`), bootTimeoutMs);
    this.ready.then(() => clearTimeout(bootTimer), () => clearTimeout(bootTimer));

    // A frame wraps a line in JSON, whose escaping may double it: the bound on frames is twice the bound on lines.
    const splitter = new LineSplitter(maxLine === undefined ? undefined : 2 * maxLine);
    const onLine = (line: string) => this.#readLine(line);
    const readStdout = (async () => {
      for await (const chunk of child.stdout) splitter.push(chunk, onLine);
      splitter.end(onLine);
      this.#stdoutRead = true;
      this.#outputEnded();
    })().catch((error: unknown) => {
      this.kill(error instanceof LineTooLong ? `printed a frame longer than ${error.limit} bytes (a line of output is longer than ${maxLine} bytes)` : `its output could not be read: ${(error as Error).message}`);
    });
    const decoder = new TextDecoder();
    const readStderr = (async () => {
      for await (const chunk of child.stderr) this.#onStderr(decoder.decode(chunk, { stream: true }));
    })().catch(() => {});
    const pipes = Promise.all([readStdout, readStderr]);
    // Past its leader's exit, the group is killed with wsgate until its pipes close (a leftover killed then, or one that escaped it).
    if (child.pid !== undefined) void pipes.then(holdGroup(child.pid));
    this.exited = child.exited
      .catch((error: Error) => {
        this.#bootStderr += error.message;
        return -1;
      })
      .then(async (code) => {
        // What still holds its pipes once it exited is something it started: it goes with the worker, as a one-shot hook's leftovers do.
        if (!(await closedWithin(pipes))) {
          this.#child.kill();
          // What left the group (setsid) outlives the kill and may hold the pipes for good: wsgate lets go of them, once
          // what the kill ended had its turn to close them (its last output may tell of the jobs written ahead).
          if (!(await closedWithin(pipes))) this.#child.closeOutput?.();
        }
        this.#die(this.death ?? (code === null ? 'killed by a signal' : `exited with code ${code}`));
      });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Jobs sent and not yet answered. */
  get inflight(): number {
    return this.#inflight.length;
  }

  /**
   * Whether it can take a job now: idle, or busy with room behind its
   * current job when it offered pipelining or its pool writes ahead (a
   * worker that reads its jobs one line at a time, as Phlo's do).
   */
  canTake(): boolean {
    if (this.retiring || this.death) return false;
    return this.state === 'idle' || (this.state === 'busy' && (this.pipelines || this.hooks.writesAhead?.() === true) && this.#inflight.length < PIPELINE_DEPTH);
  }

  /** Runs one job (see canTake). Never rejects. */
  run(job: WorkerJob, onLine: ((line: string) => void) | undefined, timeoutMs: number): Promise<WorkerOutcome> {
    if (!this.canTake()) return Promise.resolve({ ok: false, error: `worker is ${this.state}`, notStarted: true });
    this.state = 'busy';
    this.jobs++;
    const id = `${this.number}.${this.#nextJob++}`;
    return new Promise<WorkerOutcome>((resolve) => {
      const current: Current = { id, onLine, resolve, timeoutMs, stderr: '' };
      this.#inflight.push(current);
      if (this.#inflight.length === 1) this.#arm(current);
      this.#child.stdin!.write(jobFrame(id, job.target, job.args, job.stream, job.params));
    });
  }

  #arm(current: Current): void {
    current.timer = setTimeout(() => this.kill(`job timed out after ${current.timeoutMs} ms`), current.timeoutMs);
  }

  /** Ends the worker: closes stdin so its loop can finish, then kills it. */
  retire(): void {
    this.retiring = true;
    if (this.state === 'booting') this.kill('retired');
    else if (this.state === 'idle') this.#finishGently('retired');
  }

  /** `stopping`: the gateway stops it, so its jobs end stopped or busy, not failed: an auth hook's failure is a 401. */
  kill(reason: string, stopping = false): void {
    if (this.state === 'dead' || this.death) return;
    this.death = reason;
    this.#stopping = stopping;
    this.#child.stdin?.end();
    this.#child.kill();
  }

  /**
   * An idle worker that is done: end of stdin ends its loop, so PHP runs its
   * shutdown functions and flushes; a worker that does not exit soon is killed.
   */
  #finishGently(reason: string): void {
    if (this.state === 'dead' || this.death) return;
    this.death = reason;
    this.#child.stdin?.end();
    const timer = setTimeout(() => this.#child.kill(), RETIRE_GRACE_MS);
    void this.exited.then(() => clearTimeout(timer));
  }

  /**
   * Its stdout ended. Normally that is its exit, seen soon after; one that goes on running without it (fclose(STDOUT))
   * can answer no job again, and its jobs would wait out their timeout: killed once its exit is overdue. PHP may have
   * started a job written ahead with nothing left to say so: that job fails rather than run again elsewhere.
   */
  #outputEnded(): void {
    if (this.death) return;
    const overdue = setTimeout(() => {
      if (this.death) return;
      this.#aheadMayHaveStarted();
      this.kill('closed its output while it still ran: it can answer no job');
    }, PIPE_GRACE_MS);
    // Its process's exit, not the worker's end: that waits for its pipes, which something it started may hold.
    const exited = () => clearTimeout(overdue);
    void this.#child.exited.then(exited, exited);
  }

  /** One line of output; handling it never throws into the reader, which must read on to the end (see the class comment). */
  #readLine(line: string): void {
    try {
      if (this.death) this.#afterDeath(line);
      else this.#onLine(line);
    } catch (error) {
      this.#aheadMayHaveStarted();
      this.kill(`sent a frame wsgate could not handle: ${(error as Error).message}`);
    }
  }

  /** Output after the worker was killed: read only for what it says of the jobs written ahead. */
  #afterDeath(line: string): void {
    if (line.trim() === '' || this.#inflight.length < 2) return;
    const parsed = parseFrame(line);
    if ('problem' in parsed) return this.#aheadMayHaveStarted();
    const frame = parsed.frame;
    if (frame.t === 'ready' || frame.t === 'fatal') return;
    const at = this.#inflight.findIndex((job) => job.id === frame.id);
    // A line of a job behind is that job running; an answer lets PHP go on, whatever id it names (see #onLine).
    if (at > 0 || frame.t !== 'line') this.#aheadMayHaveStarted();
  }

  /** The jobs written ahead may have started (PHP takes them in order). */
  #aheadMayHaveStarted(): void {
    for (let i = 1; i < this.#inflight.length; i++) this.#inflight[i]!.maybeStarted = true;
  }

  #onLine(line: string): void {
    if (line.trim() === '') return;
    const parsed = parseFrame(line);
    // Unreadable: it may have been the answer, after which PHP went on to the next job.
    if ('problem' in parsed) {
      if (this.#inflight.length > 1) this.#aheadMayHaveStarted();
      return this.kill(parsed.problem);
    }
    const frame = parsed.frame;
    if (frame.t === 'ready') {
      if (this.state !== 'booting') return this.kill('said ready twice');
      this.pipelines = frame.pipeline === true;
      this.state = 'idle';
      this.idleSince = Date.now();
      this.#markReady();
      return;
    }
    if (frame.t === 'fatal') return this.kill(`sent a fatal frame: ${lineText(frame.message ?? '').slice(0, STDERR_CAP)}`);
    const current = this.#inflight[0];
    if (!current || frame.id !== current.id) {
      // A frame of a job written ahead: that job started, its answer to the one before having been lost. An answer
      // under an id it was not running may have been the answer to the one it ran, after which PHP read the next.
      if (frame.t !== 'line' || this.#inflight.findIndex((job) => job.id === frame.id) > 0) this.#aheadMayHaveStarted();
      return this.kill(`answered job ${JSON.stringify(frame.id)}, which it was not running`);
    }
    if (frame.t === 'line') {
      const text = lineText(frame.data);
      // The frame's bound is twice the line's, for escaping: a frame under it may still carry a line over limits.hookLine.
      if (this.#maxLine !== undefined && utf8Length(text) > this.#maxLine) return this.kill(`printed a line frame over the bound (${new LineTooLong(this.#maxLine).message})`);
      current.onLine?.(text);
      return;
    }
    // Capped as stderr is: the failure's log line carries it, and a line over the log's backlog bound is dropped whole.
    const error = frame.t === 'error' ? lineText(frame.message ?? 'error').slice(0, STDERR_CAP) : '';
    this.#finish(frame.t === 'done' ? { ok: true, result: frame.result ?? null } : { ok: false, error }, frame.stderr == null ? undefined : lineText(frame.stderr));
  }

  /** The job at the head is answered; the next one, already in PHP's stdin, is now the one it runs. `reported`: the answer's own stderr. */
  #finish(outcome: WorkerOutcome, reported?: string): void {
    const current = this.#inflight.shift();
    if (!current) return;
    clearTimeout(current.timer);
    const stderr = [reported?.slice(0, STDERR_CAP).trim(), current.stderr.trim()].filter(Boolean).join('\n');
    if (stderr) outcome.stderr = stderr;
    const next = this.#inflight[0];
    if (next) this.#arm(next);
    else if (this.state === 'busy') {
      this.state = 'idle';
      this.idleSince = Date.now();
    }
    current.resolve(outcome);
  }

  #onStderr(text: string): void {
    const current = this.#inflight[0];
    if (current) {
      if (current.stderr.length < STDERR_CAP) current.stderr += text;
    } else {
      if (this.state === 'booting' && this.#bootStderr.length < STDERR_CAP) this.#bootStderr += text;
      this.#logStderr(text);
    }
  }

  /** Stderr outside a job goes to the log, at most IDLE_STDERR_PER_SECOND of it: a worker printing without end must not flood it. */
  #logStderr(text: string): void {
    const second = Math.floor(performance.now() / 1000);
    if (second !== this.#stderrSecond) {
      if (this.#stderrDropped > 0) this.hooks.onStderr(this, `(${this.#stderrDropped} more characters of stderr not logged)`);
      this.#stderrSecond = second;
      this.#stderrLogged = 0;
      this.#stderrDropped = 0;
    }
    if (this.#stderrLogged + text.length > IDLE_STDERR_PER_SECOND) {
      this.#stderrDropped += text.length;
      return;
    }
    this.#stderrLogged += text.length;
    this.hooks.onStderr(this, text);
  }

  #die(reason: string): void {
    if (this.state === 'dead') return;
    const wasBooting = this.state === 'booting';
    this.state = 'dead';
    this.death = reason;
    if (wasBooting) {
      const stderr = this.#bootStderr.trim();
      this.#failBoot(new Error(`worker ${reason}${stderr ? `: ${stderr.slice(-2000)}` : ''}`));
    }
    const waiting = this.#inflight.splice(1);
    // Killed by the gateway's stop: what ran was stopped, what had not started is busy (neither is a hook's no).
    const stopped = this.#stopping ? { stopped: true as const } : {};
    const busy = this.#stopping ? { busy: true as const } : {};
    this.#finish({ ok: false, error: `worker ${reason}`, ...stopped });
    for (const job of waiting) {
      clearTimeout(job.timer);
      // Output not read to its end may hold a start: not handed back then (see the class comment).
      if (job.maybeStarted || !this.#stdoutRead) job.resolve({ ok: false, error: `worker ${reason} after the job may have started`, ...stopped });
      else job.resolve({ ok: false, error: `worker ${reason} before the job started`, notStarted: true, ...busy });
    }
    this.hooks.onExit(this, reason);
  }
}
