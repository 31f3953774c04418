/**
 * What nodes say to each other over Redis: requests on the bus, answers on
 * each node's own reply channel. Both are checked with valibot on the way
 * in: a Redis anyone can write to is a boundary like any other.
 */
import * as v from 'valibot';
import { appCloseCode, closeReasonFits } from '../core/close-codes.ts';
import { parsePeerJson } from '../core/json.ts';
import { mayBeEpoch } from '../core/history/history.ts';
import type { NodeRequest } from '../core/requests.ts';

const SelectionSchema = v.variant('kind', [
  v.object({ kind: v.literal('all') }),
  v.object({ kind: v.literal('token'), token: v.string() }),
  v.object({ kind: v.literal('notToken'), token: v.string() }),
  v.object({ kind: v.literal('channel'), channel: v.string() }),
  v.object({ kind: v.literal('sockets'), ids: v.array(v.string()) }),
]);

export const RequestSchema = v.variant('t', [
  /** A cast: `frame` is the JSON text, serialised once by the node that took it. */
  v.object({
    t: v.literal('cast'),
    host: v.string(),
    selection: SelectionSchema,
    frame: v.string(),
    except: v.optional(v.string()),
    /**
     * Where Redis numbered it, for streams with history: its INCR counts from 1 in whole numbers. History counts on
     * from an offset one by one, which past 2^53 (offset + 1 === offset) never ends.
     */
    position: v.optional(v.object({ epoch: v.pipe(v.string(), v.check(mayBeEpoch, 'an epoch as wsgate makes them (8 base64url characters)')), offset: v.pipe(v.number(), v.safeInteger(), v.minValue(1)) })),
    unkept: v.optional(v.literal(true)),
  }),
  /** A join or leave event, cast to a channel's members as it is (no history, no envelope). */
  v.object({ t: v.literal('presenceEvent'), host: v.string(), channel: v.string(), frame: v.string(), except: v.string() }),
  v.object({ t: v.literal('subscribe'), host: v.string(), selection: SelectionSchema, channel: v.string(), join: v.boolean() }),
  /** As the bridge takes it: a node of another build, or anyone who can PUBLISH, must not hand the runtimes a close they each fail differently. */
  v.object({ t: v.literal('disconnect'), host: v.string(), selection: SelectionSchema, code: v.pipe(v.number(), v.check(appCloseCode, 'a close code an app may send')), reason: v.pipe(v.string(), v.check(closeReasonFits, 'a close reason of at most 123 bytes')) }),
  v.object({ t: v.literal('presence'), host: v.string(), channel: v.string() }),
  v.object({ t: v.literal('channels'), host: v.string(), prefix: v.optional(v.string()), channel: v.optional(v.string()) }),
  v.object({ t: v.literal('health') }),
  /**
   * A token's last socket on the sender closed, on a host that replays: every
   * node keeps what would have reached it, so it gets that on whichever node
   * it comes back to. A node that still holds a socket of the token says `replayBack`.
   */
  v.object({ t: v.literal('replayLeft'), host: v.string(), token: v.string(), channels: v.array(v.string()) }),
  /** A socket of the token opened (or was still open) on the sender: nobody keeps its frames any longer. */
  v.object({ t: v.literal('replayBack'), host: v.string(), token: v.string() }),
  /** A node that joins asks the others what they keep for gone tokens (answered with a KeptList). */
  v.object({ t: v.literal('replaySync'), sync: v.string() }),
  /** A node stopping gracefully: the others stop waiting for it at once. */
  v.object({ t: v.literal('leaving'), node: v.string() }),
  /** A node now listening on the bus: the others wait for its answers from now on, not from their next heartbeat. */
  v.object({ t: v.literal('joining'), node: v.string() }),
]);

export type ClusterRequest = v.InferOutput<typeof RequestSchema>;

// The bus carries the core's requests, and the two nodes' messages about themselves: the schema must not drift from them.
RequestSchema satisfies v.GenericSchema<unknown, NodeRequest | { t: 'leaving' | 'joining'; node: string }>;

export const BusMessageSchema = v.object({
  /** Empty when nobody waits for answers; a joining carries its process's id prefix (name-clash.ts). */
  id: v.string(),
  from: v.string(),
  /** The sender's name for a message nobody answers, so its own copy is applied on it once (own-copies.ts). */
  mark: v.optional(v.string()),
  /** The sender applied it already (casts from hooks): it skips its own copy. */
  skipSender: v.optional(v.boolean()),
  /**
   * The sender delivered it already, and keeps it for replay when its own
   * copy comes back, so every node keeps frames for gone tokens in bus order.
   */
  echo: v.optional(v.boolean()),
  request: RequestSchema,
});

export type BusMessage = v.InferOutput<typeof BusMessageSchema>;

export const ReplySchema = v.object({ id: v.string(), node: v.string(), result: v.unknown() });

export type Reply = v.InferOutput<typeof ReplySchema>;

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/** The text parsed and checked, or undefined (and why) when it is not a message of ours. */
export function parseWith<T>(schema: v.GenericSchema<unknown, T>, text: string): Checked<T> {
  const json = parsePeerJson(text);
  if (!json.ok) return json;
  return checkWith(schema, json.value);
}

/** A parsed value checked (one message of a batch). */
export function checkWith<T>(schema: v.GenericSchema<unknown, T>, json: unknown): Checked<T> {
  const parsed = v.safeParse(schema, json);
  return parsed.success ? { ok: true, value: parsed.output } : { ok: false, problem: v.summarize(parsed.issues).slice(0, 200) };
}
