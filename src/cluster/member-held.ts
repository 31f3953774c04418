/**
 * A node's list of what it holds in the shared member store, put right in
 * batches: entries taken out (a dead node's, a stopped node's, those a run
 * left, those whose sockets left while Redis was away) and entries put back
 * (those Redis lost while this node's sockets stayed). Each goes through the
 * same scripts as a join or a leave, so whatever changed is told once, by
 * whoever changed it.
 */
import { parsePeerJson } from '../core/json.ts';
import type { OrphanedChange } from '../core/members.ts';
import type { Member } from '../core/protocol.ts';
import { parseWith } from './messages.ts';
import { HeldSchema, channelKeys, nodeKeys, nodeRun, runSteps } from './member-scripts.ts';
import type { Call, RedisClient } from './member-scripts.ts';
import type { Held } from './member-scripts.ts';

/** Scripts and list changes sent per round trip. */
const BATCH = 256;

/** A line of a node's list as Redis holds it; `held` when it is one a node writes. */
export interface Listed {
  text: string;
  held?: Held;
}

export const parseListed = (text: string): Listed => {
  const parsed = parseWith(HeldSchema, text);
  return parsed.ok ? { text, held: parsed.value } : { text };
};

export const encodeInfo = (info: unknown): string => (info === undefined ? '' : JSON.stringify(info));

/** Info as Redis gave it back: '' is none; text that is not JSON is not taken. */
export function decodeInfo(text: string): { ok: true; info: unknown } | { ok: false } {
  if (text === '') return { ok: true, info: undefined };
  const json = parsePeerJson(text);
  return json.ok ? { ok: true, info: json.value } : { ok: false };
}

export const memberOf = (user: string, text: string): Member => {
  const decoded = decodeInfo(text);
  return decoded.ok && decoded.info !== undefined ? { user, info: decoded.info } : { user };
};

/**
 * Takes `entries` of `node`'s list out of the store and the list; returns
 * what that changed (a user's last socket gone, a channel's last node), the
 * members' departures before the channels' vacancies. `wanted`, asked as
 * each batch is sent, spares a line that is wanted again by then (a socket
 * that came back to its channel meanwhile); what `told` lines change is
 * not returned (told already: a failover lost their leave).
 */
export async function removeListed(redis: RedisClient, prefix: string, node: string, entries: Listed[], wanted: (text: string) => boolean = () => false, told: (text: string) => boolean = () => false): Promise<OrphanedChange[]> {
  const list = nodeKeys(prefix, node).held;
  const order = ({ held }: Listed) => (held?.[0] === 'm' ? 0 : held?.[0] === 'o' ? 1 : 2);
  const sorted = [...entries].sort((a, b) => order(a) - order(b));
  const changes: OrphanedChange[] = [];
  for (let i = 0; i < sorted.length; i += BATCH) {
    const batch = sorted.slice(i, i + BATCH).filter(({ text }) => !wanted(text));
    if (!batch.length) continue;
    const removals = batch.map(({ held }): Call => {
      if (held?.[0] === 'm') {
        const keys = channelKeys(prefix, held[1], held[2]);
        return ['wsgateMemberRemove', keys.users, keys.user(held[4]), keys.answer(''), `${node}\n${held[3]}`, held[4], 0];
      }
      if (held?.[0] === 'o') {
        const keys = channelKeys(prefix, held[1], held[2]);
        return ['wsgateVacate', keys.nodes, keys.answer(''), nodeRun(node, held[3]), 0];
      }
      // Not a line any node writes: dropped, with nothing to undo.
      return ['echo', ''];
    });
    // Off the list after they are removed: a node that dies in between leaves lines that remove nothing.
    const [answers] = await runSteps(redis, [removals, batch.map(({ text }): Call => ['srem', list, text])]);
    batch.forEach(({ held, text }, j) => {
      const answer = answers![j];
      if (told(text)) return;
      if (held?.[0] === 'm' && Array.isArray(answer)) changes.push({ host: held[1], channel: held[2], member: memberOf(held[4], String(answer[0] ?? '')) });
      if (held?.[0] === 'o' && answer === 1) changes.push({ host: held[1], channel: held[2], vacated: true });
    });
  }
  return changes;
}

/** An entry this node's run should hold, with the info its member brought. */
export interface Mine {
  text: string;
  held: Held;
  info?: unknown;
}

/**
 * Puts `entries` back in the store and the list (Redis lost them: it
 * restarted, or this node was taken for dead); returns what that changed (a
 * user in again, a channel occupied again). `wanted`, asked as each batch is
 * sent, drops an entry whose socket left meanwhile: its leave went first.
 */
export async function restoreMine(redis: RedisClient, prefix: string, node: string, entries: Mine[], wanted: (text: string) => boolean): Promise<OrphanedChange[]> {
  const list = nodeKeys(prefix, node).held;
  const changes: OrphanedChange[] = [];
  for (let i = 0; i < entries.length; i += BATCH) {
    const batch = entries.slice(i, i + BATCH).filter(({ text }) => wanted(text));
    if (!batch.length) continue;
    const additions = batch.map(({ held, info }): Call => {
      const keys = channelKeys(prefix, held[1], held[2]);
      if (held[0] === 'o') return ['wsgateOccupy', keys.nodes, keys.answer(''), nodeRun(node, held[3]), 0];
      return ['wsgateMemberAdd', keys.users, keys.user(held[4]), keys.answer(''), `${node}\n${held[3]}`, held[4], encodeInfo(info), 0];
    });
    // On the list before they are added, as in a join.
    const [, answers] = await runSteps(redis, [batch.map(({ text }): Call => ['sadd', list, text]), additions]);
    batch.forEach(({ held, info }, j) => {
      if (answers![j] !== 1) return;
      if (held[0] === 'm') changes.push({ host: held[1], channel: held[2], member: info === undefined ? { user: held[4] } : { user: held[4], info }, added: true });
      else changes.push({ host: held[1], channel: held[2], occupied: true });
    });
  }
  return changes;
}
