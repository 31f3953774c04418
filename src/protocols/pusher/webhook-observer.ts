/**
 * The core's events as Pusher webhook events of the apps on their host: a
 * channel occupied or vacated, a member added or removed, a client event, a
 * cache miss. A channel is the host's, whatever protocol its sockets speak,
 * so a plain socket that fills a channel occupies it for the app too.
 */
import type { CoreObserver } from '../../core/events.ts';
import type { PusherApp } from '../../config/config.ts';
import { isInternal } from './channel-names.ts';
import { PUSHER } from './protocol.ts';
import type { WebhookEvent } from './webhook-events.ts';

export interface WebhookSink {
  emit(app: PusherApp, event: WebhookEvent): void;
}

/** The apps on a host: looked up per event, so a reload's apps count at once. */
export type AppsOn = (host: string) => readonly PusherApp[];

export function webhookObserver(appsOn: AppsOn, sink: WebhookSink): CoreObserver {
  const emit = (host: string, event: WebhookEvent) => {
    for (const app of appsOn(host)) if (app.webhooks.length > 0) sink.emit(app, event);
  };
  return {
    channel(host, channel, occupied) {
      // A user's own channel is its connection's, not one the app hears of (as Pusher); the gateway's own neither.
      if (!isInternal(channel)) emit(host, { name: occupied ? 'channel_occupied' : 'channel_vacated', channel });
    },
    member(host, channel, member, added) {
      if (!isInternal(channel)) emit(host, { name: added ? 'member_added' : 'member_removed', channel, user_id: member.user });
    },
    clientEvent(client, channel, event, data, user) {
      if (client.protocol !== PUSHER) return;
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      emit(client.host, { name: 'client_event', channel, event, data: text, socket_id: client.id, ...(user === undefined ? {} : { user_id: user }) });
    },
    cacheMiss(host, channel) {
      emit(host, { name: 'cache_miss', channel });
    },
  };
}
