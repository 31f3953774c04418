/**
 * Pusher Channels' HTTP API (what Laravel's pusher broadcaster and the Pusher
 * server SDKs call) as one Hono sub-app: events, batches, channel queries and
 * terminating a user's connections, under /apps/{id}/, every request signed.
 */
import * as v from 'valibot';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { PusherApp } from '../../config/config.ts';
import type { Logger } from '../../ops/log.ts';
import { throttledLog, type ThrottledLine } from '../../ops/throttled-log.ts';
import { parsePeerJson, TOO_DEEP } from '../../core/json.ts';
import { pusherAuth, refuse } from './api-auth.ts';
import type { PusherEnv } from './api-auth.ts';
import { bodySchemas, channelProblem, isPresence, parseInfo, problem } from './api-schemas.ts';
import { channelKind, userIdProblem } from '../../protocols/pusher/channel-names.ts';
import type { ChannelInfo, ChannelInfoField, PusherApiGateway } from './gateway.ts';

export interface PusherApiOptions {
  log?: Logger;
  /** Bytes of a request body; the rest is not read (413). A function is read per request (a reload may change it). */
  maxBody: number | (() => number);
  /** The clock the signatures' timestamps are checked against, in ms. */
  now?: () => number;
}

type Ctx = Context<PusherEnv>;
type Parsed<T> = { ok: true; value: T } | { ok: false; response: Response };

/** The body the signature covered, as JSON whatever its Content-Type (the PHP SDKs' vary), checked by `schema`. */
function readBody<S extends v.GenericSchema>(c: Ctx, schema: S, log?: ThrottledLine): Parsed<v.InferOutput<S>> {
  const text = c.get('pusherBody');
  // Bounded in depth: an event's data that is not a string is written out again (JSON.stringify), which a deep enough value overflows.
  const read = parsePeerJson(text);
  if (!read.ok) {
    const message = read.problem === TOO_DEEP ? `the body is ${TOO_DEEP}` : text.trim() ? 'the body is not valid JSON' : 'the body is empty: expected a JSON object';
    return { ok: false, response: refuse(c, 400, message, log) };
  }
  const json = read.value;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, response: refuse(c, 400, 'the body must be a JSON object', log) };
  const parsed = v.safeParse(schema, json);
  return parsed.success ? { ok: true, value: parsed.output } : { ok: false, response: refuse(c, 400, problem(parsed.issues[0]), log) };
}

/** The index of the first event whose data is over the app's limit; Pusher answers that with 413. */
function oversize(app: PusherApp, events: Array<{ data: string }>): string | undefined {
  for (const [i, event] of events.entries()) {
    const bytes = Buffer.byteLength(event.data, 'utf8');
    if (bytes > app.limits.payload) return `${events.length > 1 ? `batch[${i}]: ` : ''}data is ${bytes} bytes; the limit is ${app.limits.payload}`;
  }
  return undefined;
}

/** A channel's entry in an answer keyed by name: `constructor` and `__proto__` are valid channel names. */
const own = <T>(record: Record<string, T> | undefined, key: string) => (record && Object.hasOwn(record, key) ? record[key] : undefined);

/** Only the fields asked for, and user_count only where it means something (presence channels). */
function infoOf(channel: string, got: Omit<ChannelInfo, 'occupied'> | undefined, fields: ChannelInfoField[]): Partial<Record<ChannelInfoField, number>> {
  const out: Partial<Record<ChannelInfoField, number>> = {};
  for (const field of fields) {
    if (field === 'user_count' && !isPresence(channel)) continue;
    const value = got?.[field];
    if (value !== undefined) out[field] = value;
  }
  return out;
}

/** The info= of a GET, or the 400 for it; `cache` only where one channel is asked about. */
function queryInfo(c: Ctx, log: ThrottledLine | undefined, withCache = false): Parsed<{ fields: ChannelInfoField[]; cache: boolean }> {
  const info = parseInfo(c.req.query('info'), withCache);
  return 'fields' in info ? { ok: true, value: info } : { ok: false, response: refuse(c, 400, info.problem, log) };
}

/**
 * The channel a GET's signed path names (before `after`), or the 400 for it.
 * Not c.req.param(), which percent-decodes: the SDK sends "room-%41" as it
 * signed it, and that (no channel) is what was asked, not "room-A".
 */
function pathChannel(c: Ctx, after: string, log: ThrottledLine | undefined): Parsed<string> {
  const name = signedSegment(c.get('pusherPath'), '/channels/', after);
  if (name === undefined) return { ok: false, response: refuse(c, 400, 'the signed path does not name a channel', log) };
  const issue = channelProblem(name, c.get('pusherApp').limits);
  return issue ? { ok: false, response: refuse(c, 400, issue, log) } : { ok: true, value: name };
}

/** What lies between `before` and `after` (the path's end) in a signed path, read as signed. */
function signedSegment(path: string, before: string, after: string): string | undefined {
  if (!path.endsWith(after)) return undefined;
  const rest = path.slice(0, path.length - after.length);
  const at = rest.indexOf(before, '/apps/'.length);
  return at < 0 ? undefined : rest.slice(at + before.length);
}

export function pusherApi(gateway: PusherApiGateway, options: PusherApiOptions): Hono<PusherEnv> {
  const log = options.log && throttledLog(options.log);
  const auth = pusherAuth(gateway, { log, maxBody: options.maxBody, now: options.now ?? Date.now });
  return new Hono<PusherEnv>()
    .use('/apps/:appId/*', auth)
    .post('/apps/:appId/events', async (c) => {
      const app = c.get('pusherApp');
      const body = readBody(c, bodySchemas(app).EventBody, log);
      if (!body.ok) return body.response;
      const { name, data, channels, socket_id, info } = body.value;
      const tooBig = oversize(app, [body.value]);
      if (tooBig) return refuse(c, 413, tooBig, log);
      const got = await gateway.trigger(app, { name, data, channels, ...(socket_id ? { socketId: socket_id } : {}) }, info.length ? info : undefined);
      if (!info.length) return c.json({});
      return c.json({ channels: Object.fromEntries(channels.map((channel) => [channel, infoOf(channel, own(got, channel), info)])) });
    })
    .post('/apps/:appId/batch_events', async (c) => {
      const app = c.get('pusherApp');
      const body = readBody(c, bodySchemas(app).BatchBody, log);
      if (!body.ok) return body.response;
      const { batch } = body.value;
      const tooBig = oversize(app, batch);
      if (tooBig) return refuse(c, 413, tooBig, log);
      const answers: Array<Partial<Record<ChannelInfoField, number>>> = [];
      // One after the other: a batch's events arrive in its order.
      for (const { name, data, channel, socket_id, info } of batch) {
        const got = await gateway.trigger(app, { name, data, channels: [channel], ...(socket_id ? { socketId: socket_id } : {}) }, info.length ? info : undefined);
        answers.push(infoOf(channel, own(got, channel), info));
      }
      return c.json(batch.some((event) => event.info.length) ? { batch: answers } : {});
    })
    .get('/apps/:appId/channels', async (c) => {
      const app = c.get('pusherApp');
      const info = queryInfo(c, log);
      if (!info.ok) return info.response;
      const prefix = c.req.query('filter_by_prefix') || undefined;
      const { fields } = info.value;
      if (fields.includes('user_count') && !prefix?.startsWith('presence-')) return refuse(c, 400, 'info=user_count needs filter_by_prefix=presence- (only presence channels count users)', log);
      const got = await gateway.channels(app, prefix, fields);
      return c.json({ channels: Object.fromEntries(Object.entries(got).map(([channel, each]) => [channel, infoOf(channel, each, fields)])) });
    })
    .get('/apps/:appId/channels/:channel', async (c) => {
      const app = c.get('pusherApp');
      const channel = pathChannel(c, '', log);
      if (!channel.ok) return channel.response;
      const info = queryInfo(c, log, true);
      if (!info.ok) return info.response;
      const { fields } = info.value;
      if (fields.includes('user_count') && !isPresence(channel.value)) return refuse(c, 400, 'info=user_count is only for presence channels', log);
      if (info.value.cache && !channelKind(channel.value).cache) return refuse(c, 400, 'info=cache is only for cache- channels (and private-cache-, private-encrypted-cache-, presence-cache-)', log);
      const got = await gateway.channel(app, channel.value, fields);
      // No `cache` while none is kept (never published, or past its ttl): a subscriber would get pusher:cache_miss.
      const cache = info.value.cache ? gateway.cache(app, channel.value) : undefined;
      return c.json({ occupied: got.occupied, ...infoOf(channel.value, got, fields), ...(cache ? { cache } : {}) });
    })
    .get('/apps/:appId/channels/:channel/users', async (c) => {
      const app = c.get('pusherApp');
      const channel = pathChannel(c, '/users', log);
      if (!channel.ok) return channel.response;
      if (!isPresence(channel.value)) return refuse(c, 400, 'users are listed only for presence channels', log);
      const users = await gateway.users(app, channel.value);
      return c.json({ users: users.map((id) => ({ id })) });
    })
    .post('/apps/:appId/users/:userId/terminate_connections', async (c) => {
      // Not c.req.param(), which percent-decodes: the SDK sends "a%2Fb" as it signed it, and that user, not "a/b", is the one named.
      const userId = signedSegment(c.get('pusherPath'), '/users/', '/terminate_connections');
      if (userId === undefined) return refuse(c, 400, 'the signed path does not name a user', log);
      const issue = userIdProblem(userId);
      if (issue) return refuse(c, 400, issue, log);
      await gateway.terminateUser(c.get('pusherApp'), userId);
      return c.json({});
    })
    .all('/apps/:appId/*', (c) => refuse(c, 404, `no such endpoint: ${c.req.method} ${c.req.path}`, log));
}
