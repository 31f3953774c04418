import type { PusherApp, PusherWebhook } from '../../config/types.ts';
import type { Logger } from '../../ops/log.ts';
import { HttpTarget, WorkerTarget, type WebhookTarget, type WebhookWorker } from './webhook-target.ts';

export type { WebhookWorker };

/** Runs `fn` after `ms`; the function returned cancels it. */
export type Schedule = (ms: number, fn: () => void) => () => void;

export interface WebhookOptions {
  logger: Logger;
  /**
   * How long the first event of a batch waits for others. 50 ms joins what
   * one burst produces (a page subscribing to its channels, a presence
   * channel's occupied + member_added, a deploy's mass disconnect) into one
   * POST, and is small beside the request's own round trip.
   */
  batchDelayMs: number;
  /**
   * How long a `member_removed` waits before it joins a batch: a user back
   * within it (a page reload, a short drop) undoes it, and neither event is
   * sent. Pusher does the same, for 3 s.
   */
  holdMs: number;
  /** Events in one POST; a full batch goes at once. */
  batchEvents: number;
  /** Bytes of events in one POST (one larger event still goes, alone). */
  batchBytes: number;
  /** Each attempt's limit, connect to last byte of the answer. */
  timeoutMs: number;
  /** Attempts per batch, the first included; then the batch is dropped. */
  maxAttempts: number;
  /** The first retry's delay, doubled for each next one, with jitter. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Batches out at once per webhook (a retry's wait holds its place). */
  concurrency: number;
  /** Events and bytes waiting per app, over all its webhooks; beyond either, the oldest go. */
  maxQueuedEvents: number;
  maxQueuedBytes: number;
  /** stop()'s default deadline for what is queued. */
  stopDeadlineMs: number;
  schedule: Schedule;
  /** Wall-clock time, for `time_ms`. */
  now(): number;
  /** A clock that never steps back (performance.now): when held events fall due, whatever NTP does to the wall clock. */
  elapsed(): number;
  /** In [0, 1): the jitter. */
  random(): number;
  /** How a webhook that names a host reaches that host's hooks. */
  worker: WebhookWorker;
  /** Where a webhook's batches go; by default a URL's HTTP endpoint, or a host's `webhook` hook through `worker`. */
  target(app: PusherApp, webhook: PusherWebhook): WebhookTarget;
}

/** A timer that does not keep the process alive: a queued webhook is not a reason to stay up (stop() flushes). */
export const realSchedule: Schedule = (ms, fn) => {
  const timer = setTimeout(fn, ms);
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer);
};

export function webhookOptions(given: Partial<WebhookOptions> & { logger: Logger }): WebhookOptions {
  // An option passed as undefined means its default, not undefined.
  const set = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as Partial<WebhookOptions> & { logger: Logger };
  const options: WebhookOptions = {
    batchDelayMs: 50,
    holdMs: 3000,
    batchEvents: 100,
    batchBytes: 256 * 1024,
    timeoutMs: 5000,
    maxAttempts: 5,
    backoffMs: 1000,
    maxBackoffMs: 30_000,
    concurrency: 2,
    maxQueuedEvents: 10_000,
    maxQueuedBytes: 8 * 1024 * 1024,
    stopDeadlineMs: 5000,
    schedule: realSchedule,
    now: Date.now,
    elapsed: () => performance.now(),
    random: Math.random,
    worker: () => undefined,
    target: (_app, webhook) => (webhook.url !== undefined ? new HttpTarget(webhook.url) : new WorkerTarget(webhook.host, (...args) => options.worker(...args))),
    ...set,
  };
  // None of these can be 0: the queue would never send, or never try.
  for (const key of ['batchEvents', 'maxAttempts', 'concurrency'] as const) options[key] = Math.max(1, Math.floor(options[key]));
  return options;
}

/** Exponential, capped, with "equal jitter" (half fixed, half random) so endpoints that fail together are not retried in step. */
export function backoff(options: WebhookOptions, attempt: number, retryAfterMs?: number): number {
  const base = Math.min(options.maxBackoffMs, options.backoffMs * 2 ** (attempt - 1));
  const delay = base / 2 + (options.random() * base) / 2;
  return retryAfterMs === undefined ? delay : Math.min(options.maxBackoffMs, Math.max(delay, retryAfterMs));
}
