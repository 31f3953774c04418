/**
 * Every app's pool, created on first use and keyed by the app path, under
 * one global worker cap. A pool of an app that is not configured (a
 * /dispatch with "dispatchAnyApp", or an app a reload removed) goes once
 * idle: any caller may name any number of app paths, reloads may name new
 * apps for ever, and the map must not keep one pool per name for good.
 */
import type { PoolConfig } from '../../config/config.ts';
import type { Logger } from '../../ops/log.ts';
import { Capacity } from './capacity.ts';
import { Pool } from './pool.ts';
import type { PoolStats } from './pool.ts';
import type { Spawn } from './worker.ts';

export interface PoolsHealth {
  workers: number;
  cap: number;
  pools: Record<string, PoolStats>;
}

export class Pools {
  readonly capacity: Capacity;
  /** Bytes a line a job prints may have (limits.hookLine), for workers started from now on. */
  maxLine: number | undefined;
  readonly #byApp = new Map<string, Pool>();
  /** Apps whose pool goes once it is idle (no worker, nothing waiting). */
  readonly #transient = new Set<string>();

  constructor(
    cap: number,
    private php: string,
    private readonly spawn: Spawn,
    private readonly log: Logger,
    beforeBusy?: () => void,
  ) {
    this.capacity = new Capacity(cap, beforeBusy, () => this.#dropIdle());
  }

  readonly #leading = new Map<string, string[]>();

  /**
   * The pool of `app`: workers run `<php> <app> phlo_serve`, or with `leading`,
   * `<php> <leading...> phlo_serve` (the SDK runner and a hooks file).
   * `settings` apply from now on. `transient`: `app` is not configured, and
   * its pool goes once idle (unless a configured use gets it meanwhile).
   * A host's `leading` that differs from its pool's (a reload turned the
   * file from an app into a hooks file, or back) replaces its workers: they
   * run the file the old way. /dispatch gives none and takes the pool as it is.
   */
  get(app: string, settings: PoolConfig, timeoutMs: number, leading?: string[], transient = false): Pool {
    let pool = this.#byApp.get(app);
    if (!transient) this.#transient.delete(app);
    if (!pool) {
      const argv = leading ?? [app];
      pool = new Pool(app, [this.php, ...argv, 'phlo_serve'], { ...settings, timeoutMs, maxLine: this.maxLine }, this.capacity, this.spawn, this.log);
      this.#byApp.set(app, pool);
      this.#leading.set(app, argv);
      if (transient) this.#transient.add(app);
    } else {
      pool.settings = { ...settings, timeoutMs, maxLine: this.maxLine };
      if (leading && leading.join('\0') !== this.#leading.get(app)!.join('\0')) {
        this.#leading.set(app, leading);
        pool.argv = [this.php, ...leading, 'phlo_serve'];
        pool.replaceAll();
      }
      // The reaper's pace follows the idle settings.
      this.capacity.settingsChanged();
    }
    return pool;
  }

  /**
   * A resident host's pool for its next job: the one its app has, else (a
   * reload removed the app and its idle pool, and a socket of the host still
   * has a hook to run) one that goes again as soon as it idles.
   */
  forHost(app: string, settings: PoolConfig, timeoutMs: number, leading: string[]): Pool {
    return this.#byApp.get(app) ?? this.get(app, { ...settings, idleMs: 0 }, timeoutMs, leading, true);
  }

  health(): PoolsHealth {
    const pools: Record<string, PoolStats> = {};
    let workers = 0;
    for (const [app, pool] of this.#byApp) {
      const stats = pool.stats();
      pools[app] = stats;
      workers += stats.workers;
    }
    return { workers, cap: this.capacity.cap, pools };
  }

  /** Reload: a new php binary and cap apply to new workers; every worker is replaced after its current job. */
  replaceAll(php: string, cap: number): void {
    this.php = php;
    this.capacity.cap = cap;
    for (const [app, pool] of this.#byApp) pool.argv = [php, ...this.#leading.get(app)!, 'phlo_serve'];
    for (const pool of this.#byApp.values()) pool.replaceAll();
  }

  /**
   * Reload: the pool of an app that nothing names any more (`named`: the
   * resident hosts' keys and the apps /dispatch and the schedule may run, by
   * real path) goes once its jobs are done, as one that is not configured;
   * its workers go as soon as they idle rather than after `idle`.
   */
  keepOnly(named: Set<string>): void {
    for (const [app, pool] of this.#byApp) {
      if (named.has(app) || this.#transient.has(app)) continue;
      this.#transient.add(app);
      pool.settings = { ...pool.settings, idleMs: 0 };
      this.log.debug('pool retiring', { app, reason: 'its app is no longer configured' });
    }
    this.capacity.settingsChanged();
  }

  stop(): Promise<void> {
    return this.capacity.stop();
  }

  /** The reaper's tick: pools of apps that are not configured go once their workers are gone and nothing waits. */
  #dropIdle(): void {
    for (const app of this.#transient) {
      const pool = this.#byApp.get(app)!;
      if (!pool.idle) continue;
      this.#transient.delete(app);
      this.#byApp.delete(app);
      this.#leading.delete(app);
      this.capacity.remove(pool);
      void pool.stop();
      this.log.debug('pool removed', { app, reason: 'idle, and its app is not configured' });
      // The reaper's pace no longer follows its settings.
      this.capacity.settingsChanged();
    }
  }
}
