/**
 * One hook run for a connection: the job, the lines it streams back while
 * the connection is open, and the outcome as the core acts on it. Every
 * failure becomes an outcome (and an event), never a throw, so a lane never
 * breaks.
 */
import type { Client } from './client.ts';
import type { CoreEvents } from './events.ts';
import type { Hub } from './hub.ts';
import type { Route } from './route.ts';
import { cancelledOutcome, grantOf, thrownText } from '../hooks/runners/runner.ts';
import type { Grant, HookJob, HookName, HookOutcome } from '../hooks/runners/runner.ts';
import type { GoneSignal } from '../runtime/types.ts';

/** What a hook run answers when it never ran because every slot and queue place was taken. */
export const BUSY = Symbol('busy');

/** Who a hook runs for: a connection, or an upgrade still in auth. */
export interface HookSubject {
  host: string;
  id: string;
  token: string;
  params?: Record<string, string>;
}

/** The hook's outcome, or "cancelled" as soon as the signal aborts (the runner stops the hook itself). */
function untilAborted(running: Promise<HookOutcome>, signal: GoneSignal): Promise<HookOutcome> {
  if (signal.aborted) return Promise.resolve(cancelledOutcome());
  return new Promise((resolve) => {
    const abort = () => resolve(cancelledOutcome());
    signal.addEventListener('abort', abort, { once: true });
    // A runner that broke its promise never to reject would otherwise leave the upgrade waiting until its client leaves.
    const settled = (outcome: HookOutcome) => {
      signal.removeEventListener('abort', abort);
      resolve(outcome);
    };
    void running.then(settled, (error: unknown) => settled({ ok: false, error: thrownText(error) }));
  });
}

export class HookCalls {
  readonly #hub: Hub;
  readonly #events: CoreEvents;

  constructor(hub: Hub, events: CoreEvents) {
    this.#hub = hub;
    this.#events = events;
  }

  /**
   * Runs one hook; resolves to its result, to undefined when it failed or was
   * cancelled, or to BUSY when it could not start or the gateway's stop ended
   * it (an upgrade is then told to come back, not that its token is bad).
   * Lines go to `streamTo` while it is open.
   */
  async run(who: HookSubject, route: Route, hook: HookName, message?: string, streamTo?: Client, signal?: GoneSignal): Promise<unknown> {
    const outcome = await this.outcome(who, route, hook, message, streamTo, signal);
    if (!outcome.ok && (outcome.busy || outcome.stopped)) return BUSY;
    return outcome.ok ? outcome.result : undefined;
  }

  /** Runs one hook, as run() does, and gives its whole outcome (why it failed, not only that it did). */
  async outcome(who: HookSubject, route: Route, hook: HookName, message?: string, streamTo?: Client, signal?: GoneSignal): Promise<HookOutcome> {
    const job: HookJob = { host: who.host, hook, token: who.token, socket: who.id, message, params: who.params };
    const onLine = streamTo
      ? (line: string) => {
          if (streamTo.open) this.#hub.send(streamTo, line);
        }
      : undefined;
    const started = performance.now();
    let outcome: HookOutcome;
    try {
      // Whatever the runner does with the signal, the caller is answered the moment it aborts.
      outcome = await (signal ? untilAborted(route.runner.run(job, onLine, signal), signal) : route.runner.run(job, onLine));
    } catch (error) {
      outcome = { ok: false, error: thrownText(error) };
    }
    const seconds = (performance.now() - started) / 1000;
    const ended = outcome.ok ? 'ok' : outcome.cancelled ? 'cancelled' : outcome.busy ? 'busy' : 'failed';
    this.#events.hook({ host: who.host, socket: who.id, hook, label: route.config.key, mode: route.config.mode, seconds, outcome: ended, error: outcome.ok ? undefined : outcome.error, stderr: outcome.stderr });
    return outcome;
  }

  /** The grant in an auth or connect result; a malformed one is reported and grants nothing. */
  grant(who: HookSubject, hook: HookName, result: unknown): Grant | undefined {
    let read: ReturnType<typeof grantOf>;
    try {
      read = grantOf(result);
    } catch (error) {
      // A module's result is a live value: a getter or a Proxy trap may throw while it is read, out of admission or the lane.
      read = { problem: `a hook result that cannot be read: ${thrownText(error).split('\n')[0]}` };
    }
    const { grant, problem } = read;
    if (problem) this.#events.notice({ kind: 'grantIgnored', host: who.host, socket: who.id, hook, problem });
    return grant;
  }
}
