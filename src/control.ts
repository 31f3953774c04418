/**
 * Frames a client sends to wsgate itself rather than to the app, on hosts
 * with "clientChannels": {"wsgate": "subscribe" | "unsubscribe", "channel": "..."}.
 * Every other frame is the app's, exactly as before.
 */
import * as v from 'valibot';
import { channelProblem } from './targets.ts';

export type Control = { op: 'subscribe' | 'unsubscribe'; channel: string };

const ControlFrame = v.object({ wsgate: v.picklist(['subscribe', 'unsubscribe']), channel: v.string() });

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
  if (!parsed.success) return { problem: 'expected {"wsgate": "subscribe" or "unsubscribe", "channel": "<name>"}' };
  const problem = channelProblem(parsed.output.channel);
  if (problem) return { problem, channel: parsed.output.channel };
  return { control: { op: parsed.output.wsgate, channel: parsed.output.channel } };
}
