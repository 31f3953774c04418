/**
 * Hooks on the app's resident worker pool: the same job as one-shot, sent
 * as a protocol frame instead of an argv.
 */
import type { Pool } from '../pool/pool.ts';
import type { HookJob, HookOutcome, Runner } from './runner.ts';
import type { GoneSignal } from '../../runtime/types.ts';

export class ResidentRunner implements Runner {
  readonly kind = 'resident';

  /**
   * `app`: its pool's key. `pool` is asked per job: a reload that removes the
   * host may also remove its app's pool, while a socket of the host still
   * owes the app its close hook.
   */
  constructor(
    readonly app: string,
    private readonly pool: () => Pool,
    readonly timeoutMs: number,
  ) {}

  async run(job: HookJob, onLine?: (line: string) => void, signal?: GoneSignal): Promise<HookOutcome> {
    const args: string[] = [job.host, job.token, job.socket];
    if (job.message !== undefined) args.push(job.message);
    // Empty lines are dropped as in one-shot mode: the page script parses every frame as JSON.
    const lines = onLine && ((line: string) => line.trim() !== '' && onLine(line));
    // Hosts that share the app share its pool: each host is a lane of its queue and each of its sockets a turn within
    // it, so one host's flood, or one socket's backlog, does not hold up another's next hook. A webhook app's are a lane of their own.
    const lane = job.hook === 'webhook' ? `webhook:${job.token}` : `host:${job.host}`;
    const sublane = job.hook === 'webhook' ? undefined : `socket:${job.socket}`;
    // A close hook is never refused, as in one-shot mode: the app must hear that a socket it accepted has gone.
    const neverBusy = job.hook === 'close';
    return this.pool().run({ target: `websocket::${job.hook}`, args, stream: Boolean(onLine), params: job.params, lane, sublane }, lines || undefined, this.timeoutMs, signal, neverBusy);
  }
}
