/**
 * The daemon's cron: explicit `schedule` entries, and the minute tick that
 * dispatches `tasks::run` to every app of the hosts. Each job runs at most
 * once at a time; the first run is one interval after start.
 */
import type { Config } from '../config/config.ts';
import type { Dispatcher, DispatchJob } from './dispatch.ts';
import type { Logger } from '../ops/log.ts';
import type { HookOutcome } from './runners/runner.ts';

/** Distinct tick failures remembered per app, so each is logged once. */
const SEEN_ERRORS = 100;

// Phlo's CLI error handler writes the error JSON-encoded to stderr, so a one-shot tick sees the quotes escaped.
const NO_TASKS = /Class \\?"tasks\\?" not found/;

export class Scheduler {
  readonly #timers: Array<ReturnType<typeof setInterval>> = [];
  /** For good: a stop that comes while start() awaits a real path must not be outlived by the timers set after it. */
  #stopped = false;

  /**
   * `running`: the targets (app and target) with a run still going. A reload's scheduler takes
   * its predecessor's: a run the old config started goes on, and the new
   * config's next run of that entry must skip it as the old one would have.
   */
  constructor(
    private readonly config: Config,
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
    readonly running = new Set<string>(),
  ) {}

  async start(realPath: (path: string) => Promise<string>): Promise<void> {
    const real = (app: string) => realPath(app).catch(() => app);
    for (const [i, entry] of this.config.schedule.entries()) {
      const job: DispatchJob = { app: await real(entry.app), target: entry.target, args: [], build: entry.build };
      this.#every(entry.everyMs, job, `schedule[${i}]`, (outcome) => {
        this.log.error('schedule failed', { entry: `schedule[${i}]`, app: job.app, target: job.target, error: outcome.error, stderr: outcome.stderr });
      });
    }
    if (!this.config.tick) return;
    const apps = new Map<string, boolean>();
    for (const host of this.config.hosts) {
      if (!host.app || host.tick === false) continue;
      const app = await real(host.app);
      if (!apps.has(app)) apps.set(app, host.mode === 'oneshot');
    }
    for (const [app, build] of apps) {
      const job: DispatchJob = { app, target: 'tasks::run', args: [], build };
      const seen = new Set<string>();
      let first = true;
      const timer = this.#every(this.config.tick.everyMs, job, 'tick', (outcome) => {
        const message = `${outcome.error} ${outcome.stderr ?? ''}`;
        if (first && NO_TASKS.test(message)) {
          // An app without a tasks class has nothing to tick; the old daemon drops it the same way.
          this.log.debug('tick dropped', { app, reason: 'no tasks class' });
          clearInterval(timer);
          return;
        }
        // A one-shot failure's error is only its exit code ("exited with code 1" for any of a Phlo CLI's errors): what went wrong is on stderr.
        const distinct = `${outcome.error}\n${outcome.stderr ?? ''}`;
        if (!seen.has(distinct)) {
          seen.add(distinct);
          // stderr may differ on every run (a time, a pid): the oldest is forgotten rather than the set growing each minute for good.
          if (seen.size > SEEN_ERRORS) seen.delete(seen.values().next().value!);
          this.log.error('tick failed', { app, target: job.target, error: outcome.error, stderr: outcome.stderr, note: 'logged once per distinct error' });
        }
      }, () => (first = false));
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
  }

  #every(ms: number, job: DispatchJob, name: string, onFailure: (outcome: HookOutcome & { ok: false }) => void, onRan?: () => void) {
    // By what runs, not by the entry's place or runner: a reload that moves an entry, or flips a host to one-shot, must
    // still see its run from before; one target of one app never runs twice at once, whichever entry or tick starts it.
    const key = JSON.stringify([job.app, job.target]);
    if (this.#stopped) return undefined;
    const timer = setInterval(async () => {
      if (this.running.has(key)) {
        this.log.warn('schedule skipped', { entry: name, app: job.app, target: job.target, reason: 'the previous run is still going' });
        return;
      }
      this.running.add(key);
      try {
        const outcome = await this.dispatcher.run(job);
        if (!outcome.ok) onFailure(outcome);
        else this.log.debug('scheduled run', { entry: name, app: job.app, target: job.target });
      } finally {
        this.running.delete(key);
        onRan?.();
      }
    }, ms);
    this.#timers.push(timer);
    return timer;
  }
}
