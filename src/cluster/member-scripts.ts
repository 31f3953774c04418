/**
 * The Redis side of the shared member store (redis-members.ts): where each
 * thing is kept, and the scripts that decide, each in one step, whether a
 * user or a channel came or went.
 *
 * Per channel (all under one hash tag, so a Redis Cluster keeps a channel's
 * keys in one slot and each script stays on one node):
 * - `users`: a hash of user -> its info as JSON ('' for none);
 * - `user:<user>`: a set of `node\nsocket`, the user's sockets there;
 * - `nodes`: a set of the nodes with sockets there (each as `node\nrun`);
 * - `answer:<call>`: a first or last a node's call decided, kept until the
 *   node has its answer (a while at most), so that a call whose answer was
 *   lost (a timeout after Redis ran it, a connection dropped mid-call) gets
 *   the same answer when it is asked again (member-asks.ts). Its teller
 *   marks it (CLAIM, TAKE), so that the node and a survivor clearing it
 *   never both tell it.
 * Per node, under its own tag: `held`, what it put in the above (so that
 * whoever outlives it can take it out), `unanswered`, its calls whose answer
 * it has not had yet (so that whoever outlives it tells what they decided:
 * member-unanswered.ts), and `cleanup`, the lock that lets one survivor do so.
 */
import { Buffer } from 'node:buffer';
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import * as v from 'valibot';

/**
 * Host, channel, user and node names may hold ':', '{' or '}': encoded, no
 * name can end a key part or a hash tag early. A name with a lone surrogate
 * (which encodeURIComponent refuses) is spelt in hex after '%%', which no
 * encoded name holds, so no two names share a key.
 */
function part(name: string): string {
  try {
    return encodeURIComponent(name);
  } catch {
    return `%%${Buffer.from(name, 'utf16le').toString('hex')}`;
  }
}

export interface ChannelKeys {
  users: string;
  nodes: string;
  user(user: string): string;
  /** Where a call's answer is kept; '' for a call that keeps none (a key of the channel's slot all the same). */
  answer(call: string): string;
}

export function channelKeys(prefix: string, host: string, channel: string): ChannelKeys {
  const base = `${prefix}members:{${part(host)}:${part(channel)}}:`;
  return { users: `${base}users`, nodes: `${base}nodes`, user: (user) => `${base}user:${part(user)}`, answer: (call) => `${base}answer:${part(call)}` };
}

/**
 * The names of the nodes that joined since they were last cleared: a node
 * that died while no other was up to see it go is found there by the next
 * to join.
 */
export const holdersKey = (prefix: string): string => `${prefix}members:holders`;

export function nodeKeys(prefix: string, node: string): { held: string; unanswered: string; cleanup: string } {
  const base = `${prefix}members:node:{${part(node)}}:`;
  return { held: `${base}held`, unanswered: `${base}unanswered`, cleanup: `${base}cleanup` };
}

/**
 * What a node holds, with the run (one start of the node) that put it there:
 * a socket of a user in a channel, or the run's place among a channel's
 * nodes. A node that starts again under the same name clears its last run's
 * entries while its new ones come, so each names its run.
 */
export const HeldSchema = v.union([
  v.tuple([v.literal('m'), v.string(), v.string(), v.string(), v.string(), v.string()]),
  v.tuple([v.literal('o'), v.string(), v.string(), v.string()]),
]);
export type Held = v.InferOutput<typeof HeldSchema>;

export const memberHeld = (host: string, channel: string, socket: string, user: string, run: string): string => JSON.stringify(['m', host, channel, socket, user, run]);
export const channelHeld = (host: string, channel: string, run: string): string => JSON.stringify(['o', host, channel, run]);

/** A run's place in a channel's set of nodes: its node's name and the run, so the runs of one name never take each other's place. */
export const nodeRun = (node: string, run: string): string => `${node}\n${run}`;

/**
 * Marks on a kept answer, which no answer starts with (info is JSON, the
 * rest '1'): told by the node (the answer follows), or by a survivor that
 * cleared the node. A node tells a first or last only once it has claimed
 * it: its reply may come, or it may ask again, after a survivor that took
 * it for dead told it.
 */
const CLAIMED = '\nclaimed\n';
const TAKEN = '\ntaken';
/** Written into a script's Lua string literals: a line break as Lua reads it. */
const inLua = (text: string): string => text.replace(/\n/g, '\\n');
const CLAIMED_LUA = inLua(CLAIMED);
const TAKEN_LUA = inLua(TAKEN);

/**
 * Each script first gives back the answer kept under its call's key (the
 * call ran before and its answer was lost), and keeps a first or a last it
 * decides there for `keep` ms (0: keeps none). Only news is kept: asked
 * again, a call that changed nothing changes nothing again and says so.
 */
const KEPT = (key: string, wrap: string) => `
local kept = redis.call('GET', ${key})
if kept == '${TAKEN_LUA}' then
  redis.call('DEL', ${key})
  kept = nil
end
if kept and string.sub(kept, 1, ${CLAIMED.length}) == '${CLAIMED_LUA}' then kept = string.sub(kept, ${CLAIMED.length + 1}) end
if kept then return ${wrap} end
`;

/**
 * KEYS: users hash, the user's set, the call's answer; ARGV: `node\nsocket`,
 * user, info, keep, and the most users the channel may hold (optional; 0 or
 * absent: no bound). 1 when the user had no socket there before; -1, and
 * nothing added, when it had none and the channel holds its most: counted
 * and added in one step, users joining on several nodes at once cannot all
 * get in.
 */
export const ADD = `${KEPT('KEYS[3]', 'tonumber(kept)')}
local before = redis.call('SCARD', KEYS[2])
local most = tonumber(ARGV[5] or '0')
if before == 0 and most > 0 and redis.call('HLEN', KEYS[1]) >= most then return -1 end
redis.call('SADD', KEYS[2], ARGV[1])
if before > 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[3], '1', 'PX', ARGV[4]) end
return 1
`;

/**
 * KEYS: users hash, the user's set, the call's answer; ARGV: `node\nsocket`,
 * user, keep. The user's info (in a one-element array, '' when it had none)
 * when that was its last socket there; nil otherwise, and when the socket
 * was not there (gone already: whoever took it out said so).
 */
export const REMOVE = `${KEPT('KEYS[3]', '{kept}')}
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then return nil end
if redis.call('SCARD', KEYS[2]) > 0 then return nil end
local info = redis.call('HGET', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[2])
if not info then info = '' end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[3], info, 'PX', ARGV[3]) end
return {info}
`;

/** KEYS: the channel's nodes, the call's answer; ARGV: node, keep. 1 when it is the first node there (one that was there already changes nothing). */
export const OCCUPY = `${KEPT('KEYS[2]', '1')}
local before = redis.call('SCARD', KEYS[1])
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 or before > 0 then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[2]) end
return 1
`;

/** KEYS: the channel's nodes, the call's answer; ARGV: node, keep. 1 when it was the last node there (one that was not there changes nothing). */
export const VACATE = `${KEPT('KEYS[2]', '1')}
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 or redis.call('SCARD', KEYS[1]) > 0 then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[2]) end
return 1
`;

/**
 * KEYS: a call's answer. The answer kept there, for a survivor clearing the
 * call's node, marked taken in the same step; nil when there is none or it
 * was told already. Whoever marks it is the only one to tell it; a node
 * that asks the call again then decides it afresh (KEPT).
 */
export const TAKE = `
local kept = redis.call('GET', KEYS[1])
if not kept or kept == '${TAKEN_LUA}' or string.sub(kept, 1, ${CLAIMED.length}) == '${CLAIMED_LUA}' then return nil end
redis.call('SET', KEYS[1], '${TAKEN_LUA}', 'KEEPTTL')
return kept
`;

/**
 * KEYS: a call's answer. 1, and the answer marked told by its node, unless a
 * survivor took it (0). Asked again after a lost reply, it is still the
 * node's; gone (expired), nobody else can tell it.
 */
export const CLAIM = `
local kept = redis.call('GET', KEYS[1])
if kept == '${TAKEN_LUA}' then return 0 end
if kept and string.sub(kept, 1, ${CLAIMED.length}) ~= '${CLAIMED_LUA}' then redis.call('SET', KEYS[1], '${CLAIMED_LUA}' .. kept, 'KEEPTTL') end
return 1
`;

/** One command of the store: a Redis command or one of the scripts below (defineScripts), with its arguments. */
export type Call =
  | ['sadd' | 'srem', string, string]
  | ['zadd', string, 'NX', number, string]
  | ['zrem', string, ...string[]]
  | ['zremrangebyscore', string, min: string, max: string]
  | ['del', string]
  | ['wsgateTakeAnswer' | 'wsgateClaimAnswer', answer: string]
  | ['hgetall', string]
  | ['echo', string]
  | ['wsgateMemberAdd', users: string, user: string, answer: string, id: string, name: string, info: string, keep: number]
  | ['wsgateMemberAdd', users: string, user: string, answer: string, id: string, name: string, info: string, keep: number, most: number]
  | ['wsgateMemberRemove', users: string, user: string, answer: string, id: string, name: string, keep: number]
  | ['wsgateOccupy' | 'wsgateVacate', nodes: string, answer: string, node: string, keep: number];

export type RedisClient = Redis | Cluster;

/** The scripts as commands of the connection: each sent whole once per connection, then by its SHA. */
export function defineScripts(redis: RedisClient): void {
  redis.defineCommand('wsgateMemberAdd', { lua: ADD, numberOfKeys: 3 });
  redis.defineCommand('wsgateMemberRemove', { lua: REMOVE, numberOfKeys: 3 });
  redis.defineCommand('wsgateOccupy', { lua: OCCUPY, numberOfKeys: 2 });
  redis.defineCommand('wsgateVacate', { lua: VACATE, numberOfKeys: 2 });
  redis.defineCommand('wsgateTakeAnswer', { lua: TAKE, numberOfKeys: 1 });
  redis.defineCommand('wsgateClaimAnswer', { lua: CLAIM, numberOfKeys: 1 });
}

/** A pipeline, or the client itself, as a table of its commands: the scripts are there too, defined at run time. */
type Commands = Record<Call[0], (...args: Array<string | number>) => unknown>;

/**
 * Runs `steps` in their order and gives each one's replies, or throws the
 * first error. A step's commands may touch different channels' keys and the
 * node's list: on one Redis they all go as one pipeline, which Redis runs in
 * order; on a Redis Cluster those keys live on different masters, which no
 * pipeline spans, so a step's commands go each to its own master at once and
 * the next step waits for them. Either way nothing of a step is run before
 * the step ahead of it.
 */
export async function runSteps(redis: RedisClient, steps: Call[][]): Promise<unknown[][]> {
  if (redis instanceof Cluster) {
    const answers: unknown[][] = [];
    const client = redis as unknown as Commands;
    for (const step of steps) answers.push(await Promise.all(step.map(([name, ...args]) => client[name](...args))));
    return answers;
  }
  const pipe = redis.pipeline();
  const commands = pipe as unknown as Commands;
  for (const step of steps) for (const [name, ...args] of step) commands[name](...args);
  const replies = await pipe.exec();
  if (!replies) throw new Error('the pipeline was aborted');
  for (const [error] of replies) if (error) throw error;
  const values = replies.map(([, value]) => value);
  let at = 0;
  return steps.map((step) => values.slice(at, (at += step.length)));
}

/**
 * On a Redis Cluster, the store's writes one after another: runSteps waits
 * for each step there, so the steps of two calls would interleave, and a
 * socket's leave could overtake its own join (its entry left in the store
 * with no line on the node's list, which nobody would ever take out). On
 * one Redis every call is one pipeline on one connection, in order already.
 */
export function writesInOrder(redis: RedisClient): <T>(work: () => Promise<T>) => Promise<T> {
  if (!(redis instanceof Cluster)) return (work) => work();
  let order: Promise<void> = Promise.resolve();
  return (work) => {
    const run = order.then(work, work);
    order = run.then(
      () => {},
      () => {},
    );
    return run;
  };
}
