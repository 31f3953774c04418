/** What /metrics says of the Pusher apps: connections per app on this node, and the webhooks' counters. */
import type { Gauge } from '../../ops/metrics.ts';
import type { PusherFront } from './front.ts';
import type { Webhooks } from './webhooks.ts';

export function pusherGauges(front: PusherFront, webhooks: Webhooks): Gauge[] {
  const stats = webhooks.stats();
  return [
    { name: 'wsgate_pusher_connections', help: 'Open Pusher connections per app on this node.', samples: front.apps.map((app) => ({ labels: { app: app.id }, value: front.count(app) })) },
    {
      name: 'wsgate_pusher_webhook_events_total',
      type: 'counter',
      help: 'Webhook events sent (answered 2xx), failed (given up or refused), dropped (over the queue bound) and cancelled (undone by the next event while both waited).',
      samples: [
        { labels: { result: 'sent' }, value: stats.sent },
        { labels: { result: 'failed' }, value: stats.failed },
        { labels: { result: 'dropped' }, value: stats.dropped },
        { labels: { result: 'cancelled' }, value: stats.cancelled },
      ],
    },
    { name: 'wsgate_pusher_webhook_retries_total', type: 'counter', help: 'Webhook batches sent again after a failure.', samples: [{ value: stats.retries }] },
    { name: 'wsgate_pusher_webhook_queued', help: 'Webhook events waiting to be sent.', samples: [{ value: stats.queued }] },
    { name: 'wsgate_pusher_webhook_in_flight', help: 'Webhook requests out now.', samples: [{ value: stats.inFlight }] },
  ];
}
