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
}

/** What a client asks of the gateway itself rather than of the app. */
export type ClientRequest = { op: 'subscribe'; channel: string; since?: Position } | { op: 'unsubscribe' | 'presence'; channel: string };

export interface ClientProtocol {
  /** Casts to streams reach it framed by publication() (the hub keeps such clients on topics of their own). */
  readonly wraps: boolean;
  /** It keeps its place in each stream and resumes from it, so it is told of the streams it is in, and needs no replay. */
  readonly resumes: boolean;
  /** A publication of `stream`, at `position` when the stream is numbered. */
  publication(stream: string, position: Position | undefined, frame: string): string;
  /** It is open and has been given what it missed. */
  ready(socket: string): string | undefined;
  /** It is in a stream: `joined` by the app or the path, or `subscribed` at its own request. */
  inStream(stream: string, how: 'joined' | 'subscribed', state: StreamState): string;
  /** The app took it out of a channel. */
  left(channel: string): string | undefined;
  /** Its own unsubscribe is done. */
  unsubscribed(channel: string): string;
  /** Its own subscribe was refused, and why. */
  subscribeRefused(channel: string, reason: string): string;
  /** Who is in a channel it is in. */
  presence(channel: string, members: Presence['members']): string;
  /** A request it made was wrong, or a message it sent could not reach the app. */
  error(reason: string, channel?: string): string;
  /** A socket joined or left a channel with presence events: told to the channel's other members. */
  presenceEvent(event: 'join' | 'leave', channel: string, socket: string, info: unknown): string;
  /**
   * A frame it sent: a request of the gateway, a malformed one, or undefined
   * when the frame is the app's. `hostAllows`: the host lets clients choose
   * channels, so even a client that does not resume may ask.
   */
  request(text: string, hostAllows: boolean): { request: ClientRequest } | { problem: string; channel?: string } | undefined;
}
