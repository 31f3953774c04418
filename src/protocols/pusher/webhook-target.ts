import { Buffer } from 'node:buffer';
import { signWebhook } from './signatures.ts';
import type { PusherApp, PusherWebhook } from '../../config/types.ts';
import type { HookOutcome } from '../../hooks/runners/runner.ts';
import { VERSION } from '../../version.ts';

/** One POST's worth of events for one webhook. */
export interface Batch {
  /** The app as configured now: a reload's new secret signs the next attempt. */
  readonly app: PusherApp;
  /** `{"time_ms":...,"events":[...]}`, the same bytes on every attempt. */
  readonly body: string;
  readonly events: number;
}

export type Delivery =
  | { ok: true }
  /** `retry`: the failure may pass (network, timeout, 5xx, 429); `retryAfterMs`: what the endpoint asked for. */
  | { ok: false; retry: boolean; reason: string; retryAfterMs?: number };

/**
 * Where a batch goes. The queue owns batching, retries, bounds and
 * counting; a target only tries once and says how it went: an HTTP
 * endpoint (HttpTarget) or a host's `webhook` hook (WorkerTarget).
 */
export interface WebhookTarget {
  /** What logs may name: for HTTP the URL's host, never its path, query or credentials. */
  readonly label: string;
  /** Never throws. `signal` aborts on the attempt's timeout or at stop's deadline. */
  deliver(batch: Batch, signal: AbortSignal): Promise<Delivery>;
}

/** What tells one webhook from another across a reload: its URL, or the host it runs on. */
export function webhookWhere(webhook: PusherWebhook): string {
  return webhook.url ?? `host:${webhook.host}`;
}

export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid-url';
  }
}

/** Seconds only: the HTTP-date form is rare on webhook endpoints and needs a clock to compare with. */
function retryAfter(header: string | null): number | undefined {
  if (header === null || !/^\d{1,6}$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}

function failureReason(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return (signal.reason as { name?: unknown } | undefined)?.name === 'TimeoutError' ? 'timeout' : 'aborted';
  // undici's "fetch failed" carries the socket's code in `cause`; the message may hold the URL, so only the code is kept.
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? code : 'network';
}

/**
 * fetch refuses a URL with credentials in it, so `https://user:pass@host/`
 * becomes the URL without them and a Basic Authorization header.
 */
function splitCredentials(url: string): { url: string; authorization?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url };
  }
  if (parsed.username === '' && parsed.password === '') return { url };
  const pair = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, authorization: `Basic ${Buffer.from(pair, 'utf8').toString('base64')}` };
}

export class HttpTarget implements WebhookTarget {
  readonly label: string;
  readonly #url: string;
  readonly #authorization: Record<string, string>;

  constructor(url: string) {
    const split = splitCredentials(url);
    this.#url = split.url;
    this.#authorization = split.authorization === undefined ? {} : { Authorization: split.authorization };
    this.label = hostOf(url);
  }

  async deliver(batch: Batch, signal: AbortSignal): Promise<Delivery> {
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': `wsgate/${VERSION}`,
          'X-Pusher-Key': batch.app.key,
          'X-Pusher-Signature': signWebhook(batch.app, batch.body),
          ...this.#authorization,
        },
        body: batch.body,
        signal,
        // A redirect would re-send (or, for 301/302, drop) the signed body somewhere not configured.
        redirect: 'manual',
      });
    } catch (error) {
      return { ok: false, retry: true, reason: failureReason(error, signal) };
    }
    // Read to the end so the connection can be reused; the status alone decides the outcome.
    await response.arrayBuffer().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true };
    const reason = `status-${status}`;
    if (status === 429 || status >= 500) return { ok: false, retry: true, reason, retryAfterMs: retryAfter(response.headers.get('retry-after')) };
    return { ok: false, retry: false, reason };
  }
}

/** Runs a batch on a host's `webhook` hook; undefined when the host is not configured (Gateway.runWebhook). */
export type WebhookWorker = (host: string, app: string, body: string, signal: AbortSignal) => Promise<HookOutcome> | undefined;

/**
 * A host's `webhook` hook: its resident workers (the SDK's wsWebhook()) or
 * its module's `webhook` export take the batch as it would be POSTed, with
 * no HTTP round trip and nothing to sign (it never leaves the gateway).
 * Whatever stops a batch may pass (a worker busy, crashed or slow, a hook
 * that threw) and is retried; a host that is gone is not.
 */
export class WorkerTarget implements WebhookTarget {
  readonly label: string;
  readonly #host: string;
  readonly #run: WebhookWorker;

  constructor(host: string, run: WebhookWorker) {
    this.#host = host;
    this.#run = run;
    this.label = `hook:${host}`;
  }

  async deliver(batch: Batch, signal: AbortSignal): Promise<Delivery> {
    let outcome: HookOutcome | undefined;
    try {
      outcome = await this.#run(this.#host, batch.app.id, batch.body, signal);
    } catch {
      outcome = { ok: false, error: 'the hook call threw' };
    }
    if (outcome === undefined) return { ok: false, retry: false, reason: 'host-not-configured' };
    if (outcome.ok) return { ok: true };
    if (signal.aborted) return { ok: false, retry: true, reason: failureReason(undefined, signal) };
    return { ok: false, retry: true, reason: outcome.busy ? 'busy' : outcome.cancelled ? 'cancelled' : 'hook-failed' };
  }
}
