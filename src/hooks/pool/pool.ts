/**
 * The workers of one app: started on demand (one boot at a time), one job
 * per worker, a bounded queue, recycled after N jobs, reaped when idle,
 * respawned with backoff after a crash. Capacity (capacity.ts) is shared by all pools.
 * The queue is fair (fair-queue.ts): hosts take turns, then their sockets,
 * and a host holding far fewer places is not refused while another
 * floods it.
 */
import type { Logger } from '../../ops/log.ts';
import { cancelledOutcome } from '../runners/runner.ts';
import type { Capacity } from './capacity.ts';
import { FairQueue } from './fair-queue.ts';
import { Worker } from './worker.ts';
import type { Spawn, WorkerJob, WorkerOutcome } from './worker.ts';
import type { GoneSignal } from '../../runtime/types.ts';

export interface PoolSettings {
  /** Idle workers older than this are stopped. */
  idleMs: number;
  /** A worker is replaced after this many jobs. */
  maxJobs: number;
  /** Jobs waiting for a worker beyond this are refused. */
  maxQueue: number;
  /** A job running longer fails and its worker is killed. */
  timeoutMs: number;
  /** A worker that has not said ready by then is killed. */
  bootTimeoutMs: number;
  /** Bytes a line a job prints may have (limits.hookLine); a worker printing a longer frame is killed. */
  maxLine?: number;
  /** A busy worker is written its next job even when it did not offer pipelining (pool.writeAhead; Phlo's workers read one line at a time). */
  writeAhead?: boolean;
}

export interface PoolStats {
  workers: number;
  busy: number;
  /** Jobs waiting for a worker. */
  queued: number;
  /** Jobs already sent to a pipelining worker, behind the job it runs. */
  pipelined: number;
  done: number;
  failed: number;
  /** Workers retired after maxJobs. */
  recycled: number;
}

interface Queued {
  job: WorkerJob;
  readonly lane: string;
  readonly sublane?: string;
  /** Counted by maxQueue: all but close hooks. */
  readonly bounded: boolean;
  onLine?: (line: string) => void;
  timeoutMs: number;
  resolve: (outcome: WorkerOutcome) => void;
  signal?: GoneSignal;
  onAbort?: () => void;
}

/**
 * How long a worker serves its own app before it goes to another app waiting for room under the cap, though its own
 * jobs wait: two busy apps take turns of this length, rather than one boot per job.
 */
const TURN_MS = 1000;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

/** After how many jobs a worker's successor starts booting: the last tenth of its life. */
export const successorAt = (maxJobs: number): number => Math.max(1, maxJobs - Math.ceil(maxJobs / 10));

export class Pool {
  readonly #workers = new Set<Worker>();
  readonly #queue = new FairQueue<Queued>();
  #booting = false;
  #crashes = 0;
  #notBefore = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #done = 0;
  #failed = 0;
  #recycled = 0;

  constructor(
    readonly app: string,
    public argv: string[],
    public settings: PoolSettings,
    readonly capacity: Capacity,
    readonly spawn: Spawn,
    readonly log: Logger,
  ) {
    capacity.add(this);
  }

  get liveWorkers(): number {
    return this.#workers.size;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** No worker, none starting or due to, and nothing waiting: it may go without anyone noticing. */
  get idle(): boolean {
    return this.#workers.size === 0 && this.#queue.length === 0 && !this.#booting && this.#retryTimer === undefined;
  }

  stats(): PoolStats {
    let busy = 0;
    let pipelined = 0;
    for (const w of this.#workers) {
      if (w.state === 'busy') busy++;
      if (w.inflight > 1) pipelined += w.inflight - 1;
    }
    return { workers: this.#workers.size, busy, queued: this.#queue.length, pipelined, done: this.#done, failed: this.#failed, recycled: this.#recycled };
  }

  /**
   * Runs a job on a worker of this app, queueing it in its lane when none is
   * free. When `signal` aborts, a queued job leaves the queue (never sent to
   * a worker); a job already sent runs to its end on the worker (the Phlo
   * daemon never stops one midway either), its lines are dropped and its
   * result is replaced by the cancelled outcome. Never rejects. A close hook
   * (`neverBusy`) waits beyond maxQueue: the app must hear of every socket.
   */
  run(job: WorkerJob, onLine?: (line: string) => void, timeoutMs = this.settings.timeoutMs, signal?: GoneSignal, neverBusy = false): Promise<WorkerOutcome> {
    if (signal?.aborted) return Promise.resolve(cancelledOutcome());
    if (this.#stopped) return Promise.resolve({ ok: false, error: 'the pool is stopped' });
    const lane = job.lane ?? '';
    const refused = neverBusy ? undefined : this.#refusal(lane, signal);
    if (refused) return Promise.resolve(refused);
    if (!neverBusy && this.#queue.bounded >= this.settings.maxQueue) this.#giveWay(lane);
    return new Promise<WorkerOutcome>((resolve) => {
      const item: Queued = { job, lane, sublane: job.sublane, bounded: !neverBusy, onLine, timeoutMs, resolve, signal };
      if (signal) {
        item.onLine = onLine && ((line) => signal.aborted || onLine(line));
        item.resolve = (outcome) => {
          signal.removeEventListener('abort', item.onAbort!);
          resolve(signal.aborted ? cancelledOutcome() : outcome);
        };
        item.onAbort = () => {
          if (this.#queue.remove(item)) item.resolve(cancelledOutcome());
        };
        signal.addEventListener('abort', item.onAbort, { once: true });
      }
      this.#queue.push(item);
      this.pump();
    });
  }

  /**
   * Why a job of `lane` would be refused now (the queue is full), if it would:
   * an async /dispatch answers 503 then rather than a 202 for a job that
   * cannot wait. Checked and run in one go (no await between), the answer holds.
   */
  refusal(lane: string): string | undefined {
    return this.#stopped ? undefined : this.#full(lane)?.error;
  }

  /** The busy outcome when the queue's bound is reached, after the clients that went have left it; undefined when the job may wait. */
  #refusal(lane: string, signal?: GoneSignal): WorkerOutcome | undefined {
    const refused = this.#full(lane, signal);
    if (refused?.busy) this.#failed++;
    return refused;
  }

  /** Close hooks wait beyond the bound and are not counted by it, or a mass disconnect would make every other hook busy. */
  #full(lane: string, signal?: GoneSignal): (WorkerOutcome & { ok: false }) | undefined {
    if (this.#queue.hasRoom(lane, this.settings.maxQueue)) return undefined;
    // Jobs whose clients went leave the queue now, if the runtime learns of that only when asked; this job's own client may be one.
    this.capacity.beforeBusy();
    if (signal?.aborted) return cancelledOutcome();
    if (this.#queue.hasRoom(lane, this.settings.maxQueue)) return undefined;
    return { ok: false, busy: true, error: `queue full: ${this.#queue.bounded} jobs already wait for a worker of ${this.app} (maxQueue)` };
  }

  /** The queue is full, and `lane` holds far fewer places than another: that lane's newest job is refused for it. */
  #giveWay(lane: string): void {
    const given = this.#queue.giveWay(lane);
    if (!given) return;
    this.#failed++;
    given.resolve({ ok: false, busy: true, error: `queue full: ${this.settings.maxQueue} jobs wait for a worker of ${this.app} (maxQueue), and its places are shared between hosts` });
  }

  /** Hands queued jobs to idle workers, and starts a worker when more are needed and allowed. */
  pump(): void {
    if (this.#stopped) return;
    this.#yieldWorker();
    while (this.#queue.length > 0) {
      const worker = this.#idleWorker();
      if (!worker) break;
      this.#assign(worker, this.#queue.shift()!);
    }
    if (this.#queue.length === 0) {
      this.#yieldWorker();
      return;
    }
    if (!this.#booting) {
      const wait = this.#notBefore - Date.now();
      if (wait > 0) {
        this.#retryTimer ??= setTimeout(() => {
          this.#retryTimer = undefined;
          this.pump();
        }, wait);
      } else if (this.capacity.claim(this)) this.#boot();
    }
    // A worker starting for what waits is its sooner start: the job a busy worker runs may be long.
    if (this.#booting) return;
    // Whatever still waits goes behind the current job of a worker that takes jobs early, so it never idles between two;
    // but not of one owed to another app, which must fall idle to be handed over.
    const owes = this.capacity.owed(this);
    while (this.#queue.length > 0) {
      const worker = this.#pipeliningWorker(owes);
      if (!worker) break;
      this.#assign(worker, this.#queue.shift()!);
    }
  }

  reap(now: number): void {
    for (const w of this.#workers) {
      if (w.state === 'idle' && now - w.idleSince >= this.settings.idleMs) {
        this.log.debug('worker reaped', { app: this.app, pid: w.pid, idle: now - w.idleSince });
        w.retire();
      }
    }
  }

  oldestIdle(): number | undefined {
    let oldest: number | undefined;
    for (const w of this.#workers) if (w.state === 'idle' && (oldest === undefined || w.idleSince < oldest)) oldest = w.idleSince;
    return oldest;
  }

  stopOldestIdle(reason: string): void {
    let pick: Worker | undefined;
    for (const w of this.#workers) if (w.state === 'idle' && (!pick || w.idleSince < pick.idleSince)) pick = w;
    if (pick) {
      this.log.debug('worker stopped', { app: this.app, pid: pick.pid, reason });
      pick.retire();
      // Its slot is free now; the process exits shortly.
      this.#workers.delete(pick);
    }
  }

  /** Replaces every worker: idle ones now, busy ones after their current job. */
  replaceAll(): void {
    for (const w of this.#workers) w.retire();
    this.#crashes = 0;
    this.#notBefore = 0;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    // Busy, not failed: nothing said no to these jobs, and an auth hook's failure would tell its client its token is bad (401).
    for (const item of this.#queue.drain()) item.resolve({ ok: false, busy: true, error: 'the gateway is stopping' });
    const exits = [...this.#workers].map((w) => {
      w.kill('stopped', true);
      return w.exited;
    });
    await Promise.all(exits);
  }

  #idleWorker(): Worker | undefined {
    // The most recently used idle worker: keeps the others idle long enough to be reaped. One killed while idle stays
    // 'idle' until its exit is seen; handed a job, it hands it back at once, and the job would come straight back to it.
    let pick: Worker | undefined;
    for (const w of this.#workers) if (w.state === 'idle' && w.canTake() && (!pick || w.idleSince > pick.idleSince)) pick = w;
    return pick;
  }

  /** The pipelining worker with the fewest jobs waiting that can take one more; `owes`: none that has served its turn. */
  #pipeliningWorker(owes: boolean): Worker | undefined {
    let pick: Worker | undefined;
    for (const w of this.#workers) {
      if (owes && this.#servedTurn(w)) continue;
      if (w.canTake() && w.jobs < this.settings.maxJobs && (!pick || w.inflight < pick.inflight)) pick = w;
    }
    return pick;
  }

  #servedTurn(w: Worker): boolean {
    return Date.now() - w.started >= TURN_MS;
  }

  /**
   * Another app waits for room under the cap and holds fewer workers: it takes an idle worker of this one (its claim
   * stops it), at once when this app has nothing for it (else it would wait for that worker's idle reap), and once
   * the worker has served its turn when this app's jobs wait too (else an app whose sockets keep its workers busy
   * would hold the cap from the other for good).
   */
  #yieldWorker(): void {
    // Asked first: with one app, or none waiting, it is an empty set's answer, and the workers are not walked per pump.
    if (!this.capacity.owed(this)) return;
    for (const w of this.#workers) {
      if (w.state === 'idle' && w.canTake() && (this.#queue.length === 0 || this.#servedTurn(w))) return this.capacity.handOver(this);
    }
  }

  /**
   * Starts a worker. A successor (`replaces`) boots while the worker it
   * replaces still serves, outside the cap, and retires it once ready: with
   * one worker, recycling would otherwise stall every job behind a boot.
   */
  #boot(replaces?: Worker): void {
    this.#booting = true;
    const worker = new Worker(
      this.argv,
      this.spawn,
      {
        onExit: (w, reason) => this.#onExit(w, reason),
        onStderr: (w, text) => this.log.warn('worker stderr', { app: this.app, pid: w.pid, stderr: text.trim() }),
        writesAhead: () => this.settings.writeAhead === true,
      },
      this.settings.bootTimeoutMs,
      this.settings.maxLine,
    );
    this.#workers.add(worker);
    this.log.debug('worker starting', { app: this.app, pid: worker.pid });
    worker.ready.then(
      () => {
        this.#booting = false;
        this.#crashes = 0;
        this.log.info('worker ready', { app: this.app, pid: worker.pid, workers: this.#workers.size });
        if (replaces && !replaces.retiring && replaces.state !== 'dead') {
          this.log.debug('worker recycled', { app: this.app, pid: replaces.pid, jobs: replaces.jobs, successor: worker.pid });
          this.#recycled++;
          replaces.retire();
        }
        this.pump();
      },
      (error: Error) => {
        this.#booting = false;
        if (worker.retiring || this.#stopped) {
          // Stopped on purpose mid-boot (a reload): not a failure; a fresh worker takes its place.
          this.pump();
          return;
        }
        this.log.error('worker failed to start', { app: this.app, pid: worker.pid, error: error.message });
        // Nothing else will serve these jobs soon: fail them rather than let them wait on a broken app.
        if (![...this.#workers].some((w) => w !== worker && w.state !== 'dead')) {
          for (const item of this.#queue.drain()) {
            this.#failed++;
            item.resolve({ ok: false, error: `no worker could start: ${error.message}` });
          }
        }
        this.pump();
      },
    );
  }

  #assign(worker: Worker, item: Queued): void {
    void worker.run(item.job, item.onLine, item.timeoutMs).then((outcome) => {
      if (!outcome.ok && outcome.notStarted && !this.#stopped && !item.signal?.aborted) {
        // It never reached PHP's hands (its worker died before): it runs on another worker, first in line.
        this.#queue.unshift(item);
        this.pump();
        return;
      }
      if (outcome.ok) this.#done++;
      else this.#failed++;
      item.resolve(outcome);
      if (worker.state === 'idle' && (worker.retiring || worker.jobs >= this.settings.maxJobs)) {
        if (!worker.retiring) {
          this.log.debug('worker recycled', { app: this.app, pid: worker.pid, jobs: worker.jobs });
          this.#recycled++;
        }
        worker.retire();
      } else if (!worker.retiring && !worker.death && worker.jobs >= successorAt(this.settings.maxJobs) && !this.#booting && !this.#stopped) {
        // Not for a dead worker: nothing to hand over, and its successor would boot outside the cap and the crash backoff.
        this.#boot(worker);
      }
      this.pump();
    });
  }

  #onExit(worker: Worker, reason: string): void {
    this.#workers.delete(worker);
    const expected = worker.retiring || this.#stopped;
    if (!expected) {
      this.#crashes++;
      this.#notBefore = Date.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.#crashes - 1));
      this.log.error('worker died', { app: this.app, pid: worker.pid, reason, jobs: worker.jobs });
    }
    this.pump();
    this.capacity.released();
  }
}
