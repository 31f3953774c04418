/**
 * What a client says to wsgate itself rather than to the app
 * (docs/PROTOCOL.md): control frames {"wsgate": "subscribe" | "unsubscribe" |
 * "presence", "channel": "..."} on hosts with "clientChannels" or from
 * sockets that opted in, and the upgrade's `recover` positions. Every other
 * frame is the app's, exactly as before.
 */
import * as v from 'valibot';
import type { Position } from '../../core/history/history.ts';
import { joinableProblem } from '../../core/streams.ts';
import { channelProblem } from '../../core/targets.ts';

import type { ClientRequest } from '../../core/protocol.ts';

export type Control = ClientRequest;

const PositionSchema = v.object({
  epoch: v.string(),
  offset: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
const ControlFrame = v.object({ wsgate: v.picklist(['subscribe', 'unsubscribe', 'presence']), channel: v.string(), since: v.optional(PositionSchema) });

/** The control frame in a client's text, a problem with it, or undefined when the frame is the app's. */
export function parseControl(text: string): { control: Control } | { problem: string; channel?: string } | undefined {
  // Cheap test first: almost every frame is the app's.
  if (!text.includes('"wsgate"')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || !('wsgate' in json)) return undefined;
  const parsed = v.safeParse(ControlFrame, json);
  if (!parsed.success) {
    const since = parsed.issues[0].path?.[0]?.key === 'since';
    return { problem: since ? 'since must be {"epoch": "...", "offset": <whole number>}' : 'expected {"wsgate": "subscribe", "unsubscribe" or "presence", "channel": "<name>"}' };
  }
  const { wsgate: op, channel, since } = parsed.output;
  // Only a join must not name a stream: what the app joined it to, it may still leave and ask about.
  const problem = op === 'subscribe' ? joinableProblem(channel) : channelProblem(channel);
  if (problem) return { problem, channel };
  if (op === 'subscribe') return { control: since ? { op, channel, since } : { op, channel } };
  return { control: { op, channel } };
}

const RecoverSchema = v.record(v.string(), PositionSchema);

/** At most this many streams in one `recover`: a client resumes a handful, not thousands. */
const MAX_RECOVER = 100;

/** The upgrade's `recover` parameter: {stream: {epoch, offset}}, or why it is malformed. */
export function parseRecover(text: string | undefined): { positions?: Map<string, Position> } | { problem: string } {
  if (text === undefined || text === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: 'recover is not valid JSON' };
  }
  const parsed = v.safeParse(RecoverSchema, json);
  if (!parsed.success) return { problem: 'recover must be a JSON object such as {"room:1": {"epoch": "...", "offset": 17}}' };
  const entries = Object.entries(parsed.output);
  if (entries.length > MAX_RECOVER) return { problem: `recover names more than ${MAX_RECOVER} streams` };
  return { positions: new Map(entries.map(([stream, { epoch, offset }]) => [stream, { epoch, offset }])) };
}
