/**
 * The frames a Pusher client gets (protocol 7). Pusher puts most events'
 * `data` in as JSON text, not as an object: pusher-js parses it again.
 */
import type { Member } from '../../core/protocol.ts';

/** Pusher's error codes: 4000-4099 the client gives up, 4100-4199 it backs off, 4200-4299 it reconnects at once. */
export const PUSHER_CLOSE = {
  noSuchApp: 4001,
  unsupportedProtocol: 4007,
  noProtocol: 4008,
  unauthorized: 4009,
  overCapacity: 4100,
  reconnect: 4200,
  noPong: 4201,
  clientEventRate: 4301,
} as const;

const event = (name: string, data: unknown, channel?: string): string =>
  channel === undefined ? JSON.stringify({ event: name, data }) : JSON.stringify({ event: name, channel, data });

export const connectionEstablished = (socketId: string, activityTimeout: number): string =>
  event('pusher:connection_established', JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeout }));

export const PONG = '{"event":"pusher:pong","data":"{}"}';
export const PING = '{"event":"pusher:ping","data":"{}"}';

/** `code` null: an error that is not one of Pusher's numbered ones. */
export const pusherError = (code: number | null, message: string): string => event('pusher:error', { code, message });

export function subscriptionSucceeded(channel: string, users?: Map<string, unknown>): string {
  if (!users) return event('pusher_internal:subscription_succeeded', '{}', channel);
  // Own properties whatever the id: assigned to a plain {}, a user "__proto__" would set its prototype and be left out.
  const hash = Object.fromEntries([...users].map(([user, info]) => [user, info ?? null]));
  return event('pusher_internal:subscription_succeeded', JSON.stringify({ presence: { ids: [...users.keys()], hash, count: users.size } }), channel);
}

/** `status` as an HTTP auth endpoint would say it: 401 a bad signature, 403 a channel it may not join. */
export const subscriptionError = (channel: string, error: string, status: number, type = 'AuthError'): string =>
  event('pusher:subscription_error', { type, error, status }, channel);

export const memberEvent = (added: boolean, channel: string, member: Member): string =>
  added
    ? event('pusher_internal:member_added', JSON.stringify({ user_id: member.user, user_info: member.info ?? null }), channel)
    : event('pusher_internal:member_removed', JSON.stringify({ user_id: member.user }), channel);

export const signinSuccess = (userData: string): string => event('pusher:signin_success', JSON.stringify({ user_data: userData }));

export const watchlistEvents = (name: 'online' | 'offline', users: string[]): string =>
  event('pusher_internal:watchlist_events', JSON.stringify({ events: [{ name, user_ids: users }] }));

export const cacheMiss = (channel: string): string => JSON.stringify({ event: 'pusher:cache_miss', channel });
