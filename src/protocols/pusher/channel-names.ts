/**
 * What a Pusher channel's name makes of it: who may subscribe (anyone, or
 * with the app's signature), whether it has members by user, whether
 * clients may send events on it, whether it keeps its last event, and
 * whose user channel it is.
 */
import type { PusherLimits } from '../../config/config.ts';

export interface ChannelKind {
  /** Subscribing needs the app's signature (private-, presence-, private-encrypted-). */
  signed: boolean;
  /** Members by user, each with the channel data its signature covers (presence-). */
  members: boolean;
  /** Clients may send `client-` events on it (private and presence, not encrypted). */
  clientEvents: boolean;
  /** It gives a new subscriber its last event, or pusher:cache_miss (cache- in the name's kind). */
  cache: boolean;
  /** `#server-to-user-{id}`: only the connection signed in as that user may subscribe. */
  user?: string;
}

/** Pusher's rule for channel names; the `#server-to-user-` prefix is the only other form. */
const NAME = /^[A-Za-z0-9_\-=@,.;]+$/;
export const USER_CHANNEL = '#server-to-user-';
/**
 * The gateway's own channels, which no client may name (a `#` is not in
 * Pusher's names): the signed-in users, as members by user, and per user
 * the connections that watch it.
 */
export const ONLINE = '#online';
export const WATCHERS = '#watchers-of-';
/** Channels of the gateway's own or a user's: no app hears of them (webhooks, channel lists). */
export const isInternal = (channel: string): boolean => channel.startsWith('#');
/** Characters in a user id (Pusher: 164). */
export const USER_ID_MAX = 164;
/** Characters in a presence member's user id (Pusher's presence limit: 128). */
export const PRESENCE_USER_ID_MAX = 128;

/**
 * Why `id` cannot be a user id, if it cannot. Sign-in and the HTTP API hold
 * the same rule: a user signed in that the API refused to name could not be
 * sent to, nor have its connections terminated.
 */
export function userIdProblem(id: string, max = USER_ID_MAX): string | undefined {
  if (!id) return 'the user id is empty';
  if (id.length > max) return `the user id is ${id.length} characters; the limit is ${max}`;
  if (/[\x00-\x1f\x7f]/.test(id)) return 'the user id holds a control character';
  return undefined;
}

/** Users one connection may watch (Pusher's own limit). */
export const WATCHLIST_MAX = 100;

export function channelKind(name: string): ChannelKind {
  if (name.startsWith(USER_CHANNEL)) return { signed: false, members: false, clientEvents: false, cache: false, user: name.slice(USER_CHANNEL.length) };
  if (name.startsWith('private-encrypted-')) return { signed: true, members: false, clientEvents: false, cache: name.startsWith('private-encrypted-cache-') };
  if (name.startsWith('private-')) return { signed: true, members: false, clientEvents: true, cache: name.startsWith('private-cache-') };
  if (name.startsWith('presence-')) return { signed: true, members: true, clientEvents: true, cache: name.startsWith('presence-cache-') };
  return { signed: false, members: false, clientEvents: false, cache: name.startsWith('cache-') };
}

/**
 * Why a channel name is not one, or undefined when it is. A user's channel
 * is named by the user id sign-in took, whatever characters and length that
 * has: else pusher-js, which subscribes to it after sign-in, was refused its
 * own channel for an id such as "ann lee" or "auth0|123".
 */
export function channelNameProblem(name: unknown, limits: Pick<PusherLimits, 'channelName'>): string | undefined {
  if (typeof name !== 'string' || name === '') return 'a channel name is required';
  if (name.startsWith(USER_CHANNEL)) return userIdProblem(name.slice(USER_CHANNEL.length));
  if (name.length > limits.channelName) return `the channel name is longer than ${limits.channelName} characters`;
  if (!NAME.test(name)) return 'a channel name may only have letters, digits and _ - = @ , . ;';
  return undefined;
}
