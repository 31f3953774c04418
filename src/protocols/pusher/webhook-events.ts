import type { PusherWebhookEvent } from '../../config/types.ts';
import type { Toggle } from './webhook-pending.ts';

/**
 * The events a Pusher app's webhooks carry, each exactly as Pusher's
 * webhook JSON has it (https://pusher.com/docs/channels/server_api/webhooks/).
 * `client_event`'s `data` is the string the client sent, not parsed;
 * `user_id` is there on presence channels only.
 */
export type WebhookEvent =
  | { name: 'channel_occupied'; channel: string }
  | { name: 'channel_vacated'; channel: string }
  | { name: 'member_added'; channel: string; user_id: string }
  | { name: 'member_removed'; channel: string; user_id: string }
  | { name: 'client_event'; channel: string; event: string; data: string; socket_id: string; user_id?: string }
  | { name: 'cache_miss'; channel: string };

export type WebhookEventName = WebhookEvent['name'];

// The config's list of names and this union must not drift apart: a name
// added on one side only fails the type check here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const namesMatch: Same<WebhookEventName, PusherWebhookEvent> = true;
void namesMatch;

/**
 * The event's JSON, built field by field so that whatever else the caller's
 * object carries (a socket, a spread of internal state) never reaches an
 * endpoint.
 */
export function eventJson(event: WebhookEvent): string {
  switch (event.name) {
    case 'channel_occupied':
    case 'channel_vacated':
    case 'cache_miss':
      return JSON.stringify({ name: event.name, channel: event.channel });
    case 'member_added':
    case 'member_removed':
      return JSON.stringify({ name: event.name, channel: event.channel, user_id: event.user_id });
    case 'client_event':
      return JSON.stringify({
        name: event.name,
        channel: event.channel,
        event: event.event,
        data: event.data,
        socket_id: event.socket_id,
        ...(event.user_id === undefined ? {} : { user_id: event.user_id }),
      });
  }
}

/**
 * What the event turns on or off, for the queue to cancel it against its
 * opposite while both wait: a channel's occupancy, a user's membership of a
 * presence channel. Client events and cache misses undo nothing.
 */
export function toggleOf(event: WebhookEvent): Toggle | undefined {
  switch (event.name) {
    case 'channel_occupied':
    case 'channel_vacated':
      return { key: JSON.stringify([event.channel]), on: event.name === 'channel_occupied' };
    case 'member_added':
    case 'member_removed':
      return { key: JSON.stringify([event.channel, event.user_id]), on: event.name === 'member_added', channel: JSON.stringify([event.channel]) };
    default:
      return undefined;
  }
}

/** The body of one POST: events already in JSON, so a batch is joined, not serialised again. */
export function batchBody(timeMs: number, events: readonly string[]): string {
  return `{"time_ms":${timeMs},"events":[${events.join(',')}]}`;
}
