/**
 * Several gateways acting as one, over Redis. A bridge request taken by any
 * node goes on the bus; every live node (the taker too, on its own copy, so
 * all see the same order) applies it to its own sockets and answers; the
 * taker sums the answers, and says which nodes did not answer in time.
 * Each node beats into one sorted set in Redis, by Redis's clock, so the live
 * nodes are known, and a dead node drops out within the ttl.
 *
 * Without Redis the node goes on alone: it applies requests locally, says
 * it is degraded (and why), and rejoins when Redis is back.
 *
 * What comes back on the bus is read in bus-inbox.ts; which nodes count as
 * live is live-nodes.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../ops/log.ts';
import type { BusMessage, ClusterRequest } from './messages.ts';
import { Outbox } from './outbox.ts';
import { BusInbox } from './bus-inbox.ts';
import { LiveNodes } from './live-nodes.ts';
import { NameClash } from './name-clash.ts';
import { OwnCopies } from './own-copies.ts';
import { WaitingRequests } from './waiting-requests.ts';
import type { NumberedStream, RedisLink } from './redis.ts';
import type { StoredStream } from '../core/history/history.ts';
import { withinMs } from '../core/deadline.ts';

/** Stands in for the position in a numbered message until Redis fills it in. */
const POSITION = '\u0000position\u0000';

export interface ClusterOptions {
  node: string;
  /** Key and channel prefix, so clusters can share a Redis. */
  prefix: string;
  heartbeatMs: number;
  /** A node whose heartbeat is older than this is gone. */
  ttlMs: number;
  /** How long a request waits for the other nodes' answers. */
  deadlineMs: number;
}

export interface Gathered {
  /** Each answering node's result, this node's first. */
  results: Map<string, unknown>;
  /** Live nodes that did not answer within the deadline. */
  missing: string[];
  /** Why only this node answered, when Redis is away. */
  degraded?: string;
}

export class Cluster {
  readonly node: string;
  readonly #link: RedisLink;
  readonly #options: ClusterOptions;
  readonly #log: Logger;
  /** `own`: this node sent the request (its own copy, back from the bus); `echo`: it delivered it already (see notify()). */
  readonly #apply: (request: ClusterRequest, own: boolean, echo?: boolean) => unknown;
  readonly #waiting: WaitingRequests;
  /** What this node put on the bus, so that each is applied on it once though its PUBLISH failed. */
  readonly #own: OwnCopies;
  /** What this node publishes within two turns goes out together (outbox.ts). */
  readonly #outbox: Outbox;
  /** Request ids: unique to this process (its prefix) without a random draw per request. */
  readonly #idPrefix = randomBytes(6).toString('base64url');
  #idSeq = 0;
  #up = false;
  #reason = 'connecting to Redis';
  readonly #nodes: LiveNodes;
  readonly #inbox: BusInbox;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  /** A node is announced only once it listens on the bus: before, it would miss requests it is expected to answer. */
  #subscribed = false;
  #beating = false;
  /** Whether the others were told this node is here, since the link last came up. */
  #announced = false;
  /** Bridge requests gathered over Redis: how many, their summed round trip, and those some node missed. */
  readonly stats = { requests: 0, seconds: 0, incomplete: 0, degraded: 0 };
  /** Runs each time the others have been told this node is here (at start, after Redis comes back, and after it had dropped out of the set of nodes). */
  joined: () => void = () => {};
  /** Another live process under this node's name, once one is heard. */
  readonly #clash: NameClash;

  constructor(link: RedisLink, options: ClusterOptions, log: Logger, apply: (request: ClusterRequest, own: boolean, echo?: boolean) => unknown) {
    this.#link = link;
    this.#options = options;
    this.#log = log;
    this.#apply = apply;
    this.node = options.node;
    this.#waiting = new WaitingRequests(options.deadlineMs);
    this.#own = new OwnCopies(options.deadlineMs);
    this.#clash = new NameClash(options.node, log, options.ttlMs);
    this.#nodes = new LiveNodes(options.node, log, options, (node) => this.#link.isNode(`${options.prefix}nodes`, node));
    this.#outbox = new Outbox((channel, text) => this.#link.publish(channel, text));
    this.#inbox = new BusInbox({
      node: options.node,
      idPrefix: this.#idPrefix,
      own: this.#own,
      clash: this.#clash,
      waiting: this.#waiting,
      apply,
      joining: (node) => this.#nodes.joining(node),
      leaving: (node) => void this.#nodes.leaving(node),
      reply: (to, text) => this.#outbox.write(`${options.prefix}reply:${to}`, text),
      log,
    });
    link.onState((state, reason) => {
      if (this.#stopped) return;
      if (state === 'up') {
        this.#up = true;
        this.#log.always('cluster joined', { node: this.node });
        void this.#beat();
      } else {
        const first = this.#up || this.#reason === 'connecting to Redis';
        this.#up = false;
        this.#announced = false;
        this.#reason = `Redis unreachable: ${reason ?? 'connection lost'}`;
        // Once per outage, not once per retry.
        if (first) this.#log.error('cluster degraded', { node: this.node, reason: this.#reason });
      }
    });
  }

  get up(): boolean {
    return this.#up;
  }

  get reason(): string | undefined {
    return this.#up ? undefined : this.#reason;
  }

  /** Why this node's answers cannot be trusted though Redis is up: another live process goes by its name. */
  get problem(): string | undefined {
    return this.#clash.problem;
  }

  /** Requests waiting for other nodes' answers now: none once a burst or an outage is over. */
  get pending(): number {
    return this.#waiting.size;
  }

  /** Live nodes as of the last heartbeat, this one included. */
  nodes(): string[] {
    return [...this.#nodes.expected()];
  }

  /** `listener` is told of each node found gone (its heartbeat older than the ttl), once per going. */
  onNodeGone(listener: (node: string) => void): void {
    this.#nodes.onGone(listener);
  }

  /** Starts listening and beating; does not wait for Redis, which may come later (the node serves alone meanwhile). */
  start(): void {
    const { prefix } = this.#options;
    this.#heartbeat = setInterval(() => void this.#beat(), this.#options.heartbeatMs);
    this.#link
      .subscribe([`${prefix}bus`, `${prefix}reply:${this.node}`], (channel, text) => {
        if (channel === `${prefix}bus`) this.#inbox.fromBus(text);
        else this.#inbox.fromReplies(text);
      })
      .then(() => {
        this.#subscribed = true;
        return this.#beat();
      })
      .catch((error: Error) => this.#log.error('cluster subscribe failed', { node: this.node, error: error.message }));
  }

  /** Sends a request to every live node and gathers their answers (this node's applied on its copy from the bus). */
  async request(request: ClusterRequest, numbered?: NumberedStream): Promise<Gathered> {
    // Not yet listening on the bus: its own copy would not come back to it.
    if (!this.#up || !this.#subscribed) return this.#alone(request, this.#up ? 'not yet subscribed to the cluster bus' : this.#reason);
    const started = performance.now();
    const id = this.#newId();
    const expected = this.#nodes.expected();
    const { results, done } = this.#waiting.wait(id, expected);
    let failed: Error | undefined;
    this.#publish({ id, from: this.node, request }, numbered, (error, back) => {
      // The other nodes' answers would come through the Redis that failed: it waits no longer. Past its deadline its caller
      // was told this node did not answer: its copy, should Redis have carried it out, applies it.
      if (this.#waiting.finish(id) && !back) failed = error;
      return failed !== undefined;
    });
    await done;
    if (failed) return this.#alone(request, `Redis publish failed: ${failed.message}`);
    const missing = [...expected].filter((node) => !results.has(node));
    this.stats.requests++;
    this.stats.seconds += (performance.now() - started) / 1000;
    if (missing.length) this.stats.incomplete++;
    // This node first: its answer is the one it would give alone.
    const ordered = new Map([...results].sort(([a], [b]) => Number(b === this.node) - Number(a === this.node)));
    return { results: ordered, missing };
  }

  /**
   * Puts a message on the bus, with what this turn writes besides. A
   * numbered request goes through Redis's script, which puts its position
   * in (`position` stands in for it here); what waits in the outbox goes
   * first, so the bus keeps the order the node wrote in. Should its PUBLISH
   * fail, `failed` is told whether its own copy is back; true: it applied it
   * here after all, and the copy is dropped should it still come.
   */
  #publish(message: BusMessage, numbered: NumberedStream | undefined, failed: (error: Error, back: boolean) => boolean): void {
    // Nobody answers a message without an id: a mark tells its own copy apart.
    const mark = message.id || (message.mark = this.#newId());
    this.#own.published(mark);
    const settled = (error?: Error) =>
      error ? failed(error, !this.#own.failed(mark)) && this.#own.appliedAlone(mark) : this.#own.carried(mark);
    const channel = `${this.#options.prefix}bus`;
    if (!numbered || message.request.t !== 'cast') return this.#outbox.write(channel, JSON.stringify(message), settled);
    const text = JSON.stringify({ ...message, request: { ...message.request, position: POSITION } });
    const [head, tail] = text.split(JSON.stringify(POSITION)) as [string, string];
    this.#outbox.flush();
    this.#link.publishNumbered({ ...numbered, key: `${this.#options.prefix}history:${numbered.key}` }, message.request.frame, channel, head, tail).then(({ replaced }) => (replaced !== undefined && this.#log.warn('cluster stream epoch replaced', { node: this.node, stream: numbered.key, reason: `Redis held an epoch wsgate does not make (${replaced.length} characters)` }), settled()), settled);
  }

  /** Unique to this process (its prefix) without a random draw per message. */
  #newId(): string {
    return `${this.#idPrefix}${(++this.#idSeq).toString(36)}`;
  }

  /**
   * Sends a request every node applies on receipt, this one too, without waiting for answers; false when it cannot now.
   * Should Redis fail it before its copy is back, `failed` runs: the caller delivers it here after all.
   */
  send(request: ClusterRequest, numbered: NumberedStream | undefined, failed: () => void): boolean {
    if (!this.#up || !this.#subscribed) return false;
    this.#publish({ id: '', from: this.node, request }, numbered, (_, back) => !back && (failed(), true));
    return true;
  }

  /** What Redis holds of a numbered stream after `after`; undefined when Redis cannot say now. */
  async readStream(key: string, after: number): Promise<StoredStream | undefined> {
    if (!this.#up) return undefined;
    try {
      // A Redis that hangs must not hold the upgrades that wait for it: past the deadline, the client is told it was not recovered.
      return await withinMs(this.#link.readStream(`${this.#options.prefix}history:${key}`, after), this.#options.deadlineMs);
    } catch {
      return undefined;
    }
  }

  /**
   * Tells the other nodes of something this node already did (casts from
   * hooks); nobody answers. False when Redis is away. With `echo`, this
   * node's own copy comes back too (see BusMessage.echo), and `failed` runs
   * should the publish fail on the way.
   */
  notify(request: ClusterRequest, echo?: { failed: () => void }): boolean {
    if (!this.#up) return false;
    if (echo) this.#publish({ id: '', from: this.node, echo: true, request }, undefined, (_, back) => !back && (echo.failed(), true));
    // Should Redis go away on the way, the state listener says so, once.
    else this.#outbox.write(`${this.#options.prefix}bus`, JSON.stringify({ id: '', from: this.node, skipSender: true, request } satisfies BusMessage));
    return true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#nodes.stop();
    clearInterval(this.#heartbeat);
    this.#waiting.finishAll();
    if (this.#up) {
      // What this node wrote goes before its goodbye.
      await Promise.all(this.#outbox.flush());
      await this.#link.leave(`${this.#options.prefix}nodes`, this.node).catch(() => {});
      const leaving: BusMessage = { id: '', from: this.node, skipSender: true, request: { t: 'leaving', node: this.node } };
      await this.#link.publish(`${this.#options.prefix}bus`, JSON.stringify(leaving)).catch(() => {});
    }
    await this.#link.close();
  }

  #alone(request: ClusterRequest, reason = this.#reason): Gathered {
    this.stats.degraded++;
    return { results: new Map([[this.node, this.#apply(request, true)]]), missing: this.#nodes.others(), degraded: reason };
  }

  async #beat(): Promise<void> {
    // A slow Redis must not pile up beats.
    if (!this.#up || this.#stopped || !this.#subscribed || this.#beating) return;
    this.#beating = true;
    try {
      await this.#beatOnce();
    } finally {
      this.#beating = false;
    }
  }

  async #beatOnce(): Promise<void> {
    try {
      const { nodes: found, added } = await this.#link.heartbeat(`${this.#options.prefix}nodes`, this.node, this.#options.ttlMs);
      // Back in a set it had dropped out of (it paused past the ttl, its link up all along): the others may have
      // counted it gone and cleared what it holds, so it joins again, as after a reconnect.
      if (added) this.#announced = false;
      // Once in the set, so a node that hears of this one and beats finds it there too.
      const announcing = !this.#announced;
      if (announcing) await this.#announce();
      this.#nodes.recount(found);
      // After the count: what follows asks the nodes just found.
      if (announcing) this.joined();
    } catch {
      // Redis went away mid-beat: the state listener says so.
    }
  }

  /** Said once per link (again after Redis comes back): the others count this node from now, not from their next beat. */
  async #announce(): Promise<void> {
    this.#outbox.flush();
    // Its id is only this process's prefix (nobody answers a joining): a node of the same name knows it is not its own.
    const joining: BusMessage = { id: this.#idPrefix, from: this.node, skipSender: true, request: { t: 'joining', node: this.node } };
    await this.#link.publish(`${this.#options.prefix}bus`, JSON.stringify(joining));
    this.#announced = true;
  }
}
