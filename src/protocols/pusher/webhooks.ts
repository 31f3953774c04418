import type { PusherApp } from '../../config/types.ts';
import { utf8Length } from '../../core/utf8.ts';
import type { Logger } from '../../ops/log.ts';
import { eventJson, toggleOf, type WebhookEvent } from './webhook-events.ts';
import { webhookOptions, type WebhookOptions } from './webhook-options.ts';
import { WebhookQueue, type WebhookCounters } from './webhook-queue.ts';
import { webhookWhere } from './webhook-target.ts';

export type { WebhookEvent, WebhookEventName } from './webhook-events.ts';
export type { WebhookOptions, Schedule, WebhookWorker } from './webhook-options.ts';
export type { Batch, Delivery, WebhookTarget } from './webhook-target.ts';

export interface WebhookStats extends WebhookCounters {
  /** Events waiting or out, not yet answered (a gauge). */
  queued: number;
  /** Batches out now, a retry's wait included (a gauge). */
  inFlight: number;
}

interface AppQueues {
  app: PusherApp;
  queues: WebhookQueue[];
  /** Events dropped by the bound since the burst began; 0 when none is under way. */
  burst: number;
}

/**
 * The webhooks of every Pusher app: `emit` from a socket's path, the
 * batching, delivery and bounds behind it (webhook-queue.ts), one queue
 * per app and webhook.
 */
export class Webhooks {
  readonly #options: WebhookOptions;
  readonly #log: Logger;
  readonly #counters: WebhookCounters = { sent: 0, failed: 0, dropped: 0, cancelled: 0, retries: 0 };
  #apps = new Map<string, AppQueues>();
  #stopping = false;

  constructor(apps: readonly PusherApp[], options: Partial<WebhookOptions> & { logger: Logger }) {
    this.#options = webhookOptions(options);
    this.#log = this.#options.logger;
    this.configure(apps);
  }

  /**
   * Takes a reload's apps. A webhook whose app and URL (or host) stay keeps its queue
   * (and what waits in it); one that is gone, or whose app is, has its
   * queue dropped and its requests aborted.
   */
  configure(apps: readonly PusherApp[]): void {
    const next = new Map<string, AppQueues>();
    const kept = new Set<WebhookQueue>();
    for (const app of apps) {
      if (app.webhooks.length === 0 || next.has(app.id)) continue;
      const before = this.#apps.get(app.id);
      const queues = app.webhooks.map((webhook) => {
        const where = webhookWhere(webhook);
        const same = before?.queues.find((queue) => queue.where === where && !kept.has(queue));
        if (!same) return new WebhookQueue(app, webhook, this.#options, this.#counters);
        same.update(app, webhook);
        kept.add(same);
        return same;
      });
      next.set(app.id, { app, queues, burst: before?.burst ?? 0 });
    }
    for (const { app, queues } of this.#apps.values()) {
      for (const queue of queues) {
        if (kept.has(queue)) continue;
        const lost = queue.close();
        if (lost > 0) this.#log.info('webhook', { app: app.id, host: queue.target.label, result: 'removed', dropped: lost });
      }
    }
    this.#apps = next;
  }

  /**
   * Queues the event for each of the app's webhooks that takes it. Never
   * throws and never waits: the caller is a socket's path.
   */
  emit(app: PusherApp, event: WebhookEvent): void {
    try {
      const entry = this.#apps.get(app.id);
      if (!entry || this.#stopping) return;
      let json: string | undefined;
      let bytes = 0;
      const toggle = toggleOf(event);
      // A member removed waits for the user to come back (holdMs), and so does a presence channel vacated, so that an
      // app that clears a channel's members when it is vacated does not lose a member who came back; the rest waits
      // only for its batch.
      const hold = event.name === 'member_removed' || (event.name === 'channel_vacated' && event.channel.startsWith('presence-'));
      for (const queue of entry.queues) {
        if (!queue.accepts(event.name)) continue;
        if (json === undefined) {
          json = eventJson(event);
          bytes = utf8Length(json);
        }
        queue.push(json, bytes, toggle, hold);
      }
      if (json !== undefined) this.#bound(entry);
    } catch (error) {
      try {
        this.#log.error('webhook', { app: app.id, result: 'emit-error', error: error instanceof Error ? error.name : 'unknown' });
      } catch {
        // A logger that throws must not reach the socket either.
      }
    }
  }

  /** Sends what waits now, without waiting for the batch delay. */
  flush(): void {
    for (const { queues } of this.#apps.values()) for (const queue of queues) queue.flush();
  }

  stats(): WebhookStats {
    let queued = 0;
    let inFlight = 0;
    for (const { queues } of this.#apps.values()) {
      for (const queue of queues) {
        queued += queue.queued;
        inFlight += queue.inFlight;
      }
    }
    return { ...this.#counters, queued, inFlight };
  }

  /**
   * Takes no more events and sends what waits, retries included, until all
   * is answered or the deadline passes; then what is left is dropped (one
   * warn line) and requests still out are aborted. A deadline of 0 drops
   * it all at once. `withinMs`: what the gateway's stop has left of its
   * shutdownTimeout, which a shorter one does not outlast.
   */
  async stop(deadlineMs = this.#options.stopDeadlineMs, withinMs = Infinity): Promise<void> {
    deadlineMs = Math.max(0, Math.floor(Math.min(deadlineMs, withinMs)));
    this.#stopping = true;
    const queues = [...this.#apps.values()].flatMap((entry) => entry.queues);
    let outcome: 'idle' | 'deadline' = 'deadline';
    if (deadlineMs > 0) {
      for (const queue of queues) queue.flush();
      let cancel: (() => void) | undefined;
      const deadline = new Promise<'deadline'>((resolve) => (cancel = this.#options.schedule(deadlineMs, () => resolve('deadline'))));
      outcome = await Promise.race([Promise.all(queues.map((queue) => queue.whenIdle())).then(() => 'idle' as const), deadline]);
      cancel?.();
    }
    if (outcome === 'deadline') {
      const lost = queues.reduce((sum, queue) => sum + queue.close(), 0);
      if (lost > 0) this.#log.warn('webhook', { result: 'stop-deadline', dropped: lost, deadline_ms: deadlineMs });
    }
    this.#apps = new Map();
  }

  /**
   * Keeps the app's waiting events within its bound by dropping the oldest
   * of its longest queue: the webhook that is behind loses its backlog,
   * not the ones that keep up. One warn line when a burst of drops begins,
   * one info line with its count once the queue is down to half its bound.
   */
  #bound(entry: AppQueues): void {
    const { maxQueuedEvents, maxQueuedBytes } = this.#options;
    let events = 0;
    let bytes = 0;
    for (const queue of entry.queues) {
      events += queue.pendingEvents;
      bytes += queue.pendingBytes;
    }
    let dropped = 0;
    while (events > maxQueuedEvents || bytes > maxQueuedBytes) {
      let longest: WebhookQueue | undefined;
      for (const queue of entry.queues) if (!longest || queue.pendingEvents > longest.pendingEvents) longest = queue;
      if (!longest || longest.pendingEvents === 0) break;
      const before = longest.pendingBytes;
      longest.dropOldest();
      events--;
      bytes -= before - longest.pendingBytes;
      dropped++;
    }
    if (dropped > 0) {
      if (entry.burst === 0) this.#log.warn('webhook', { app: entry.app.id, result: 'queue-full', max_events: maxQueuedEvents, max_bytes: maxQueuedBytes });
      entry.burst += dropped;
    } else if (entry.burst > 0 && events <= maxQueuedEvents / 2 && bytes <= maxQueuedBytes / 2) {
      // Half the bound, not just under it: an endpoint that stays behind keeps the queue near full, and is one burst, not one per batch it takes.
      this.#log.info('webhook', { app: entry.app.id, result: 'queue-full-ended', dropped: entry.burst });
      entry.burst = 0;
    }
  }
}
