/**
 * The client's side of the wire (docs/PROTOCOL.md): what a frame from wsgate
 * says, its fields checked, and the frames the client sends. Every field is
 * checked here because a frame is untrusted input, so that the rest of the
 * client works on frames it can rely on.
 */
import type { Member, Position, PresenceEvent } from './types.ts';

type Frame = Record<string, unknown>;

/** A frame the client sends. */
export type Outgoing = { wsgate: 'subscribe'; channel: string; since?: Position } | { wsgate: 'unsubscribe' | 'presence'; channel: string };

/** The connection, as the parts of the client that send frames see it. */
export interface Link {
  /** From "ready" until the connection closes. */
  readonly connected: boolean;
  /** close() was called: for good. */
  readonly closed: boolean;
  write(frame: Outgoing): void;
}

/** What the client does with each frame from wsgate, once its fields are checked. */
export interface Receiver {
  /** Not a control frame: the app's own, as it came or parsed from JSON. */
  message(data: unknown): void;
  ready(socket: string | undefined): void;
  error(reason: string, channel: string | undefined): void;
  pub(channel: string, position: Position | undefined, data: unknown): void;
  /** `recovered` is wsgate's verdict on the stream, when we asked to recover it. */
  joined(channel: string, position: Position | undefined, recovered: boolean | undefined): void;
  /** An accepted subscribe. */
  subscribed(channel: string, position: Position | undefined, recovered: boolean | undefined): void;
  /** A refused subscribe. */
  refused(channel: string, reason: string): void;
  /** "left" or "unsubscribed". */
  left(channel: string): void;
  presence(channel: string, members: Member[]): void;
  /** "join" or "leave". */
  member(kind: 'join' | 'leave', event: PresenceEvent): void;
}

const isRecord = (value: unknown): value is Frame => typeof value === 'object' && value !== null && !Array.isArray(value);
const isOffset = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;
const stringOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const recoveredOf = (frame: Frame): boolean | undefined => (typeof frame.recovered === 'boolean' ? frame.recovered : undefined);

/** The frame's epoch and offset, when it has both (a stream with history). */
function positionOf(frame: Frame): Position | undefined {
  return typeof frame.epoch === 'string' && isOffset(frame.offset) ? { epoch: frame.epoch, offset: frame.offset } : undefined;
}

export function read(data: unknown, to: Receiver): void {
  if (typeof data !== 'string') return to.message(data);
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return to.message(data);
  }
  if (isRecord(frame) && typeof frame.wsgate === 'string') control(frame, to);
  else to.message(frame);
}

function control(frame: Frame, to: Receiver): void {
  const kind = frame.wsgate;
  if (kind === 'ready') return to.ready(stringOf(frame.socket));
  const channel = stringOf(frame.channel);
  if (kind === 'error') return to.error(stringOf(frame.reason) ?? 'error', channel);
  // Every other frame is about a channel.
  if (channel === undefined) return;
  switch (kind) {
    case 'pub':
      return to.pub(channel, positionOf(frame), frame.data);
    case 'joined':
      return to.joined(channel, positionOf(frame), recoveredOf(frame));
    case 'subscribed':
      if (frame.ok !== true) return to.refused(channel, stringOf(frame.reason) ?? 'refused');
      return to.subscribed(channel, positionOf(frame), recoveredOf(frame));
    case 'left':
    case 'unsubscribed':
      return to.left(channel);
    case 'presence':
      return to.presence(channel, Array.isArray(frame.members) ? frame.members.filter((m): m is Member => isRecord(m) && typeof m.socket === 'string') : []);
    case 'join':
    case 'leave':
      if (typeof frame.socket !== 'string') return;
      return to.member(kind, 'info' in frame ? { channel, socket: frame.socket, info: frame.info } : { channel, socket: frame.socket });
  }
  // Any other kind is from a newer wsgate: ignored.
}
