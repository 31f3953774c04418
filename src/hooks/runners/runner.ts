/**
 * The one interface every hook runner implements. A runner knows nothing of
 * sockets: it gets a job and a line callback, and says how the job ended.
 */
import * as v from 'valibot';
import { channelProblem } from '../../core/targets.ts';
import { TOO_DEEP, jsonText, jsonTooDeep } from '../../core/json.ts';
import type { GoneSignal } from '../../runtime/types.ts';

/**
 * `subscribe` runs only for a client's own subscribe frame, on hosts with
 * clientChannels; its `message` is the channel. `webhook` runs for a Pusher
 * app's webhook that names a host instead of a URL: no socket, `token` is
 * the app's id and `message` the batch as Pusher would POST it.
 */
export type HookName = 'auth' | 'connect' | 'receive' | 'close' | 'subscribe' | 'webhook';

export interface HookJob {
  host: string;
  hook: HookName;
  token: string;
  socket: string;
  /** The client's message text for `receive`, the channel for `subscribe`, the batch's JSON for `webhook`. */
  message?: string;
  /** The upgrade path's parameters (`/ws/rooms/{room}` -> {room}), when its route has any. */
  params?: Record<string, string>;
}

/**
 * How a hook ended; `stderr` is what it wrote there (trimmed, capped), if
 * anything. A failure is `cancelled` when the job's signal aborted (its
 * client went away), and `busy` when a cap's queue was full and nothing
 * started (an upgrade answers 503 then).
 */
export type HookOutcome =
  | { ok: true; result: unknown; stderr?: string }
  /** busy: it never started (try again later); stopped: the gateway's stop ended it while it ran, so nothing said no either. */
  | { ok: false; error: string; stderr?: string; cancelled?: true; busy?: true; stopped?: true };

/** The outcome of a job whose client went away before it ended. */
export const cancelledOutcome = (): HookOutcome & { ok: false } => ({ ok: false, error: 'cancelled: the client went away', cancelled: true });

/** A thrown value as log text: a hook may throw anything, even a value String() throws on (a null-prototype object). */
export function thrownText(error: unknown): string {
  try {
    return error instanceof Error ? String(error.stack ?? error.message) : String(error);
  } catch {
    return `a thrown ${typeof error} with no text form`;
  }
}

export interface Runner {
  /** What `/health` and logs call this runner. */
  readonly kind: 'oneshot' | 'module' | 'resident';
  /**
   * Runs one hook. `onLine` receives each non-empty line the hook prints,
   * as soon as it is printed; without it the output is only the result.
   * When `signal` aborts (the client went away), the outcome is cancelledOutcome() and
   * no more lines come: a one-shot process is killed with its process group,
   * a job still queued leaves its queue, and a resident or module hook already
   * running is left to finish (its result is ignored). Already aborted: nothing
   * starts. Never rejects: every failure is an outcome.
   */
  run(job: HookJob, onLine?: (line: string) => void, signal?: GoneSignal): Promise<HookOutcome>;
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

/** What an auth or connect hook may grant besides acceptance: channels to join, and what presence shows of it. */
export interface Grant {
  channels: string[];
  info?: unknown;
}

const GrantShape = v.object({ channels: v.optional(v.array(v.string())), info: v.optional(v.unknown()) });

/** `info` as it goes out, or why it cannot go out as JSON. */
function infoCopy(info: unknown): { copy: unknown } | { problem: string } {
  const text = jsonText(info);
  if (text === undefined) return { problem: 'cannot be written as JSON (a cycle, or nested too deep)' };
  return jsonTooDeep(text) ? { problem: `is ${TOO_DEEP}` } : { copy: JSON.parse(text) };
}

/**
 * The grant in an auth or connect result: a JSON object (a value from
 * resident and module hooks, printed JSON from one-shot ones) such as
 * {"channels": ["room:1"], "info": {"name": "Ann"}}. Anything else grants
 * nothing and keeps its old meaning; a malformed grant is a problem to log.
 */
export function grantOf(result: unknown): { grant?: Grant; problem?: string } {
  let value = result;
  if (typeof value === 'string') {
    const text = value.trim();
    if (!text.startsWith('{')) return {};
    if (jsonTooDeep(text)) return { problem: `a hook result of ${TOO_DEEP}` };
    try {
      value = JSON.parse(text);
    } catch {
      return {};
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const parsed = v.safeParse(GrantShape, value);
  if (!parsed.success) return { problem: `a hook result's "channels" must be a list of strings: ${v.summarize(parsed.issues).slice(0, 200)}` };
  const channels = parsed.output.channels ?? [];
  for (const channel of channels) {
    const problem = channelProblem(channel);
    if (problem) return { problem: `${problem} (got ${JSON.stringify(channel.slice(0, 80))})` };
  }
  const info = parsed.output.info;
  if (info === undefined) return { grant: { channels, info } };
  // Info goes out in presence lists and frames: what cannot be written as JSON (a cycle from a module, a value nested too deep) is
  // refused now, not there. A module's object is the app's, which may change it later (a cycle, a BigInt): a copy is kept.
  const checked = infoCopy(info);
  if ('problem' in checked) return { problem: `a hook result's "info" ${checked.problem}` };
  return { grant: { channels, info: checked.copy } };
}
