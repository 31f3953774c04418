/**
 * Members by user and channel occupancy over every node, in Redis: each
 * first and last (a user's socket in a channel, a channel's node) is decided
 * by one script, so it is told once however many nodes there are. Where the
 * keys are and what the scripts do: member-scripts.ts.
 *
 * Each node also keeps a list of what it put there. A node that stops takes
 * its own entries out; one that dies leaves them, and one survivor (the one
 * that takes the dead node's cleanup lock) takes them out and tells what
 * that changed. A node that starts again under the same name (before any
 * survivor did so) clears what its last run left: each start is a run of its
 * own, so the new run's entries are told apart and left alone.
 *
 * Redis being away never fails a join or a leave: the answer is "nothing
 * changed" and one warning per outage is logged.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import type { MemberStore, OrphanedChange } from '../core/members.ts';
import type { Member } from '../core/protocol.ts';
import type { Logger } from '../ops/log.ts';
import { parseWith } from './messages.ts';
import { ADD, HeldSchema, OCCUPY, REMOVE, VACATE, channelHeld, channelKeys, memberHeld, nodeKeys, nodeRun } from './member-scripts.ts';
import type { Held } from './member-scripts.ts';

interface Scripts<R> {
  wsgateMemberAdd(users: string, user: string, id: string, name: string, info: string): R;
  wsgateMemberRemove(users: string, user: string, id: string, name: string): R;
  wsgateOccupy(nodes: string, node: string): R;
  wsgateVacate(nodes: string, node: string): R;
}
type Pipe = ChainableCommander & Scripts<ChainableCommander>;
/** ioredis types a pipeline's built-in commands without the scripts defined on it, which it has all the same. */
const scripted = (pipe: ChainableCommander): Pipe => pipe as Pipe;

export interface RedisMembersOptions {
  /** The cluster's key prefix (ClusterOptions.prefix). */
  prefix: string;
  /** How long a survivor's claim on a dead node's cleanup holds off the others. */
  cleanupLockMs?: number;
}

/** Scripts and sets sent per round trip when clearing a node's entries. */
const BATCH = 256;

/** Waits a little longer after each failed attempt, up to two seconds (as the cluster's own link does). */
const backoff = (attempt: number): number => Math.min(2000, 50 * 2 ** Math.min(attempt, 6));

/**
 * A connection for the store: commands fail at once while Redis is away (no
 * offline queue) and give up after `commandTimeoutMs`, so a join never waits
 * on a Redis that is gone or hangs.
 */
export function connectMembers(url: string, commandTimeoutMs = 2000): Redis {
  return new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: backoff, commandTimeout: commandTimeoutMs });
}

const encodeInfo = (info: unknown): string => (info === undefined ? '' : JSON.stringify(info));

/** Info as Redis gave it back: '' is none; text that is not JSON is not taken. */
function decodeInfo(text: string): { ok: true; info: unknown } | { ok: false } {
  if (text === '') return { ok: true, info: undefined };
  try {
    return { ok: true, info: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

const memberOf = (user: string, text: string): Member => {
  const decoded = decodeInfo(text);
  return decoded.ok && decoded.info !== undefined ? { user, info: decoded.info } : { user };
};

export class RedisMembers implements MemberStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #lockMs: number;
  readonly #log: Logger;
  #node: string | undefined;
  /** This start of the node: what it holds is told apart from what a run of the same name before it left. */
  readonly #run = randomBytes(6).toString('hex');
  #start!: (node: string) => void;
  /** The node's name, once it is started and the connection was first ready or first failed (until then a call waits rather than fail). */
  readonly #go: Promise<string>;
  /** What the last run of this name left: cleared once, as soon as Redis is there. */
  #leftovers: 'waiting' | 'clearing' | 'cleared' = 'waiting';
  #stopped = false;
  /** Whether the last command failed: one warning per outage. */
  #failing = false;
  /** The user of each of this node's sockets per channel, so a leave needs only the socket. */
  readonly #users = new Map<string, string>();
  readonly #orphaned: Array<(change: OrphanedChange) => void> = [];

  /** `redis`: a connection of the store's own (connectMembers), which stop() closes. */
  constructor(redis: Redis, options: RedisMembersOptions, log: Logger) {
    this.#redis = redis;
    this.#prefix = options.prefix;
    this.#lockMs = options.cleanupLockMs ?? 30_000;
    this.#log = log;
    const started = new Promise<string>((resolve) => (this.#start = resolve));
    // Failures are told by the calls that meet them; without a listener ioredis would print each to stderr.
    redis.on('error', () => {});
    const attempted = new Promise<void>((resolve) => {
      if (redis.status === 'ready') return resolve();
      const events = ['ready', 'error', 'close', 'end'];
      const settled = () => {
        for (const event of events) redis.off(event, settled);
        resolve();
      };
      for (const event of events) redis.on(event, settled);
    });
    // One promise that every call awaits: they reach Redis in the order they were made.
    this.#go = Promise.all([started, attempted]).then(([node]) => node);
    redis.on('ready', () => void this.#clearLeftovers());
    redis.defineCommand('wsgateMemberAdd', { lua: ADD, numberOfKeys: 2 });
    redis.defineCommand('wsgateMemberRemove', { lua: REMOVE, numberOfKeys: 2 });
    redis.defineCommand('wsgateOccupy', { lua: OCCUPY, numberOfKeys: 1 });
    redis.defineCommand('wsgateVacate', { lua: VACATE, numberOfKeys: 1 });
  }

  /**
   * Takes this node's name (known once it listens; calls wait until then) and
   * clears what a run of the same name left behind, alongside this run's own.
   */
  start(node: string): void {
    if (this.#node !== undefined) return;
    this.#node = node;
    this.#start(node);
    void this.#clearLeftovers();
  }

  onOrphaned(listener: (change: OrphanedChange) => void): void {
    this.#orphaned.push(listener);
  }

  async add(host: string, channel: string, socket: string, member: Member): Promise<boolean> {
    this.#users.set(`${host}\n${channel}\n${socket}`, member.user);
    const node = await this.#ready();
    if (node === undefined) return false;
    const keys = channelKeys(this.#prefix, host, channel);
    const held = nodeKeys(this.#prefix, node).held;
    // Listed as held before it is added: a node that dies in between leaves a line that removes nothing, never an entry nobody would remove.
    const replies = await this.#exec('add', (pipe) =>
      scripted(pipe.sadd(held, memberHeld(host, channel, socket, member.user, this.#run))).wsgateMemberAdd(keys.users, keys.user(member.user), `${node}\n${socket}`, member.user, encodeInfo(member.info)),
    );
    return replies?.[1] === 1;
  }

  async remove(host: string, channel: string, socket: string): Promise<Member | undefined> {
    const at = `${host}\n${channel}\n${socket}`;
    const user = this.#users.get(at);
    if (user === undefined) return undefined;
    this.#users.delete(at);
    const node = await this.#ready();
    if (node === undefined) return undefined;
    const keys = channelKeys(this.#prefix, host, channel);
    const held = nodeKeys(this.#prefix, node).held;
    // Taken off the list after it is removed, for the same reason as in add().
    const replies = await this.#exec('remove', (pipe) => pipe.wsgateMemberRemove(keys.users, keys.user(user), `${node}\n${socket}`, user).srem(held, memberHeld(host, channel, socket, user, this.#run)));
    const last = replies?.[0];
    return Array.isArray(last) ? memberOf(user, String(last[0] ?? '')) : undefined;
  }

  async users(host: string, channel: string): Promise<Map<string, unknown>> {
    const users = new Map<string, unknown>();
    if ((await this.#ready()) === undefined) return users;
    const replies = await this.#exec('users', (pipe) => pipe.hgetall(channelKeys(this.#prefix, host, channel).users));
    const found = (replies?.[0] ?? {}) as Record<string, string>;
    for (const [user, text] of Object.entries(found)) {
      const decoded = decodeInfo(text);
      if (decoded.ok) users.set(user, decoded.info);
    }
    return users;
  }

  /** Only this node's own first socket in a channel, or its last, asks Redis: every other join and leave is answered here. */
  occupancy(host: string, channel: string, joined: boolean, here: number): Promise<boolean> {
    if (joined ? here !== 1 : here !== 0) return Promise.resolve(false);
    return this.#occupancy(host, channel, joined);
  }

  async #occupancy(host: string, channel: string, joined: boolean): Promise<boolean> {
    const node = await this.#ready();
    if (node === undefined) return false;
    const nodes = channelKeys(this.#prefix, host, channel).nodes;
    const held = nodeKeys(this.#prefix, node).held;
    const entry = channelHeld(host, channel, this.#run);
    const here = nodeRun(node, this.#run);
    const replies = await this.#exec(joined ? 'occupy' : 'vacate', (pipe) => (joined ? scripted(pipe.sadd(held, entry)).wsgateOccupy(nodes, here) : pipe.wsgateVacate(nodes, here).srem(held, entry)));
    return replies?.[joined ? 1 : 0] === 1;
  }

  /**
   * A node was found gone (Cluster.onNodeGone): the first survivor to claim
   * its cleanup takes its entries out and tells what that changed; the others
   * do nothing. One that beats again by then was restarted: its new run
   * clears what the last one left.
   */
  async nodeGone(node: string): Promise<void> {
    const self = await this.#ready();
    if (self === undefined || node === self) return;
    try {
      // The cluster's set of live nodes (cluster.ts, redis.ts HEARTBEAT).
      if ((await this.#redis.zscore(`${this.#prefix}nodes`, node)) !== null) return;
      const claimed = await this.#redis.set(nodeKeys(this.#prefix, node).cleanup, self, 'PX', this.#lockMs, 'NX');
      if (claimed !== 'OK') return;
      const changes = await this.#clear(node);
      this.#log.info('members of gone node removed', { node, changes: changes.length });
      this.#tell(changes);
    } catch (error) {
      this.#failed('clear gone node', error);
    }
  }

  /** Takes this node's entries out (what its sockets' leaves did not), tells what that changed, and closes the connection. */
  async stop(): Promise<void> {
    const node = this.#node;
    // Calls from now on answer at once: none can add behind the clearing.
    this.#stopped = true;
    if (node !== undefined && this.#redis.status === 'ready') {
      try {
        this.#tell(await this.#clear(node));
      } catch (error) {
        this.#failed('stop', error);
      }
    }
    this.#redis.disconnect();
  }

  /** This node's name once the store may be used, or undefined once it is stopped. */
  async #ready(): Promise<string | undefined> {
    const node = await this.#go;
    return this.#stopped ? undefined : node;
  }

  /**
   * What a run of this name left (it was killed, and no survivor cleared it
   * yet): cleared by this run, which tells what it changed. Its own entries
   * may come meanwhile; they name this run, and are left alone.
   */
  async #clearLeftovers(): Promise<void> {
    const node = this.#node;
    if (node === undefined || this.#stopped || this.#leftovers !== 'waiting' || this.#redis.status !== 'ready') return;
    this.#leftovers = 'clearing';
    try {
      const changes = await this.#clear(node, this.#run);
      this.#leftovers = 'cleared';
      if (changes.length) this.#log.info('members of last run removed', { node, changes: changes.length });
      this.#tell(changes);
    } catch (error) {
      // Again when Redis is back.
      this.#leftovers = 'waiting';
      this.#failed('clear last run', error);
    }
  }

  /**
   * Removes the entries `node` holds (but those of the run `keep`); returns
   * what that changed, the members' departures before the channels' vacancies.
   */
  async #clear(node: string, keep?: string): Promise<OrphanedChange[]> {
    const held = nodeKeys(this.#prefix, node).held;
    const texts = await this.#redis.smembers(held);
    const entries: Array<{ text: string; held?: Held }> = texts
      .map((text) => {
        const parsed = parseWith(HeldSchema, text);
        return parsed.ok ? { text, held: parsed.value } : { text };
      })
      .filter(({ held: entry }) => keep === undefined || entry?.[entry.length - 1] !== keep);
    const order = (entry: { held?: Held }) => (entry.held?.[0] === 'm' ? 0 : entry.held?.[0] === 'o' ? 1 : 2);
    entries.sort((a, b) => order(a) - order(b));
    const changes: OrphanedChange[] = [];
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      const pipe = scripted(this.#redis.pipeline());
      for (const { text, held: entry } of batch) {
        if (entry?.[0] === 'm') {
          const keys = channelKeys(this.#prefix, entry[1], entry[2]);
          pipe.wsgateMemberRemove(keys.users, keys.user(entry[4]), `${node}\n${entry[3]}`, entry[4]);
        } else if (entry?.[0] === 'o') {
          pipe.wsgateVacate(channelKeys(this.#prefix, entry[1], entry[2]).nodes, nodeRun(node, entry[3]));
        } else {
          // Not a line any node writes: dropped, and nothing to undo.
          pipe.echo('');
        }
        pipe.srem(held, text);
      }
      const replies = await this.#replies(pipe);
      batch.forEach(({ held: entry }, j) => {
        const reply = replies[2 * j];
        if (entry?.[0] === 'm' && Array.isArray(reply)) changes.push({ host: entry[1], channel: entry[2], member: memberOf(entry[4], String(reply[0] ?? '')) });
        if (entry?.[0] === 'o' && reply === 1) changes.push({ host: entry[1], channel: entry[2], vacated: true });
      });
    }
    return changes;
  }

  #tell(changes: OrphanedChange[]): void {
    for (const change of changes) {
      for (const listener of this.#orphaned) {
        try {
          listener(change);
        } catch (error) {
          this.#log.error('members orphaned listener failed', { host: change.host, channel: change.channel, error: (error as Error).message });
        }
      }
    }
  }

  /** Runs a pipeline; its replies, or undefined (logged) when Redis failed it. */
  async #exec(op: string, build: (pipe: Pipe) => ChainableCommander): Promise<unknown[] | undefined> {
    try {
      const replies = await this.#replies(build(this.#redis.pipeline() as Pipe));
      if (this.#failing) this.#log.info('members store reachable', { node: this.#node });
      this.#failing = false;
      return replies;
    } catch (error) {
      this.#failed(op, error);
      return undefined;
    }
  }

  async #replies(pipe: ChainableCommander): Promise<unknown[]> {
    const replies = await pipe.exec();
    if (!replies) throw new Error('the pipeline was aborted');
    for (const [error] of replies) if (error) throw error;
    return replies.map(([, value]) => value);
  }

  #failed(op: string, error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#log.warn('members store unreachable', { node: this.#node, op, error: (error as Error).message ?? String(error), note: 'joins and leaves go on; members and channel events are not told meanwhile' });
  }
}
