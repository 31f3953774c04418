/**
 * The one interface every hook runner implements. A runner knows nothing of
 * sockets: it gets a job and a line callback, and says how the job ended.
 */
export type HookName = 'auth' | 'connect' | 'receive' | 'close';

export interface HookJob {
  host: string;
  hook: HookName;
  token: string;
  socket: string;
  /** The client's message text, for `receive` only. */
  message?: string;
}

/** How a hook ended; `stderr` is what it wrote there (trimmed, capped), if anything. */
export type HookOutcome =
  | { ok: true; result: unknown; stderr?: string }
  | { ok: false; error: string; stderr?: string };

export interface Runner {
  /** What `/health` and logs call this runner. */
  readonly kind: 'oneshot' | 'module' | 'resident';
  /**
   * Runs one hook. `onLine` receives each non-empty line the hook prints,
   * as soon as it is printed; without it the output is only the result.
   * Never rejects: every failure is an outcome.
   */
  run(job: HookJob, onLine?: (line: string) => void): Promise<HookOutcome>;
  /** Lets go of processes or resources; called on shutdown. */
  stop?(): Promise<void>;
}

/** `false` and `"false"` (as text or as a value) mean refusal for auth and connect. */
export function refuses(result: unknown): boolean {
  if (result === false) return true;
  if (typeof result !== 'string') return false;
  const text = result.trim();
  return text === 'false' || text === '"false"';
}
