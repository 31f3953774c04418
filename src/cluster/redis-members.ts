/**
 * Members by user and channel occupancy over every node, in Redis: each
 * first and last (a user's socket in a channel, a channel's node) is decided
 * by one script, so it is told once however many nodes there are. Where the
 * keys are and what the scripts do: member-scripts.ts.
 *
 * Each node also lists what it put there, and keeps here what its sockets
 * hold. A node that stops takes its entries out; one that dies leaves them,
 * and one survivor (the one that claims the dead node's cleanup) takes them
 * out and tells what that changed (member-cleanup.ts). Each time the
 * connection comes (up, or back), the node puts its list right
 * (member-sync.ts): what a run of the same name before it left goes, so do
 * entries whose sockets left while Redis was away, and what Redis lost while
 * its sockets stayed comes back.
 *
 * Redis being away never fails a join or a leave: the answer is "nothing
 * changed" and one warning per outage is logged. A call Redis may have
 * run but whose answer was lost (past the command timeout, or the
 * connection dropped mid-call) is asked again, on a retry or the next sync,
 * and gets the answer Redis gave it then (member-asks.ts): a first or last
 * it decided is told then, once. One the node died without is told by
 * whoever clears it, before what the clearing changes (member-unanswered.ts).
 */
import { randomBytes } from 'node:crypto';
import type { MemberStore, OrphanedChange } from '../core/members.ts';
import type { Member } from '../core/protocol.ts';
import type { Logger } from '../ops/log.ts';
import { channelHeld, channelKeys, defineScripts, holdersKey, memberHeld, nodeKeys, nodeRun, runSteps } from './member-scripts.ts';
import type { Call, RedisClient } from './member-scripts.ts';
import { AskAgain } from './member-asks.ts';
import { noteCall, oldNotesTrim, tellUnanswered } from './member-unanswered.ts';
import type { CallKind, Note } from './member-unanswered.ts';
import { decodeInfo, encodeInfo, memberOf, parseListed, removeListed } from './member-held.ts';
import type { Mine } from './member-held.ts';
import { backoff, MemberLink } from './member-connection.ts';
import { clearGone, unseenNodes, whileCleared } from './member-cleanup.ts';
import { ListSync } from './member-sync.ts';
import { Departed } from './member-departed.ts';

export { connectMembers } from './member-connection.ts';

export interface RedisMembersOptions {
  /** The cluster's key prefix (cluster.prefix): the members' keys go under it. */
  prefix: string;
  /** The cluster's set of live nodes (cluster.ts, redis.ts HEARTBEAT). */
  nodesKey: string;
  /** How long a survivor's claim on a dead node's cleanup holds off the others. */
  cleanupLockMs?: number;
  /** How long a node not in the set of nodes has to beat again before a node that joins clears it (the cluster's ttl and two heartbeats). */
  unseenMs?: number;
  /** How long Redis keeps a first or last whose answer the node has not had (it drops it once the node has): how late a lost answer can still be asked for. */
  answerKeepMs?: number;
  /** The most drops of answered calls' notes and answers that wait for a call to go along with (member-asks.ts). */
  maxDrops?: number;
}

export class RedisMembers implements MemberStore {
  readonly #redis: RedisClient;
  readonly #link: MemberLink;
  readonly #prefix: string;
  readonly #nodesKey: string;
  readonly #lockMs: number;
  readonly #unseenMs: number;
  /** End the waits before unseen nodes are cleared, at stop. */
  readonly #unseenWaits = new Set<() => void>();
  readonly #log: Logger;
  #node: string | undefined;
  /** This start of the node: what it holds is told apart from what a run of the same name before it left. */
  readonly #run = randomBytes(6).toString('hex');
  #start!: (node: string) => void;
  /** The node's name, once it is started and the connection was first ready or first failed (until then a call waits rather than fail). */
  readonly #go: Promise<string>;
  #stopped = false;
  readonly #lists: ListSync;
  /** The user of each of this node's sockets per channel, so a leave needs only the socket. */
  readonly #users = new Map<string, string>();
  /** What this run's sockets hold, by the line its list has for it: what the list is put right to. */
  readonly #mine = new Map<string, Mine>();
  /** Lines of #mine whose add has not answered: the add decides them, not a sync (a full channel's answer takes one out). */
  readonly #adding = new Set<string>();
  readonly #orphaned: Array<(change: OrphanedChange) => void> = [];
  readonly #keepMs: number;
  /** Deciding calls so far: each call's answer key names its node, run and number. */
  #calls = 0;
  readonly #asks: AskAgain;
  readonly #departed = new Departed();

  /** `redis`: a connection of the store's own (connectMembers), which stop() closes. */
  constructor(redis: RedisClient, options: RedisMembersOptions, log: Logger) {
    this.#redis = redis;
    this.#link = new MemberLink(redis, log, () => this.#node);
    this.#prefix = options.prefix;
    this.#nodesKey = options.nodesKey;
    this.#lockMs = options.cleanupLockMs ?? 30_000;
    this.#unseenMs = options.unseenMs ?? 7_000;
    this.#keepMs = options.answerKeepMs ?? 3_600_000;
    this.#log = log;
    // With the connection down, ioredis sends nothing (no offline queue): such a call is not one to ask again.
    const run = async (op: string, steps: Call[][]) => (this.#link.ready ? await this.#link.exec(op, steps) : ((await this.#link.exec(op, steps)) ?? ('unsent' as const)));
    this.#asks = new AskAgain({ run, tell: (changes) => this.#tell(changes), retry: () => void this.#sync(), backoff, trim: oldNotesTrim(this.#prefix, this.#keepMs, () => this.#node) }, log, undefined, options.maxDrops);
    this.#lists = new ListSync({ link: this.#link, prefix: this.#prefix, run: this.#run, node: () => this.#node, stopped: () => this.#stopped, mine: this.#mine, adding: this.#adding, asks: this.#asks, departed: this.#departed, tell: (changes) => this.#tell(changes), log });
    const started = new Promise<string>((resolve) => (this.#start = resolve));
    // One promise that every call awaits: they reach Redis in the order they were made.
    this.#go = Promise.all([started, this.#link.attempted]).then(([node]) => node);
    redis.on('ready', () => void this.#sync());
    defineScripts(redis);
  }

  /** Takes this node's name (known once it listens; calls wait until then), and puts its list right. */
  start(node: string): void {
    if (this.#node !== undefined) return;
    this.#node = node;
    this.#start(node);
    void this.#sync();
  }

  /**
   * The node joined the others again (Cluster.joined): after a pause past the
   * ttl, with its connection up all along, a survivor may have cleared what
   * its sockets still hold.
   */
  async rejoined(): Promise<void> {
    const node = await this.#ready();
    // A survivor clearing this node now would take out, after the sync below read the list, what the sync found
    // there: the sync waits until it is done (nodeGone). One that claims it later finds this node back and stops.
    if (node !== undefined) await whileCleared(this.#redis, this.#prefix, node, () => this.#stopped);
    // A survivor's claim on clearing this name outlives the clearing: left, it would spare what this run holds should
    // it die within the claim, and no later word of its going would clear it. In the set of nodes now, no survivor
    // that hears of its last going late takes this run for dead (nodeGone).
    if (node !== undefined) await this.#redis.del(nodeKeys(this.#prefix, node).cleanup).catch(() => {});
    await this.#sync();
    if (node !== undefined) await this.#clearUnseen(node);
  }

  /**
   * Clears the nodes that died with no other node up to see them go (all
   * stopped at once, or the only one killed and started again under another
   * name): only the nodes that saw one live are told it is gone, and the set
   * of nodes forgets it, so nobody else would. Itself named first, so that
   * whoever joins after it dies finds it.
   */
  async #clearUnseen(node: string): Promise<void> {
    let unseen: string[];
    try {
      unseen = await unseenNodes(this.#redis, { prefix: this.#prefix, nodesKey: this.#nodesKey }, node);
    } catch (error) {
      return this.#link.failed('find unseen nodes', error);
    }
    if (!unseen.length) return;
    // A live node missing from the set (Redis lost it, or failed over past the ttl) beats again by then; nodeGone spares it.
    this.#log.info('members of unseen nodes to clear', { node, unseen: unseen.join(','), inMs: this.#unseenMs });
    await new Promise<void>((resolve) => {
      const end = () => (clearTimeout(timer), this.#unseenWaits.delete(end), resolve());
      const timer = setTimeout(end, this.#unseenMs);
      this.#unseenWaits.add(end);
    });
    for (const name of unseen) await this.nodeGone(name);
  }

  onOrphaned(listener: (change: OrphanedChange) => void): void {
    this.#orphaned.push(listener);
  }

  async add(host: string, channel: string, socket: string, member: Member, maxUsers?: number): Promise<boolean | 'full'> {
    const at = `${host}\n${channel}\n${socket}`;
    this.#users.set(at, member.user);
    const line = memberHeld(host, channel, socket, member.user, this.#run);
    this.#mine.set(line, { text: line, held: ['m', host, channel, socket, member.user, this.#run], info: member.info });
    this.#departed.held(line);
    const node = await this.#ready();
    if (node === undefined) return false;
    const keys = channelKeys(this.#prefix, host, channel);
    const noted = this.#note(node, 'add', host, channel, member.user, encodeInfo(member.info));
    const answer = noted.answer;
    const args = [keys.users, keys.user(member.user), answer, `${node}\n${socket}`, member.user, encodeInfo(member.info), this.#keepMs] as const;
    const add: Call = maxUsers === undefined ? ['wsgateMemberAdd', ...args] : ['wsgateMemberAdd', ...args, maxUsers];
    const told: Member = member.info === undefined ? { user: member.user } : { user: member.user, info: member.info };
    const change = (got: unknown) => (got === 1 ? { host, channel, member: told, added: true } : undefined);
    // Listed before it is added: a node that dies in between leaves a line that removes nothing, never an entry nobody would remove.
    this.#adding.add(line);
    const answers = await this.#asks.decide('add', line, { steps: [[noted.call, ['sadd', this.#list(node), line]], [add]], at: [1, 0], answer, noted, change }).finally(() => this.#adding.delete(line));
    if (answers?.[1]?.[0] !== -1) return answers?.[1]?.[0] === 1;
    // Full: nothing was added, so nothing of it is kept, listed or put back.
    this.#users.delete(at);
    this.#mine.delete(line);
    await this.#link.exec('add', [[['srem', this.#list(node), line]]]);
    return 'full';
  }

  async remove(host: string, channel: string, socket: string): Promise<Member | undefined> {
    const at = `${host}\n${channel}\n${socket}`;
    const user = this.#users.get(at);
    if (user === undefined) return undefined;
    this.#users.delete(at);
    const line = memberHeld(host, channel, socket, user, this.#run);
    this.#mine.delete(line);
    const node = await this.#ready();
    if (node === undefined) return undefined;
    const keys = channelKeys(this.#prefix, host, channel);
    const noted = this.#note(node, 'remove', host, channel, user);
    const answer = noted.answer;
    // Each departure told is noted: should a failover lose this leave, the sync takes the line out unsaid (member-departed.ts).
    const change = (got: unknown) => (Array.isArray(got) ? (this.#departed.told(line), { host, channel, member: memberOf(user, String(got[0] ?? '')) }) : undefined);
    // Off the list after it is removed, for the same reason as in add().
    const steps: Call[][] = [[noted.call, ['wsgateMemberRemove', keys.users, keys.user(user), answer, `${node}\n${socket}`, user, this.#keepMs]], [['srem', this.#list(node), line]]];
    const answers = await this.#asks.decide('remove', line, { steps, at: [0, 1], answer, noted, change });
    const last = answers?.[0]?.[1];
    if (!Array.isArray(last)) return undefined;
    this.#departed.told(line);
    return memberOf(user, String(last[0] ?? ''));
  }

  async users(host: string, channel: string): Promise<Map<string, unknown>> {
    const users = new Map<string, unknown>();
    if ((await this.#ready()) === undefined) return users;
    const answers = await this.#link.exec('users', [[['hgetall', channelKeys(this.#prefix, host, channel).users]]]);
    const found = (answers?.[0]?.[0] ?? {}) as Record<string, string>;
    for (const [user, text] of Object.entries(found)) {
      const decoded = decodeInfo(text);
      if (decoded.ok) users.set(user, decoded.info);
    }
    return users;
  }

  /** Only this node's own first socket in a channel, or its last, asks Redis: every other join and leave is answered here. */
  occupancy(host: string, channel: string, joined: boolean, here: number): Promise<boolean> {
    if (joined ? here !== 1 : here !== 0) return Promise.resolve(false);
    const line = channelHeld(host, channel, this.#run);
    if (joined) this.#mine.set(line, { text: line, held: ['o', host, channel, this.#run] });
    else this.#mine.delete(line);
    if (joined) this.#departed.held(line);
    return this.#occupancy(host, channel, joined, line);
  }

  async #occupancy(host: string, channel: string, joined: boolean, line: string): Promise<boolean> {
    const node = await this.#ready();
    if (node === undefined) return false;
    const keys = channelKeys(this.#prefix, host, channel);
    const noted = this.#note(node, joined ? 'occupy' : 'vacate', host, channel);
    const listed: Call = [joined ? 'sadd' : 'srem', this.#list(node), line];
    const decided: Call = [joined ? 'wsgateOccupy' : 'wsgateVacate', keys.nodes, noted.answer, nodeRun(node, this.#run), this.#keepMs];
    const change = (got: unknown) => (got !== 1 ? undefined : joined ? { host, channel, occupied: true } : (this.#departed.told(line), { host, channel, vacated: true }));
    // On the list before it is occupied, off it after it is vacated, as in add() and remove().
    const steps: Call[][] = joined ? [[noted.call, listed], [decided]] : [[noted.call, decided], [listed]];
    const at = joined ? ([1, 0] as const) : ([0, 1] as const);
    const answers = await this.#asks.decide(joined ? 'occupy' : 'vacate', line, { steps, at, answer: noted.answer, noted, change });
    const news = answers?.[at[0]]?.[at[1]] === 1;
    if (news && !joined) this.#departed.told(line);
    return news;
  }

  /**
   * A node was found gone (Cluster.onNodeGone): the first survivor to claim
   * its cleanup takes its entries out and tells what that changed; the others
   * do nothing. One that beats again by then was restarted: its new run puts
   * its list right itself.
   */
  async nodeGone(node: string): Promise<void> {
    const self = await this.#ready();
    if (self === undefined || node === self) return;
    try {
      const cleared = await clearGone(this.#redis, { prefix: this.#prefix, nodesKey: this.#nodesKey, lockMs: this.#lockMs }, self, node);
      if (!cleared) return;
      const { changes, listed } = cleared;
      if (listed) this.#log.info('members of gone node removed', { node, changes: changes.length });
      this.#tell(changes);
    } catch (error) {
      this.#link.failed('clear gone node', error);
    }
  }

  /** Takes this node's entries out (what its sockets' leaves did not), tells what that changed, and closes the connection. */
  async stop(): Promise<void> {
    const node = this.#node;
    // Calls from now on answer at once: none can add behind the clearing.
    this.#stopped = true;
    this.#asks.stop();
    for (const end of [...this.#unseenWaits]) end();
    if (node !== undefined && this.#redis.status === 'ready') {
      try {
        // What a lost answer decided is told before what the clearing does.
        this.#tell(await this.#asks.askAll());
        const drops = this.#asks.drops();
        if (drops.length) await runSteps(this.#redis, [drops]);
        this.#tell(await tellUnanswered(this.#redis, this.#prefix, node));
        const listed = (await this.#redis.smembers(this.#list(node))).map(parseListed);
        this.#tell(await removeListed(this.#redis, this.#prefix, node, listed));
        await this.#redis.srem(holdersKey(this.#prefix), node);
      } catch (error) {
        this.#link.failed('stop', error);
      }
    }
    this.#redis.disconnect();
  }

  #list(node: string): string {
    return nodeKeys(this.#prefix, node).held;
  }

  /** A deciding call's answer key, and its note among the node's unanswered calls, to go in the call's first step. */
  #note(node: string, kind: CallKind, host: string, channel: string, user = '', info = ''): Note {
    return noteCall(this.#prefix, node, kind, host, channel, user, info, this.#run, ++this.#calls);
  }

  /** This node's name once the store may be used, or undefined once it is stopped. */
  async #ready(): Promise<string | undefined> {
    const node = await this.#go;
    return this.#stopped ? undefined : node;
  }

  /** Puts this node's list right (member-sync.ts). */
  #sync(): Promise<void> {
    return this.#lists.sync();
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
}
