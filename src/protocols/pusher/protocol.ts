/**
 * What the core's publications and answers look like to a Pusher client.
 * A cast reaches it as an event: a frame that is an object with an `event`
 * name (what the Pusher API and client events publish) keeps its name and
 * data; any other frame (a Phlo app's cast) arrives as event `message` with
 * the frame as its data. The connection's own requests are read by
 * PusherConnection, which knows its app and its user.
 */
import type { ClientProtocol } from '../../core/protocol.ts';
import { ALL_STREAM, TOKEN_STREAM } from '../../core/streams.ts';
import { channelKind, ONLINE, WATCHERS } from './channel-names.ts';
import { cacheMiss, memberEvent, PUSHER_CLOSE, pusherError, subscriptionError, subscriptionSucceeded, watchlistEvents } from './frames.ts';

/** The event name of a cast that is not a Pusher event: what `.listen('.message')` hears. */
export const CAST_EVENT = 'message';

/** A cast as a Pusher client receives it. */
interface PusherEvent {
  event: string;
  channel?: string;
  data: string;
  user_id?: unknown;
}

/** A cast's frame as a Pusher event on `channel` (none for host-wide and token casts). */
export function pusherEvent(stream: string | undefined, frame: string): string {
  return JSON.stringify(pusherEventOf(stream, frame));
}

/** The same event as an object: its `data` is what a Pusher client is given (the API's info=cache answers it too). */
export function pusherEventOf(stream: string | undefined, frame: string): PusherEvent {
  const channel = stream === undefined || stream === ALL_STREAM || stream === TOKEN_STREAM ? undefined : stream;
  let parsed: unknown;
  if (frame.charCodeAt(0) === 123 /* { */) {
    try {
      parsed = JSON.parse(frame);
    } catch {
      // Not JSON after all: it goes as text, below.
    }
  }
  // Keys in Pusher's order (event, channel, data): `data` is set below.
  const out = { event: CAST_EVENT } as PusherEvent;
  if (channel !== undefined) out.channel = channel;
  const event = parsed as { event?: unknown; data?: unknown; user_id?: unknown } | undefined;
  if (event && typeof event.event === 'string') {
    out.event = event.event;
    // Pusher's data is text; an object is sent as its JSON, as Pusher's own servers do.
    out.data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data ?? {});
    if (event.user_id !== undefined) out.user_id = event.user_id;
  } else out.data = frame;
  return out;
}

export const PUSHER: ClientProtocol = {
  name: 'pusher',
  wraps: true,
  resumes: false,
  hooks: false,
  // Pusher's 4200-4299: the client reconnects at once (4202: it was closed for inactivity).
  goingAway: { shutdown: PUSHER_CLOSE.reconnect, idle: 4202, removed: PUSHER_CLOSE.reconnect },
  publication: (stream, _position, frame) => pusherEvent(stream, frame),
  // The connection says it is established itself: the app's activity timeout is part of it.
  ready: () => undefined,
  inStream: (channel, _how, state) => subscriptionSucceeded(channel, state.users),
  left: () => undefined,
  unsubscribed: () => undefined,
  subscribeRefused: (channel, reason) => subscriptionError(channel, reason, 403),
  presence: (channel) => subscriptionError(channel, 'not a request Pusher clients make', 400, 'Error'),
  error: (reason) => pusherError(null, reason),
  memberEvent(added, channel, member) {
    // A user's first connection signed in, or its last went: told to the connections that watch it.
    if (channel === ONLINE) return { to: WATCHERS + member.user, frame: watchlistEvents(added ? 'online' : 'offline', [member.user]) };
    return memberEvent(added, channel, member);
  },
  hasMembers: (channel) => channel === ONLINE || channelKind(channel).members,
  cacheMiss,
  // wsgate's join and leave frames of a channel with presenceEvents are for wsgate sockets: they have no `event`, which pusher-js cannot read.
  presenceFrame: (frame) => (frame.startsWith('{"wsgate":') ? undefined : frame),
  presenceEvent(event, channel, socket, info) {
    const frame: Record<string, unknown> = { wsgate: event, channel, socket };
    if (info !== undefined) frame.info = info;
    return JSON.stringify(frame);
  },
};
