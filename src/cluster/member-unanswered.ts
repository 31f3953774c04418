/**
 * A node's deciding calls whose answer it has not had yet, noted in Redis
 * (the node's `unanswered`, member-scripts.ts) by the call's first step and
 * taken off once the answer came (member-asks.ts). A node that dies with
 * such a call leaves its note there, and the answer Redis kept for it:
 * whoever clears the node (a survivor's nodeGone, a stop, the next run of
 * its name) takes each kept answer in one step and tells what it decided,
 * before the clearing tells what it changes. So an arrival the dead node
 * never told comes before its departure, and a last its lost remove decided
 * is told at all; marked taken, neither is told again, by another survivor
 * or by the node should it come back (it claims an answer before it tells
 * it, member-asks.ts); one the node claimed is not taken.
 */
import * as v from 'valibot';
import type { OrphanedChange } from '../core/members.ts';
import { memberOf } from './member-held.ts';
import { channelKeys, nodeKeys, runSteps } from './member-scripts.ts';
import type { Call, RedisClient } from './member-scripts.ts';
import { parseWith } from './messages.ts';

export type CallKind = 'add' | 'remove' | 'occupy' | 'vacate';

/** kind, host, channel, user ('' for a channel's call), the info an add brought (as kept, '' for none), run, the call's number in its run. */
const NotedSchema = v.tuple([v.picklist(['add', 'remove', 'occupy', 'vacate']), v.string(), v.string(), v.string(), v.string(), v.string(), v.pipe(v.number(), v.integer())]);
type Noted = v.InferOutput<typeof NotedSchema>;

/** Notes read and answers taken per round trip. */
const PAGE = 256;

/** Where a node's call keeps its answer: in its channel's slot, named for the node, its run and the call's number, so no two calls share it. */
const answerKey = (prefix: string, [, host, channel, , , run, n]: Noted, node: string): string => channelKeys(prefix, host, channel).answer(`${node}\n${run}\n${n}`);

/** A deciding call's answer key and its note: `call` puts the note in the node's set, `key` and `entry` take it off. */
export interface Note {
  answer: string;
  key: string;
  entry: string;
  call: Call;
}

export function noteCall(prefix: string, node: string, ...noted: Noted): Note {
  const key = nodeKeys(prefix, node).unanswered;
  const entry = JSON.stringify(noted);
  // NX: asked again, the call keeps its place among the node's calls (an arrival is told before its departure).
  return { answer: answerKey(prefix, noted, node), key, entry, call: ['zadd', key, 'NX', Date.now(), entry] };
}

/**
 * The notes of `node` older than `keepMs` tell nothing, their answers
 * expired: a burst of calls past the node's list of drops (member-asks.ts)
 * leaves notes nobody would take off while the node runs. Trimmed by score
 * along with a call the node makes anyway (no round trip of its own), at
 * most once per keep time and at least once a minute. A trimmed note whose
 * call is asked again comes back with it (its first step notes it again).
 */
export function oldNotesTrim(prefix: string, keepMs: number, nodeNow: () => string | undefined): () => Call[] {
  const every = Math.min(Math.max(keepMs, 100), 60_000);
  let last = 0;
  return () => {
    const now = Date.now();
    const node = nodeNow();
    if (node === undefined || now - last < every) return [];
    last = now;
    return [['zremrangebyscore', nodeKeys(prefix, node).unanswered, '-inf', `(${now - keepMs}`]];
  };
}

/** What a kept answer (as GET gives it) says its call decided. */
function decided([kind, host, channel, user, info]: Noted, kept: unknown): OrphanedChange | undefined {
  if (typeof kept !== 'string') return undefined;
  if (kind === 'remove') return { host, channel, member: memberOf(user, kept) };
  if (kept !== '1') return undefined;
  if (kind === 'add') return { host, channel, member: memberOf(user, info), added: true };
  return kind === 'occupy' ? { host, channel, occupied: true } : { host, channel, vacated: true };
}

/**
 * Takes out the kept answers of `node`'s noted calls (those of the runs
 * `which` picks; all by default) and their notes; returns what those calls
 * decided, in the order they were made. A note that is not one a node
 * writes goes with nothing told.
 */
export async function tellUnanswered(redis: RedisClient, prefix: string, node: string, which: (run: string) => boolean = () => true): Promise<OrphanedChange[]> {
  const key = nodeKeys(prefix, node).unanswered;
  // A node notes at most its lost calls (bounded, member-asks.ts) and those whose answer it had a moment ago.
  const found: Array<{ text: string; at: number; noted?: Noted }> = [];
  for (let start = 0; ; start += PAGE) {
    const page = await redis.zrange(key, String(start), String(start + PAGE - 1), 'WITHSCORES');
    for (let i = 0; i + 1 < page.length; i += 2) {
      const parsed = parseWith(NotedSchema, page[i]!);
      found.push({ text: page[i]!, at: Number(page[i + 1]), ...(parsed.ok ? { noted: parsed.value } : {}) });
    }
    if (page.length < PAGE * 2) break;
  }
  const picked = found.filter(({ noted }) => noted === undefined || which(noted[5]));
  picked.sort((a, b) => a.at - b.at || (a.noted?.[6] ?? 0) - (b.noted?.[6] ?? 0));
  const changes: OrphanedChange[] = [];
  for (let i = 0; i < picked.length; i += PAGE) {
    const batch = picked.slice(i, i + PAGE);
    const takes = batch.map(({ noted }): Call => (noted ? ['wsgateTakeAnswer', answerKey(prefix, noted, node)] : ['echo', '']));
    // Notes after their answers: one who dies in between leaves notes whose answers are gone, which tell nothing.
    const [answers] = await runSteps(redis, [takes, [['zrem', key, ...batch.map(({ text }) => text)]]]);
    batch.forEach(({ noted }, j) => {
      const change = noted && decided(noted, answers![j]);
      if (change) changes.push(change);
    });
  }
  return changes;
}
