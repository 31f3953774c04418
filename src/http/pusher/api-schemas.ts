/**
 * The shapes of the Pusher HTTP API's bodies and queries, with the app's
 * limits in them. The words are for the developer reading the SDK's
 * RequestError body: each names the field and the limit it broke.
 */
import * as v from 'valibot';
import type { PusherApp, PusherLimits } from '../../config/config.ts';
import type { ChannelInfoField } from './gateway.ts';
import { userIdProblem } from '../../protocols/pusher/channel-names.ts';

/** Pusher's channel name characters. */
const CHANNEL_CHARS = /^[A-Za-z0-9_\-=@,.;]+$/;
/** The channel pusher-js's user sign-in listens on, which `sendToUser` posts to; valid only as an event's target. */
export const TO_USER = '#server-to-user-';
/** Channels whose events the SDKs encrypt for that one channel. */
const ENCRYPTED = 'private-encrypted-';
/** What a socket_id looks like: pusher-js sends back the one the server gave it. */
const SOCKET_ID = /^\d{1,20}\.\d{1,20}$/;
const INFO_FIELDS: readonly ChannelInfoField[] = ['user_count', 'subscription_count'];

export const isPresence = (channel: string) => channel.startsWith('presence-');

/** Why `name` cannot be a channel here, if it cannot; `toUser` allows the `#server-to-user-{id}` an event may target. */
export function channelProblem(name: string, limits: PusherLimits, toUser = false): string | undefined {
  const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}...` : name);
  // Before the length: a user's channel is as long as the id sign-in took, which the app's channel name limit does not bound.
  if (name.startsWith(TO_USER)) {
    if (!toUser) return `channel ${shown}: ${TO_USER} channels take events only`;
    const problem = userIdProblem(name.slice(TO_USER.length));
    return problem && `channel ${shown}: ${problem}`;
  }
  if (name.length > limits.channelName) return `channel ${shown} is ${name.length} characters; the limit is ${limits.channelName}`;
  if (!CHANNEL_CHARS.test(name)) return `channel ${shown} may hold only A-Z a-z 0-9 _ - = @ , . ;`;
  return undefined;
}

/** `info=user_count,subscription_count` as fields; anything else is refused, so a typo does not pass as "no info". */
export function parseInfo(info: string | null | undefined, withCache = false): { fields: ChannelInfoField[]; cache: boolean } | { problem: string } {
  const fields: ChannelInfoField[] = [];
  let cache = false;
  for (const part of (info ?? '').split(',')) {
    const field = part.trim();
    if (!field) continue;
    if (withCache && field === 'cache') {
      cache = true;
      continue;
    }
    if (!INFO_FIELDS.includes(field as ChannelInfoField)) return { problem: `info may list ${withCache ? `${INFO_FIELDS.join(', ')} and cache` : INFO_FIELDS.join(' and ')}, not ${JSON.stringify(field)}` };
    if (!fields.includes(field as ChannelInfoField)) fields.push(field as ChannelInfoField);
  }
  return { fields, cache };
}

/** An event's `data` as the text delivered: the SDKs send a JSON string; another value is sent as its JSON. */
const data = v.pipe(
  v.unknown(),
  v.check((d) => d !== undefined && d !== null, 'data is required'),
  v.transform((d) => (typeof d === 'string' ? d : JSON.stringify(d))),
);

function eventName(limits: PusherLimits) {
  return v.pipe(
    v.string('name must be a string'),
    v.nonEmpty('name must not be empty'),
    v.maxLength(limits.eventName, `name must be at most ${limits.eventName} characters`),
    // pusher-js gives events of these prefixes to the connection itself, not to the app's handlers.
    v.check((name) => !/^pusher(_internal)?:/.test(name), 'name must not start with pusher: or pusher_internal: (the protocol\'s own events)'),
  );
}

const socketId = v.nullish(v.pipe(v.string('socket_id must be a string'), v.regex(SOCKET_ID, 'socket_id must be a socket id such as 1234.5678')));

const channelCheck = (limits: PusherLimits) =>
  v.rawCheck<string>(({ dataset, addIssue }) => {
    const problem = dataset.typed ? channelProblem(dataset.value, limits, true) : undefined;
    if (problem) addIssue({ message: problem });
  });

// The default makes the field run through the pipe when it is missing, so the route always gets a list.
const info = v.pipe(
  v.nullish(v.string('info must be a string'), ''),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const parsed = parseInfo(dataset.value);
    if ('fields' in parsed) return parsed.fields;
    addIssue({ message: parsed.problem });
    return NEVER;
  }),
);

function schemas(limits: PusherLimits) {
  const channel = v.pipe(v.string('channel must be a string'), channelCheck(limits));
  const event = v.object({
    name: eventName(limits),
    data,
    channel: v.optional(channel),
    channels: v.optional(
      v.pipe(
        v.array(channel, 'channels must be an array of channel names'),
        v.minLength(1, 'channels must name at least one channel'),
        v.maxLength(limits.channels, `an event may go to at most ${limits.channels} channels`),
      ),
    ),
    socket_id: socketId,
    info,
  });
  const EventBody = v.pipe(
    event,
    v.check((e) => (e.channel === undefined) !== (e.channels === undefined), 'give channel or channels (one of them)'),
    v.transform(({ channel, channels, ...rest }) => ({ ...rest, channels: [...new Set(channels ?? [channel!])] })),
    // The SDKs seal the data with the channel's own key: the same data cannot be right for another channel (Pusher: not supported).
    v.rawCheck(({ dataset, addIssue }) => {
      const sealed = dataset.typed && dataset.value.channels.length > 1 ? dataset.value.channels.find((c) => c.startsWith(ENCRYPTED)) : undefined;
      if (sealed) addIssue({ message: `channel ${JSON.stringify(sealed.length > 60 ? `${sealed.slice(0, 60)}...` : sealed)}: an event to a ${ENCRYPTED} channel goes to that channel alone` });
    }),
  );
  const batchEvent = v.object({ name: eventName(limits), data, channel: v.pipe(v.string('channel is required in each batch event'), channelCheck(limits)), socket_id: socketId, info });
  const BatchBody = v.object({
    batch: v.pipe(v.array(batchEvent, 'batch must be an array of events'), v.maxLength(limits.batch, `a batch may hold at most ${limits.batch} events`)),
  });
  return { EventBody, BatchBody };
}

const cache = new WeakMap<PusherLimits, ReturnType<typeof schemas>>();

/** The body schemas for an app's limits, built once per limits object (a reload makes a new one). */
export function bodySchemas(app: PusherApp): ReturnType<typeof schemas> {
  let found = cache.get(app.limits);
  if (!found) cache.set(app.limits, (found = schemas(app.limits)));
  return found;
}

export type EventBody = v.InferOutput<ReturnType<typeof schemas>['EventBody']>;
export type BatchBody = v.InferOutput<ReturnType<typeof schemas>['BatchBody']>;

/** valibot's issue as one line: where it is (batch[2]) before the message, which names the field itself. */
export function problem(issue: v.BaseIssue<unknown>): string {
  const keys = (issue.path ?? []).map((item) => item.key);
  const last = keys.at(-1);
  const message = issue.received === 'undefined' && typeof last === 'string' ? `${last} is required` : issue.message;
  const within = (typeof last === 'string' ? keys.slice(0, -1) : keys).map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`)).join('');
  return within ? `${within}: ${message}` : message;
}
