/**
 * What a connection's wire protocol makes of what the core does. The core
 * decides (who joins, what was missed, what is refused); the protocol words
 * it, and reads the requests a client makes of the gateway itself. One
 * object per protocol (and mode), shared by all its connections.
 */
import type { Position } from './history/history.ts';
import type { Presence } from './presence.ts';

/** Where a stream is, and whether what the client missed in it follows. */
export interface StreamState {
  epoch?: string;
  offset?: number;
  recovered?: boolean;
  /** A channel with members by user: who is in it, each user once, with what its signature said of it. */
  users?: Map<string, unknown>;
}

/** A user in a channel with members by user (a Pusher presence channel), as its signed channel data says. */
export interface Member {
  user: string;
  info?: unknown;
}

/**
 * What a client asks of the gateway itself rather than of the app. A
 * subscribe `signed` by the app (its signature checked by the protocol)
 * needs no subscribe hook; with `member`, the channel has members by user
 * (at most `maxUsers`); `maxChannels`: the most the client may be in; `quiet`: the protocol answers it itself; `cache`:
 * the channel's last publication follows the answer (or word that there is none).
 * `publish`: an event to the others in a channel it is in (`frame` as the
 * channel's other members get it, and `event`, its name, for observers).
 */
export type ClientRequest =
  | { op: 'subscribe'; channel: string; since?: Position; signed?: boolean; member?: Member; maxUsers?: number; maxChannels?: number; quiet?: boolean; cache?: boolean }
  | { op: 'unsubscribe' | 'presence'; channel: string }
  /** `unkept`: relayed, but not kept in the channel's history (see CastRequest). */
  | { op: 'publish'; channel: string; event: string; data: unknown; frame: string; user?: string; unkept?: boolean }
  /**
   * The client is `user` from now on (its signature checked by the
   * protocol): it joins `channels` quietly, and `online` as a member (the
   * users online); `answer` words what it is told of who is online.
   */
  | { op: 'signin'; user: Member; channels: string[]; online: string; answer(online: Map<string, unknown>): string | undefined };

/** What the protocol made of a frame: a request, a problem, an answer it gives at once, or undefined (the app's message). */
export type ParsedFrame = { request: ClientRequest; reply?: string } | { problem: string; channel?: string } | { reply: string } | undefined;

export interface ClientProtocol {
  /** The close codes it uses where WebSocket's own say 1001 (going away): the gateway stops, the client idled, its host or app is gone. */
  readonly goingAway?: Record<'shutdown' | 'idle' | 'removed', number>;
  /** Its name, unique among protocols (the hub's topics of its framed casts). */
  readonly name: string;
  /** Casts reach it framed by publication() (the hub keeps such clients on topics of their own). */
  readonly wraps: boolean;
  /** It keeps its place in each stream and resumes from it, so it is told of the streams it is in, and needs no replay. */
  readonly resumes: boolean;
  /**
   * Its connections carry the app's token, and the app's socket hooks
   * (connect, receive, close) run for them, and a gone token's frames are
   * kept for its return; a protocol whose app signs instead (Pusher) has none.
   */
  readonly hooks: boolean;
  /**
   * A cast of `frame` to `stream` (a channel, `@all`, `@token`), at
   * `position` when the stream is numbered; `stream` undefined: a cast to
   * chosen sockets.
   */
  publication(stream: string | undefined, position: Position | undefined, frame: string): string;
  /** It is open and has been given what it missed. */
  ready(socket: string): string | undefined;
  /** It is in a stream: `joined` by the app or the path, or `subscribed` at its own request. */
  inStream(stream: string, how: 'joined' | 'subscribed', state: StreamState): string;
  /** The app took it out of a channel. */
  left(channel: string): string | undefined;
  /** Its own unsubscribe is done; undefined: the protocol does not say so. */
  unsubscribed(channel: string): string | undefined;
  /** Its own subscribe was refused, and why. */
  subscribeRefused(channel: string, reason: string): string;
  /** Who is in a channel it is in. */
  presence(channel: string, members: Presence['members']): string;
  /** A request it made was wrong, or a message it sent could not reach the app. */
  error(reason: string, channel?: string): string;
  /** A subscriber of a channel that gives its last publication is told there is none. */
  cacheMiss?(channel: string): string;
  /**
   * A user came to (`added`) or left a channel with members by user: told to
   * the channel's other members, or to the members of `to` when it says
   * (those who watch the user). Absent: it has no such channels.
   */
  memberEvent?(added: boolean, channel: string, member: Member): string | { to: string; frame: string } | undefined;
  /** Whether a channel of this name has members by user (so a client leaving it may be a user leaving). */
  hasMembers?(channel: string): boolean;
  /**
   * A presence frame of a channel (a socket's join or leave, a member event)
   * as this protocol's clients get it; undefined: not for them. Absent: as it came.
   */
  presenceFrame?(frame: string): string | undefined;
  /** A socket joined or left a channel with presence events: told to the channel's other members. */
  presenceEvent(event: 'join' | 'leave', channel: string, socket: string, info: unknown): string;
  /**
   * A frame a client sent: a request of the gateway, a malformed one, or
   * undefined when the frame is the app's. `hostAllows`: the host lets
   * clients choose channels, so even a client that does not resume may ask.
   * Absent for a protocol whose frames depend on the connection (its state,
   * its app's secret): its Client subclass reads them (Client.request).
   */
  request?(text: string, hostAllows: boolean): ParsedFrame;
}
