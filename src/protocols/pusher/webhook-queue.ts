import type { PusherApp, PusherWebhook, PusherWebhookEvent } from '../../config/types.ts';
import { batchBody } from './webhook-events.ts';
import { backoff, type WebhookOptions } from './webhook-options.ts';
import { PendingEvents, type Toggle } from './webhook-pending.ts';
import { UnsureKeys } from './webhook-unsure.ts';
import { webhookWhere } from './webhook-target.ts';
import type { Delivery, WebhookTarget } from './webhook-target.ts';

/** What every queue adds to, for stats(). */
export interface WebhookCounters {
  /** Events an endpoint answered 2xx for (once, however many attempts it took). */
  sent: number;
  /** Events of batches given up on: refused (3xx, 4xx but 429) or out of attempts. */
  failed: number;
  /** Events discarded without a final answer: the app's queue bound, a reload that removed the webhook, stop()'s deadline. */
  dropped: number;
  /** Events not sent because the next one undid them while both waited (a member removed and added again), both counted. */
  cancelled: number;
  /** Attempts that were tried again. */
  retries: number;
}

/** An abort on the attempt's timeout or on the queue's own signal, whichever comes first. */
function attemptSignal(timeoutMs: number, closed: AbortSignal): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timeout = AbortSignal.timeout(timeoutMs);
  const onTimeout = () => controller.abort(timeout.reason);
  const onClose = () => controller.abort(closed.reason);
  timeout.addEventListener('abort', onTimeout, { once: true });
  closed.addEventListener('abort', onClose, { once: true });
  if (closed.aborted) onClose();
  const done = () => {
    timeout.removeEventListener('abort', onTimeout);
    closed.removeEventListener('abort', onClose);
  };
  return { signal: controller.signal, done };
}

/**
 * One webhook of one app: events wait here until a batch is due (the delay
 * passed, or the batch is full), then go out with at most `concurrency`
 * batches at once. A batch keeps its place while it waits to be retried,
 * so a slow or failing endpoint holds at most `concurrency` batches in
 * memory; the rest waits in the queue, which the app's bound trims.
 */
export class WebhookQueue {
  app: PusherApp;
  /** Where it goes (the URL, or `host:` and the host): a reload that keeps it keeps the queue. */
  readonly where: string;
  readonly target: WebhookTarget;
  #accepts: ReadonlySet<PusherWebhookEvent> | undefined;
  readonly #options: WebhookOptions;
  readonly #counters: WebhookCounters;
  readonly #pending = new PendingEvents();
  /** Events that wait for their time before they join `#pending` (a member removed: see `hold` in push()). */
  readonly #held = new PendingEvents();
  #cancelHold: (() => void) | undefined;
  /** Keys whose state the endpoint may not have: their events are never undone. */
  readonly #unsure: UnsureKeys;
  #inFlight = 0;
  #inFlightEvents = 0;
  #due = false;
  #cancelTimer: (() => void) | undefined;
  #closed = false;
  readonly #abort = new AbortController();
  readonly #waits = new Set<() => void>();
  #idle: Array<() => void> = [];

  constructor(app: PusherApp, webhook: PusherWebhook, options: WebhookOptions, counters: WebhookCounters) {
    this.app = app;
    this.where = webhookWhere(webhook);
    this.#accepts = webhook.events && new Set(webhook.events);
    this.#options = options;
    this.#counters = counters;
    this.#unsure = new UnsureKeys(options.maxQueuedEvents);
    this.target = options.target(app, webhook);
  }

  /** A reload that keeps where it goes: new credentials sign the next attempt, the new filter takes the next event. */
  update(app: PusherApp, webhook: PusherWebhook): void {
    this.app = app;
    this.#accepts = webhook.events && new Set(webhook.events);
  }

  accepts(name: PusherWebhookEvent): boolean {
    return !this.#closed && (this.#accepts === undefined || this.#accepts.has(name));
  }

  get pendingEvents(): number {
    return this.#pending.length + this.#held.length;
  }
  get pendingBytes(): number {
    return this.#pending.bytes + this.#held.bytes;
  }
  /** Events waiting (held ones too) or out, not yet answered. */
  get queued(): number {
    return this.pendingEvents + this.#inFlightEvents;
  }
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Queues an event; one that undoes an event still waiting (its `toggle`)
   * takes that one out instead, unless the endpoint may not know the state
   * from before them (webhook-unsure.ts). With `hold`, it waits `holdMs` before it
   * joins the batches, so that its opposite can still undo it: a member
   * removed waits that long for the user to come back (a page reload).
   */
  push(json: string, bytes: number, toggle?: Toggle, hold = false): void {
    if (toggle && this.#undoable(toggle) && (this.#held.undo(toggle) || this.#pending.undo(toggle))) {
      this.#counters.cancelled += 2;
      this.#settle();
      return;
    }
    const o = this.#options;
    // Behind a held event of its key it is held too, or it would overtake that one (one that was not undone: its key is unsure).
    if (toggle && this.#held.has(toggle.key)) hold = true;
    if (hold && o.holdMs > 0) {
      this.#held.append(json, bytes, toggle, o.elapsed() + o.holdMs);
      this.#armHold();
      return;
    }
    this.#enqueue(json, bytes, toggle);
  }

  /**
   * Whether the endpoint ends the same without the pair. Not when it may not know the state from before them, nor for a
   * member back in a channel whose vacated is still to be sent (its occupied was not undone, see webhook-unsure.ts): an
   * app that clears a channel's members when it is vacated would hear of the member's removal, not of its return.
   */
  #undoable(toggle: Toggle): boolean {
    if (this.#unsure.has(toggle.key)) return false;
    return !(toggle.on && toggle.channel !== undefined && (this.#held.hasOff(toggle.channel) || this.#pending.hasOff(toggle.channel)));
  }

  #enqueue(json: string, bytes: number, toggle: Toggle | undefined): void {
    this.#pending.append(json, bytes, toggle);
    const o = this.#options;
    if (this.#pending.length >= o.batchEvents || this.#pending.bytes >= o.batchBytes) this.#due = true;
    else if (!this.#due && this.#cancelTimer === undefined) {
      this.#cancelTimer = o.schedule(o.batchDelayMs, () => {
        this.#cancelTimer = undefined;
        this.#due = true;
        this.#pump();
      });
    }
    this.#pump();
  }

  /** Drops the oldest waiting event (the app is over its bound), a held one last; false if none waits here. */
  dropOldest(): boolean {
    const dropped = this.#pending.shift() ?? this.#held.shift();
    if (!dropped) return false;
    if (dropped.toggle) this.#unsure.lose(dropped.toggle.key);
    this.#counters.dropped++;
    this.#settle();
    return true;
  }

  /** Sends what waits now, held events too, without waiting for the batch delay. */
  flush(): void {
    this.#release(Infinity);
    this.#due = true;
    this.#pump();
  }

  /** One timer for the held events, set for the oldest: they are held for the same time, so they fall due in order. */
  #armHold(): void {
    const due = this.#held.firstDue;
    if (this.#cancelHold !== undefined || due === undefined) return;
    this.#cancelHold = this.#options.schedule(Math.max(0, due - this.#options.elapsed()), () => {
      this.#cancelHold = undefined;
      this.#release(this.#options.elapsed());
      this.#armHold();
    });
  }

  /** Moves the held events due by `now` into the batches. */
  #release(now: number): void {
    while (this.#held.length > 0 && this.#held.firstDue! <= now) {
      const event = this.#held.shift()!;
      // Each enqueue settles the queue: the hold timer goes once nothing is held.
      this.#enqueue(event.json, event.bytes, event.toggle);
    }
  }

  /** Resolves once nothing waits and nothing is out. */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Removed by a reload, or past stop()'s deadline: what waits is dropped,
   * requests out are aborted, retries are not made. Returns the events lost.
   */
  close(): number {
    if (this.#closed) return 0;
    this.#closed = true;
    const lost = this.queued;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#counters.dropped += this.#pending.clear() + this.#held.clear();
    this.#cancelHold?.();
    this.#cancelHold = undefined;
    this.#abort.abort(new Error('closed'));
    for (const stop of [...this.#waits]) stop();
    this.#settle();
    return lost;
  }

  #isIdle(): boolean {
    return this.#pending.length === 0 && this.#held.length === 0 && this.#inFlight === 0;
  }

  #settle(): void {
    if (this.#pending.length === 0) {
      this.#due = false;
      this.#cancelTimer?.();
      this.#cancelTimer = undefined;
    }
    if (this.#held.length === 0) {
      this.#cancelHold?.();
      this.#cancelHold = undefined;
    }
    if (!this.#isIdle()) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  #pump(): void {
    while (!this.#closed && this.#due && this.#pending.length > 0 && this.#inFlight < this.#options.concurrency) {
      // #send handles every failure itself; the catch is for a logger that throws.
      const { events, keys } = this.#pending.take(this.#options.batchEvents, this.#options.batchBytes);
      this.#send(events, keys).catch(() => undefined);
    }
    this.#settle();
  }

  async #send(events: string[], keys: string[]): Promise<void> {
    const count = events.length;
    let delivered = false;
    this.#unsure.sent(keys);
    this.#inFlight++;
    this.#inFlightEvents += count;
    // Set once: a retry carries the time the batch was made, so the receiver can tell it is late.
    const body = batchBody(this.#options.now(), events);
    try {
      for (let attempt = 1; ; attempt++) {
        const result = await this.#attempt(body, count);
        if (result.ok) {
          delivered = true;
          this.#counters.sent += count;
          this.#log('debug', { result: 'sent', events: count, attempts: attempt });
          return;
        }
        if (this.#closed) {
          this.#counters.dropped += count;
          return;
        }
        if (!result.retry || attempt >= this.#options.maxAttempts) {
          this.#counters.failed += count;
          this.#log('warn', { result: result.retry ? 'gave-up' : 'refused', reason: result.reason, events: count, attempts: attempt });
          return;
        }
        this.#counters.retries++;
        const delay = Math.round(backoff(this.#options, attempt, result.retryAfterMs));
        this.#log('debug', { result: 'retry', reason: result.reason, attempt, delay_ms: delay });
        if (!(await this.#wait(delay))) {
          this.#counters.dropped += count;
          return;
        }
      }
    } finally {
      this.#unsure.answered(keys, delivered);
      this.#inFlight--;
      this.#inFlightEvents -= count;
      this.#pump();
    }
  }

  async #attempt(body: string, events: number): Promise<Delivery> {
    const { signal, done } = attemptSignal(this.#options.timeoutMs, this.#abort.signal);
    try {
      return await this.target.deliver({ app: this.app, body, events }, signal);
    } catch {
      // A target must not throw; if one does, the failure is taken as passing.
      return { ok: false, retry: true, reason: 'target-error' };
    } finally {
      done();
    }
  }

  /** True when the delay passed, false when the queue closed first. */
  #wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const stop = () => {
        this.#waits.delete(stop);
        cancel();
        resolve(false);
      };
      const cancel = this.#options.schedule(ms, () => {
        this.#waits.delete(stop);
        resolve(true);
      });
      this.#waits.add(stop);
    });
  }

  #log(level: 'debug' | 'warn', fields: Record<string, string | number>): void {
    this.#options.logger[level]('webhook', { app: this.app.id, host: this.target.label, ...fields });
  }
}
