/**
 * wsgate's own protocol (docs/PROTOCOL.md), in its two modes. Plain: the
 * frames Phlo's pages know, exactly as the app and casts send them, plus
 * answers to control frames on hosts with "clientChannels". Aware
 * (`?wsgate=1`, wsgate.js): casts to streams come in envelopes with their
 * position, and the client is told of every stream it is in.
 */
import type { ClientProtocol, ParsedFrame, StreamState } from '../../core/protocol.ts';
import type { Position } from '../../core/history/history.ts';
import { parseControl } from './control.ts';

/** A publication as an opted-in socket gets it: the frame, said which stream and where in it. */
export function envelope(stream: string, position: Position | undefined, frame: string): string {
  const head = `{"wsgate":"pub","channel":${JSON.stringify(stream)}`;
  return position ? `${head},"epoch":${JSON.stringify(position.epoch)},"offset":${position.offset},"data":${frame}}` : `${head},"data":${frame}}`;
}

function inStream(stream: string, how: 'joined' | 'subscribed', state: StreamState): string {
  const head: Record<string, unknown> = how === 'joined' ? { wsgate: 'joined', channel: stream } : { wsgate: 'subscribed', channel: stream, ok: true };
  return JSON.stringify(Object.assign(head, state));
}

const shared = {
  hooks: true,
  // A cast to chosen sockets is not a stream's: it reaches them as the app cast it.
  publication: (stream: string | undefined, position: Position | undefined, frame: string) => (stream === undefined ? frame : envelope(stream, position, frame)),
  inStream,
  unsubscribed: (channel: string) => JSON.stringify({ wsgate: 'unsubscribed', channel }),
  subscribeRefused: (channel: string, reason: string) => JSON.stringify({ wsgate: 'subscribed', channel, ok: false, reason }),
  presence: (channel: string, members: unknown[]) => JSON.stringify({ wsgate: 'presence', channel, members }),
  error: (reason: string, channel?: string) => JSON.stringify(channel === undefined ? { wsgate: 'error', reason } : { wsgate: 'error', channel, reason }),
  presenceEvent(event: 'join' | 'leave', channel: string, socket: string, info: unknown): string {
    const frame: Record<string, unknown> = { wsgate: event, channel, socket };
    if (info !== undefined) frame.info = info;
    return JSON.stringify(frame);
  },
};

export const PLAIN: ClientProtocol = {
  ...shared,
  name: 'plain',
  wraps: false,
  resumes: false,
  ready: () => undefined,
  left: () => undefined,
  request: (text, hostAllows) => (hostAllows ? toRequest(parseControl(text)) : undefined),
};

export const AWARE: ClientProtocol = {
  ...shared,
  name: 'wsgate',
  wraps: true,
  resumes: true,
  ready: (socket) => `{"wsgate":"ready","socket":"${socket}"}`,
  left: (channel) => JSON.stringify({ wsgate: 'left', channel }),
  request: (text) => toRequest(parseControl(text)),
};

function toRequest(parsed: ReturnType<typeof parseControl>): ParsedFrame {
  if (parsed === undefined || 'problem' in parsed) return parsed;
  return { request: parsed.control };
}
