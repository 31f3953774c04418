/**
 * The frames a Pusher client sends, checked: an object with an `event`
 * name, and `data` as an object or as its JSON text (clients send both).
 */
import * as v from 'valibot';
import { parsePeerJson } from '../../core/json.ts';

const Frame = v.object({ event: v.string(), channel: v.optional(v.string()), data: v.optional(v.unknown()) });

const Subscribe = v.object({ channel: v.string(), auth: v.optional(v.string()), channel_data: v.optional(v.string()) });
const Unsubscribe = v.object({ channel: v.string() });
const Signin = v.object({ auth: v.string(), user_data: v.string() });
/** What a presence channel's signed channel data says of the member. */
const ChannelData = v.object({ user_id: v.union([v.pipe(v.string(), v.nonEmpty()), v.number()]), user_info: v.optional(v.unknown()) });
/** A signed-in user's data: its `id` is what the user channel and terminate_connections name. */
const UserData = v.object({ id: v.pipe(v.string(), v.nonEmpty()), watchlist: v.optional(v.array(v.string())) });

export type ClientFrame = v.InferOutput<typeof Frame>;

/** The frame, or undefined when it is not one (not JSON, not an object with an event name). */
export function readFrame(text: string): ClientFrame | undefined {
  // Deeper than anything is written out again: refused here, not where it would overflow the stack (core/json.ts).
  const json = parsePeerJson(text);
  if (!json.ok) return undefined;
  const parsed = v.safeParse(Frame, json.value);
  return parsed.success ? parsed.output : undefined;
}

/** `data` as an object: clients may send it as JSON text. */
function dataOf(frame: ClientFrame): unknown {
  if (typeof frame.data !== 'string') return frame.data;
  const json = parsePeerJson(frame.data);
  return json.ok ? json.value : undefined;
}

const read = <S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> | undefined => {
  const parsed = v.safeParse(schema, value);
  return parsed.success ? parsed.output : undefined;
};

export const subscribeOf = (frame: ClientFrame) => read(Subscribe, dataOf(frame));
export const unsubscribeOf = (frame: ClientFrame) => read(Unsubscribe, dataOf(frame));
export const signinOf = (frame: ClientFrame) => read(Signin, dataOf(frame));

/** The member a presence subscription's channel data names (user ids as text, as Pusher's hash keys are). */
export function memberOf(channelData: string): { user: string; info: unknown } | undefined {
  const json = parsePeerJson(channelData);
  const data = json.ok ? read(ChannelData, json.value) : undefined;
  return data && { user: String(data.user_id), info: data.user_info };
}

export function userOf(userData: string): v.InferOutput<typeof UserData> | undefined {
  const json = parsePeerJson(userData);
  return json.ok ? read(UserData, json.value) : undefined;
}
