/**
 * Running any target of an app outside a socket's life: /dispatch and the
 * schedule. Only configured apps may run (compared by real path), unless the
 * config opts in to the old daemon's "any app.php" behaviour.
 */
import type { Config, PoolConfig } from '../config/config.ts';
import type { Pools } from './pool/pools.ts';
import { runProcess } from './runners/oneshot.ts';
import type { Spawn } from './runners/oneshot.ts';
import { cancelledOutcome } from './runners/runner.ts';
import type { HookOutcome } from './runners/runner.ts';
import type { HookSlots } from './runners/slots.ts';
import type { GoneSignal } from '../runtime/types.ts';

/** Resident dispatch jobs wait in a lane of their own in their app's pool, next to the hosts' (fair-queue.ts). */
const DISPATCH_LANE = 'dispatch';

export interface DispatchJob {
  app: string;
  target: string;
  args: unknown[];
  /** true: one process for this job; false: the app's resident pool. */
  build: boolean;
}

export type AppCheck = { ok: true; app: string } | { ok: false; reason: string };

interface PoolChoice {
  pool: PoolConfig;
  timeoutMs: number;
}

export class Dispatcher {
  readonly #allowed: Set<string>;
  /** Resident hosts' pool settings by real app path: /dispatch to their app shares their pool. */
  readonly #hostPools: Map<string, PoolChoice>;
  /** Hosts' plain PHP hooks files by real path, with a host that runs each: no app, whatever `apps` or dispatchAnyApp say. */
  readonly #hooksFiles: Map<string, string>;

  private constructor(
    allowed: Set<string>,
    hostPools: Map<string, PoolChoice>,
    hooksFiles: Map<string, string>,
    private readonly config: Config,
    private readonly pools: Pools,
    private readonly spawn: Spawn,
    private readonly realPath: (path: string) => Promise<string>,
    private readonly slots: HookSlots,
  ) {
    this.#allowed = allowed;
    this.#hostPools = hostPools;
    this.#hooksFiles = hooksFiles;
  }

  /** The hosts' apps and the `apps` list, by real path. */
  static async create(config: Config, pools: Pools, spawn: Spawn, realPath: (path: string) => Promise<string>, slots: HookSlots): Promise<Dispatcher> {
    const real = (app: string) => realPath(app).catch(() => app);
    const allowed = new Set<string>();
    for (const app of [...config.hosts.map((h) => h.app), ...config.apps, ...config.schedule.map((e) => e.app)]) {
      if (app) allowed.add(await real(app));
    }
    const hooksFiles = new Map<string, string>();
    for (const host of config.hosts) if (host.hooks) hooksFiles.set(await real(host.hooks), host.key);
    const hostPools = new Map<string, PoolChoice>();
    for (const host of config.hosts) {
      if (host.mode !== 'resident' || !host.app) continue;
      // Hosts of one app agree on `pool` (the config is refused otherwise) but each has its own timeout, which its hooks
      // keep: a job of the app as a whole gets the longest, whatever order the hosts are written in.
      const app = await real(host.app);
      const timeoutMs = Math.max(host.timeoutMs, hostPools.get(app)?.timeoutMs ?? 0);
      hostPools.set(app, { pool: host.pool!, timeoutMs });
    }
    return new Dispatcher(allowed, hostPools, hooksFiles, config, pools, spawn, realPath, slots);
  }

  get apps(): string[] {
    return [...this.#allowed];
  }

  /** The real path of `app` when it may run here, else why not. */
  async check(app: string): Promise<AppCheck> {
    if (!app.startsWith('/')) return { ok: false, reason: `app must be an absolute path, got "${app.slice(0, 200)}"` };
    const real = await this.realPath(app).catch(() => undefined);
    // Its pool is the host's SDK workers: a job there would run as a hook, and take the host's pool settings for its own.
    const host = real === undefined ? undefined : this.#hooksFiles.get(real);
    if (host !== undefined) return { ok: false, reason: `app "${app.slice(0, 200)}" is the hooks file of host ${JSON.stringify(host)}, not an app: /dispatch runs Phlo apps` };
    if (real && this.#allowed.has(real)) return { ok: true, app: real };
    if (this.config.dispatchAnyApp) {
      return real ? { ok: true, app: real } : { ok: false, reason: `app "${app}" does not exist` };
    }
    return {
      ok: false,
      reason: `app "${app.slice(0, 200)}" is not configured: add it to "apps" in the config (or set "dispatchAnyApp": true to run any app, as the old daemon did)`,
    };
  }

  /**
   * Why the job would be refused at once if run now (its process cap's queue,
   * or its pool's, is full), if it would: an async request answers 503 instead
   * of 202 then. Checked and run in one go (no await between), the answer holds.
   */
  refusal(job: DispatchJob): string | undefined {
    return job.build ? this.slots.refusal() : this.#pool(job).refusal(DISPATCH_LANE);
  }

  /**
   * Runs a job whose app passed `check`. A `build` job is a process, under the
   * same cap as one-shot hooks (busy when its queue is full); a resident job
   * waits in its pool's dispatch lane. Never rejects.
   */
  async run(job: DispatchJob, onLine?: (line: string) => void, signal?: GoneSignal): Promise<HookOutcome> {
    const args = job.args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a)));
    if (job.build) {
      const slot = await this.slots.acquire({}, signal);
      if (!slot.ok) return 'busy' in slot ? { ok: false, error: slot.busy, busy: true } : cancelledOutcome();
      try {
        const argv = [this.config.php, job.app, job.target, ...args];
        const outcome = await runProcess(this.spawn, argv, { timeoutMs: this.config.timeoutMs, onLine, signal, maxLine: this.config.limits.hookLine });
        // The daemon answers an empty one-shot result as null.
        return outcome.ok ? { ...outcome, result: outcome.result === '' ? null : outcome.result } : outcome;
      } finally {
        slot.release();
      }
    }
    // Its timeout is given with the job: the pool's own is whichever of its users set it last.
    const timeoutMs = this.#hostPools.get(job.app)?.timeoutMs ?? this.config.timeoutMs;
    return this.#pool(job).run({ target: job.target, args: job.args, stream: Boolean(onLine), lane: DISPATCH_LANE }, onLine, timeoutMs, signal);
  }

  /** The app's pool: its resident hosts' settings, else the global ones; one of an app that is not configured ("dispatchAnyApp") goes once idle. */
  #pool(job: DispatchJob) {
    const host = this.#hostPools.get(job.app);
    return this.pools.get(job.app, host?.pool ?? this.config.pool, host?.timeoutMs ?? this.config.timeoutMs, undefined, !this.#allowed.has(job.app));
  }
}
