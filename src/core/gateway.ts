/**
 * The socket lifecycle: auth before accept, then connect, receive and close
 * through each socket's own ordered lane, with hook output flowing back to
 * the hub. Runners are picked per configured host; this module does not
 * care which kind a host uses.
 */
import type { Config, HostConfig } from '../config/config.ts';
import { Client } from './client.ts';
import type { Authorized, ClientOptions } from './client.ts';
import type { Route } from './route.ts';
import { Admissions } from './admissions.ts';
import type { Ticket } from './admissions.ts';
import { HostTable } from '../config/hosts.ts';
import { Hub } from './hub.ts';
import type { HostStats, Socket } from './hub.ts';
import { newSocketId, sha256Hex } from './ids.ts';
import { channelRule } from '../config/channel-rules.ts';
import { parseControl } from '../protocols/wsgate/control.ts';
import type { Control } from '../protocols/wsgate/control.ts';
import { MemoryHistory, newEpoch, streamKey } from './history/history.ts';
import { covers, joinStored } from './history/history.ts';
import type { HistoryLimits, HistoryStore, Position, Since, StoredStream } from './history/history.ts';
import { ReplayWindow } from './history/replay-window.ts';
import { MemoryBudget, warnOnEvict } from './history/budget.ts';
import { RECOVERING_HELD, holdWhileRecovering } from './history/recovering.ts';
import type { HeldWhileRecovering } from './history/recovering.ts';
import { compilePath, matchPath } from '../config/paths.ts';
import type { CompiledPath, PathMatch } from '../config/paths.ts';
import { shortHash } from '../ops/log.ts';
import type { Broker, BrokerHandler, StreamRef } from './broker.ts';
import type { NodeRequest, Publication } from './requests.ts';
import { ALL_STREAM, TOKEN_STREAM, streamOf, tokenStreamKey } from './streams.ts';
import { mergePresence, mergeStats } from '../cluster/merge.ts';
import { Feed } from '../ops/feed.ts';
import type { FeedEvent, Sample } from '../ops/feed.ts';
import { Metrics, utf8Length } from '../ops/metrics.ts';
import type { Gauge } from '../ops/metrics.ts';
import type { Logger } from '../ops/log.ts';
import type { Pools, PoolsHealth } from '../hooks/pool/pools.ts';
import type { Wire } from '../runtime/types.ts';
import { cancelledOutcome, grantOf, refuses } from '../hooks/runners/runner.ts';
import type { Grant, HookJob, HookName, HookOutcome, Runner } from '../hooks/runners/runner.ts';
import type { Selection } from './targets.ts';

/** A publication as an opted-in socket gets it: the frame, said which stream and where in it. */
function envelope(stream: string, position: Position | undefined, frame: string): string {
  const head = `{"wsgate":"pub","channel":${JSON.stringify(stream)}`;
  return position ? `${head},"epoch":"${position.epoch}","offset":${position.offset},"data":${frame}}` : `${head},"data":${frame}}`;
}

export interface DashboardData {
  started: number;
  now: number;
  sockets: number;
  hosts: Array<{ host: string; sockets: number; tokens: number }>;
  configured: string[];
  workers: number;
  cap: number;
  pools: PoolsHealth['pools'];
  history: { streams: number; replaying: number };
  events: FeedEvent[];
  samples: Sample[];
}

/** A bridge answer gathered over the cluster: the nodes that answered, those that did not, and why only this one, if so. */
export interface Spread<T> {
  value: T;
  nodes?: { answered: string[]; missing: string[]; degraded?: string };
}

/** What a node tells the others for GET /health. */
export interface NodeHealth {
  sockets: Record<string, HostStats>;
  workers: number;
}

/** GET /presence: tokens appear only as their sha256. */
export interface Presence {
  sockets: number;
  tokens: Record<string, number>;
  members: Array<{ socket: string; token: string; info?: unknown }>;
}

const sum = (results: unknown[]): number => results.reduce<number>((total, n) => total + (typeof n === 'number' ? n : 0), 0);

/** Why an upgrade is refused: the HTTP status and what the client and the log are told. */
export interface Refusal {
  status: 401 | 429 | 503;
  reason: string;
}

/** The hook's outcome, or "cancelled" as soon as the signal aborts (the runner stops the hook itself). */
function untilAborted(running: Promise<HookOutcome>, signal: AbortSignal): Promise<HookOutcome> {
  if (signal.aborted) return Promise.resolve(cancelledOutcome());
  return new Promise((resolve) => {
    const abort = () => resolve(cancelledOutcome());
    signal.addEventListener('abort', abort, { once: true });
    void running.then((outcome) => {
      signal.removeEventListener('abort', abort);
      resolve(outcome);
    });
  });
}

/** What #run answers for a hook that never ran because every slot and queue place was taken. */
const BUSY = Symbol('busy');

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_BAD_DATA = 1007;
export const CLOSE_TRY_LATER = 1013;
export const CLOSE_POLICY = 1008;

export class Gateway implements BrokerHandler {
  readonly hub: Hub;
  #routes: HostTable<Route>;
  #configured: string[];
  readonly #log: Logger;
  #config: Config;
  #paths: CompiledPath[];
  /** Whether "*" is among the paths (then a plain GET anywhere is not told to upgrade). */
  #anyPath = false;
  /** Sockets admitted but not open (auth running, or waiting for the auth frame): they count against the limits too. */
  readonly admissions = new Admissions();
  /** Lanes still running after their socket closed (close hooks), for shutdown. */
  readonly #draining = new Set<Promise<void>>();
  /** One bound on what history and replay keep in all (limits.historyBytes). */
  readonly #budget: MemoryBudget;
  readonly #history: HistoryStore;
  readonly #replay: ReplayWindow;
  /** Sockets joining a channel while what they missed is read from Redis, by stream key: its publications meanwhile. */
  readonly #recovering = new Map<string, Map<Client, HeldWhileRecovering>>();
  #sweeps = 0;

  readonly pools: Pools;
  readonly metrics = new Metrics();
  readonly feed = new Feed();
  readonly #started = Date.now();
  readonly #broker: Broker;

  constructor(config: Config, routes: Map<string, Route>, log: Logger, pools: Pools, wire: Wire, broker: Broker) {
    this.#config = config;
    this.#paths = config.paths.map(compilePath);
    this.#anyPath = config.paths.some((route) => route.template === '*');
    this.hub = new Hub({ wire, sendBuffer: config.limits.sendBuffer, onSlow: (socket, buffered) => this.tooSlow(socket as Client, buffered), traffic: (host) => this.metrics.traffic(this.#label(host)) });
    this.pools = pools;
    this.#routes = new HostTable(routes);
    this.#configured = [...routes.keys()];
    this.#log = log;
    this.#budget = new MemoryBudget(config.limits.historyBytes);
    warnOnEvict(this.#budget, log);
    this.#history = new MemoryHistory(this.#budget);
    this.#replay = new ReplayWindow({
      budget: this.#budget,
      limits: (host) => this.#routes.match(host)?.config.replay,
      sockets: (host, token) => this.hub.countToken(host, token),
      anyHost: () => this.#config.hosts.some((host) => host.replay),
      log,
      broker,
    });
    this.#broker = broker;
    broker.bind(this);
    broker.onJoined(() => void this.#replay.sync().catch((error: Error) => this.#log.error('replay sync failed', { node: broker.status()?.node, error: error.message })));
  }

  get maxBody(): number {
    return this.#config.maxBody;
  }

  /** The route an upgrade on `path` takes (its parameters and channels), or undefined when `path` takes none. */
  upgradePath(path: string): PathMatch | undefined {
    return matchPath(this.#paths, path);
  }

  /** Paths listed explicitly: a plain GET there is told to upgrade. */
  isUpgradeOnlyPath(path: string): boolean {
    return !this.#anyPath && matchPath(this.#paths, path) !== undefined;
  }

  /**
   * A new config: new routes for every later event. Open sockets stay and
   * move to their host's new route; those whose host is gone are closed.
   */
  reload(config: Config, routes: Map<string, Route>): void {
    this.#config = config;
    this.#paths = config.paths.map(compilePath);
    this.#anyPath = config.paths.some((route) => route.template === '*');
    this.hub.sendBuffer = config.limits.sendBuffer;
    this.#budget.limit = config.limits.historyBytes;
    this.#routes = new HostTable(routes);
    this.#configured = [...routes.keys()];
    for (const socket of this.hub.all() as Client[]) {
      const route = this.#routes.match(socket.host);
      if (route) socket.moveTo(route);
      else {
        this.#log.info('host removed', { host: socket.host, socket: socket.id });
        this.hub.close(socket, CLOSE_GOING_AWAY, 'host no longer served');
      }
    }
  }

  route(host: string): Route | undefined {
    return this.#routes.match(host);
  }

  isConfigured(host: string): boolean {
    return this.#routes.match(host) !== undefined;
  }

  configured(): string[] {
    return this.#configured;
  }

  stats(): Record<string, HostStats> {
    return this.hub.stats();
  }

  /** The nodes as the broker knows them; undefined for a node alone. */
  get cluster() {
    return this.#broker.status();
  }

  /** A publication reached this node (BrokerHandler). */
  deliver(publication: Publication, taken: boolean): number {
    // Another node may serve hosts this one does not (a config being rolled out): nothing here for them.
    if (!this.#routes.match(publication.host)) return 0;
    if (publication.t === 'cast') return this.#castFrame(publication.host, publication.selection, publication.frame, publication.except, publication.position, taken);
    return this.#presenceCast(publication.host, publication.channel, publication.frame, publication.except, taken);
  }

  /** A publication in the order every node sees it, kept for gone tokens (BrokerHandler). */
  keep(publication: Publication): void {
    if (!this.#routes.match(publication.host)) return;
    const selection: Selection = publication.t === 'cast' ? publication.selection : { kind: 'channel', channel: publication.channel };
    this.#replay.keep(publication.host, selection, publication.frame);
  }

  /** Any other request, applied to this node's sockets (BrokerHandler). */
  apply(request: Exclude<NodeRequest, Publication>, taken: boolean): unknown {
    if ('host' in request && !this.#routes.match(request.host)) return request.t === 'presence' ? { sockets: 0, tokens: {}, members: [] } : 0;
    switch (request.t) {
      case 'subscribe':
        return this.subscribe(request.host, request.selection, request.channel, request.join);
      case 'disconnect':
        return this.disconnect(request.host, request.selection, request.code, request.reason);
      case 'presence':
        return this.presence(request.host, request.channel);
      case 'health':
        return { sockets: this.hub.stats(), workers: this.pools.health().workers } satisfies NodeHealth;
      case 'replayLeft':
      case 'replayBack':
      case 'replaySync':
        return this.#replay.apply(request, taken);
    }
  }

  /** Runs a bridge request on every live node (this one alone, when alone) and merges their answers. */
  async #everywhere<T>(request: NodeRequest, merge: (results: unknown[]) => T, stream?: StreamRef): Promise<Spread<T>> {
    const gathered = await this.#broker.gather(request, stream);
    const value = merge([...gathered.results.values()]);
    if (!gathered.spread) return { value };
    const nodes: NonNullable<Spread<T>['nodes']> = { answered: [...gathered.results.keys()], missing: gathered.spread.missing };
    if (gathered.spread.degraded) nodes.degraded = gathered.spread.degraded;
    return { value, nodes };
  }

  castEverywhere(host: string, selection: Selection, data: unknown, except: string | undefined): Promise<Spread<number>> {
    const frame = JSON.stringify(data) ?? 'null';
    return this.#everywhere({ t: 'cast', host, selection, frame, ...(except === undefined ? {} : { except }) }, sum, this.#streamRef(host, selection));
  }

  /** The stream with history a cast goes to, for a broker that numbers it; undefined when it keeps none. */
  #streamRef(host: string, selection: Selection): StreamRef | undefined {
    const stream = streamOf(this.#routes.match(host)?.config, host, selection);
    return stream?.limits && { host, key: stream.key, selection, limits: stream.limits };
  }

  subscribeEverywhere(host: string, selection: Selection, channel: string, join: boolean): Promise<Spread<number>> {
    return this.#everywhere({ t: 'subscribe', host, selection, channel, join }, sum);
  }

  disconnectEverywhere(host: string, selection: Selection, code: number, reason: string): Promise<Spread<number>> {
    return this.#everywhere({ t: 'disconnect', host, selection, code, reason }, sum);
  }

  presenceEverywhere(host: string, channel: string): Promise<Spread<Presence>> {
    return this.#everywhere({ t: 'presence', host, channel }, mergePresence);
  }

  /** Sockets per host over every node, with each node's own count. */
  healthEverywhere(): Promise<Spread<{ sockets: Record<string, HostStats>; perNode: Record<string, { sockets: number; workers: number }> }>> {
    return this.#everywhere({ t: 'health' }, (results) => mergeStats(results)).then((spread) => {
      const perNode: Record<string, { sockets: number; workers: number }> = {};
      const answered = spread.nodes?.answered ?? [this.#broker.status()?.node ?? 'this node'];
      answered.forEach((node, i) => (perNode[node] = spread.value.perNode[i] ?? { sockets: 0, workers: 0 }));
      return { ...spread, value: { sockets: spread.value.sockets, perNode } };
    });
  }

  /** GET /metrics: the counters, after gauges measured now. */
  metricsText(extra: Gauge[] = []): string {
    const sizes = this.hub.sizes();
    const { cap, pools } = this.pools.health();
    const apps = Object.entries(pools);
    const perApp = (pick: (stats: (typeof pools)[string]) => number) => apps.map(([app, stats]) => ({ labels: { app }, value: pick(stats) }));
    const recovery = this.recoveryHealth();
    return this.metrics.render([
      { name: 'wsgate_sockets', help: 'Open sockets per host.', samples: sizes.map(({ host, sockets }) => ({ labels: { host }, value: sockets })) },
      { name: 'wsgate_tokens', help: 'Distinct tokens with open sockets per host.', samples: sizes.map(({ host, tokens }) => ({ labels: { host }, value: tokens })) },
      { name: 'wsgate_sockets_admitting', help: 'Sockets admitted but not open yet: auth running, or waiting for the auth frame.', samples: [{ value: this.admissions.size }] },
      { name: 'wsgate_pool_cap', help: 'Resident workers allowed in all.', samples: [{ value: cap }] },
      { name: 'wsgate_pool_workers', help: 'Live resident workers per app.', samples: perApp((p) => p.workers) },
      { name: 'wsgate_pool_busy', help: 'Workers running a job per app.', samples: perApp((p) => p.busy) },
      { name: 'wsgate_pool_queued', help: 'Jobs waiting for a worker per app.', samples: perApp((p) => p.queued) },
      { name: 'wsgate_pool_jobs_total', type: 'counter', help: 'Jobs done and failed per app.', samples: apps.flatMap(([app, p]) => [{ labels: { app, result: 'done' }, value: p.done }, { labels: { app, result: 'failed' }, value: p.failed }]) },
      { name: 'wsgate_pool_recycled_total', type: 'counter', help: 'Workers retired after maxJobs per app.', samples: perApp((p) => p.recycled) },
      { name: 'wsgate_history_streams', help: 'Streams whose recent publications are held.', samples: [{ value: recovery.streams }] },
      { name: 'wsgate_replay_tokens', help: 'Gone tokens whose frames are kept for replay.', samples: [{ value: recovery.replaying }] },
      { name: 'wsgate_history_bytes', help: 'Bytes of past frames kept for history and replay (frames, plus a fixed cost per frame and per stream).', samples: [{ value: recovery.bytes }] },
      { name: 'wsgate_history_budget_bytes', help: 'What history and replay may keep in all (limits.historyBytes).', samples: [{ value: recovery.budget }] },
      { name: 'wsgate_history_evicted_total', type: 'counter', help: 'Publications dropped, oldest first, to stay within limits.historyBytes.', samples: [{ value: recovery.evicted }] },
      ...this.#clusterGauges(),
      ...extra,
    ]);
  }

  /** What the dashboard polls: hosts, pools, the feed after `after`, and the samples. */
  dashboard(after = 0): DashboardData {
    const { workers, cap, pools } = this.pools.health();
    return {
      started: this.#started,
      now: Date.now(),
      sockets: this.hub.size,
      hosts: this.hub.sizes().sort((a, b) => b.sockets - a.sockets),
      configured: this.#configured,
      workers,
      cap,
      pools,
      history: this.recoveryHealth(),
      events: this.feed.since(after),
      samples: this.feed.samples(),
    };
  }

  /** Redis link state and the cost of the hop to the other nodes; none without a cluster. */
  #clusterGauges(): Gauge[] {
    const cluster = this.#broker.status();
    if (!cluster) return [];
    const { requests, seconds, incomplete, degraded } = cluster.stats;
    return [
      { name: 'wsgate_cluster_redis_up', help: '1 while this node is linked to Redis, 0 while it serves alone.', samples: [{ value: cluster.up ? 1 : 0 }] },
      { name: 'wsgate_cluster_nodes', help: 'Live nodes this node knows of, itself included.', samples: [{ value: cluster.nodes().length }] },
      { name: 'wsgate_cluster_requests_total', type: 'counter', help: 'Bridge requests gathered over the cluster.', samples: [{ value: requests }] },
      { name: 'wsgate_cluster_request_seconds_total', type: 'counter', help: 'Summed time from publishing a request to the last answer (divide by requests for the mean cross-node latency).', samples: [{ value: seconds }] },
      { name: 'wsgate_cluster_incomplete_total', type: 'counter', help: 'Requests some live node did not answer within the deadline.', samples: [{ value: incomplete }] },
      { name: 'wsgate_cluster_pending', help: 'Requests waiting for other nodes\' answers, and joins waiting for a Redis read, now.', samples: [{ value: cluster.pending + [...this.#recovering.values()].reduce((n, waiting) => n + waiting.size, 0) }] },
      { name: 'wsgate_cluster_degraded_total', type: 'counter', help: 'Requests served by this node alone because Redis was away.', samples: [{ value: degraded }] },
    ];
  }

  recoveryHealth(): { streams: number; replaying: number; bytes: number; budget: number; evicted: number } {
    return { streams: this.#history.size, replaying: this.#replay.size, bytes: this.#budget.bytes, budget: this.#budget.limit, evicted: this.#budget.evicted };
  }

  poolHealth(): PoolsHealth {
    return this.pools.health();
  }

  /**
   * Runs the auth hook for an upgrade that has a host and a token (its place
   * held by the caller's ticket); resolves to the pending socket when it may
   * be accepted, or to why not. When `signal` aborts (the client went away),
   * the hook is cancelled and nothing is registered.
   */
  async authorize(host: string, token: string, path?: PathMatch, client?: ClientOptions, signal?: AbortSignal): Promise<Authorized | Refusal> {
    const route = this.#routes.match(host);
    const tokenHash = sha256Hex(token);
    if (!route) {
      this.#log.warn('upgrade refused', { host, token: shortHash(tokenHash), reason: 'host not configured' });
      this.refused(host, 'host_not_configured');
      return { status: 401, reason: 'host not configured' };
    }
    const pending: Authorized = { id: newSocketId(), host: this.hub.hostName(host), token, tokenHash, route, params: path?.params, pathChannels: path?.channels.length ? path.channels : undefined, client };
    const outcome = await this.#run(pending, route, 'auth', undefined, undefined, signal);
    if (signal?.aborted) {
      this.#log.info('upgrade abandoned', { host, socket: pending.id, token: shortHash(tokenHash), reason: 'the client went away during auth' });
      this.refused(host, 'abandoned');
      return { status: 401, reason: 'the client went away' };
    }
    if (outcome === BUSY) {
      this.#log.warn('upgrade refused', { host, socket: pending.id, token: shortHash(tokenHash), reason: 'hook processes are all busy' });
      this.refused(host, 'busy');
      return { status: 503, reason: 'the gateway is busy: too many hooks are running or waiting; try again later' };
    }
    if (outcome === undefined || refuses(outcome)) {
      this.#log.info('upgrade refused', { host, socket: pending.id, token: shortHash(tokenHash), reason: outcome === undefined ? 'auth hook failed' : 'auth returned false' });
      this.refused(host, outcome === undefined ? 'auth_failed' : 'auth_refused');
      return { status: 401, reason: 'unauthorized' };
    }
    pending.grant = this.#grant(pending, 'auth', outcome);
    const history = route.config.history;
    if (client?.recover && history && this.#broker.shared) pending.stored = await this.#readStored(pending.host, token, history, client.recover);
    return pending;
  }

  /**
   * Before a socket that resumes its `@all` or `@token` stream opens: what
   * Redis holds of each whose gap this node's copy cannot fill (it started
   * later, or was cut off). Read now, so the open can give it at once, before
   * anything live.
   */
  async #readStored(host: string, token: string, limits: HistoryLimits, recover: Map<string, Position>): Promise<Map<string, StoredStream> | undefined> {
    let stored: Map<string, StoredStream> | undefined;
    for (const [stream, selection] of [[ALL_STREAM, { kind: 'all' }], [TOKEN_STREAM, { kind: 'token', token }]] as const) {
      const asked = recover.get(stream);
      const key = stream === ALL_STREAM ? streamKey(host, ALL_STREAM) : tokenStreamKey(host, token);
      if (!asked || this.#history.since(key, asked, limits).recovered) continue;
      const read = await this.#broker.readStream({ host, key, selection }, asked.offset);
      if (read) (stored ??= new Map()).set(stream, read);
    }
    return stored;
  }

  /**
   * Metrics are labelled by the configured host key (`*.tenant.example.com`,
   * `*`), not by the Host a request names, and hosts that are not configured
   * count as "": whatever strangers send, the label set stays the config's.
   */
  #label(host: string): string {
    return this.#routes.match(host)?.config.key ?? '';
  }

  refused(host: string, reason: string): void {
    this.metrics.upgrade(this.#label(host), 'refused', reason);
  }

  /**
   * A place for a new socket of this host (and token, when known), held by
   * the ticket until the socket opens or goes; or why there is none. Places
   * held by sockets still in auth count like open sockets.
   */
  admit(host: string, token: string | undefined): { ticket: Ticket } | { refused: Refusal } {
    const limits = this.#config.limits;
    const admitting = this.admissions;
    if (this.hub.size + admitting.size >= limits.sockets) return { refused: { status: 503, reason: `the gateway holds its maximum of ${limits.sockets} sockets` } };
    if (this.hub.countHost(host) + admitting.countHost(host) >= limits.socketsPerHost) return { refused: { status: 503, reason: `the host holds its maximum of ${limits.socketsPerHost} sockets` } };
    const refused = token === undefined ? undefined : this.#tokenFull(host, token);
    return refused ? { refused } : { ticket: admitting.enter(host, token) };
  }

  /** The first-frame flow learnt the token of an admitted socket: it takes the token's place too, or is refused. */
  admitToken(ticket: Ticket, token: string): Refusal | undefined {
    const refused = this.#tokenFull(ticket.host, token);
    if (!refused) ticket.setToken(token);
    return refused;
  }

  #tokenFull(host: string, token: string): Refusal | undefined {
    const limit = this.#config.limits.socketsPerToken;
    if (this.hub.countToken(host, token) + this.admissions.countToken(host, token) >= limit) return { status: 429, reason: `this token holds its maximum of ${limit} sockets` };
    return undefined;
  }

  /** The socket is accepted: register it and queue its connect hook first in its lane. */
  open(session: Client, raw: unknown): Client {
    const limits = this.#config.limits;
    session.attach(raw, limits, performance.now());
    this.hub.add(session);
    this.metrics.upgrade(session.route.config.key, 'accepted');
    this.feed.push('connect', session.host, session.id);
    this.#log.info('open', { host: session.host, socket: session.id, token: shortHash(session.takeTokenHash() ?? sha256Hex(session.token)), sockets: this.hub.size });
    this.#replayTo(session);
    const granted = session.takeGranted();
    if (granted) this.#join(session, granted);
    if (session.aware) {
      const history = session.route.config.history;
      if (history) {
        this.#announce(session, ALL_STREAM, streamKey(session.host, ALL_STREAM), history, 'joined');
        this.#announce(session, TOKEN_STREAM, tokenStreamKey(session.host, session.token), history, 'joined');
        session.dropStored();
      }
      this.hub.send(session, `{"wsgate":"ready","socket":"${session.id}"}`);
    }
    void session.enqueue(async () => {
      if (!session.open) return;
      const result = await this.#run(session, session.route, 'connect');
      if (!session.open || result === undefined) return;
      // The app never said yes: a socket whose connect could not run does not stay.
      if (result === BUSY) return this.#refuse(session, CLOSE_TRY_LATER, 'the gateway is busy: the connect hook could not run; try again later');
      if (refuses(result)) {
        this.#log.info('connect refused', { host: session.host, socket: session.id });
        this.hub.close(session, CLOSE_POLICY, 'connect refused');
        return;
      }
      const grant = this.#grant(session, 'connect', result);
      if (!grant) return;
      if (grant.info !== undefined) session.setInfo(grant.info);
      this.#join(session, grant.channels);
    });
    return session;
  }

  /** The grant in an auth or connect result; a malformed one is logged and grants nothing. */
  #grant(who: Authorized | Client, hook: HookName, result: unknown): Grant | undefined {
    const { grant, problem } = grantOf(result);
    if (problem) this.#log.warn('grant ignored', { host: who.host, socket: who.id, hook, problem });
    return grant;
  }

  #join(session: Client, channels: string[]): void {
    for (const channel of channels) this.#joinOne(session, channel);
  }

  /**
   * Joins one channel; on channels with presence events, the others in it are
   * told. An opted-in socket is told too (`answer` says how), with the
   * publications it missed, before anything live can reach it.
   */
  #joinOne(session: Client, channel: string, answer: 'joined' | 'subscribed' = 'joined', since?: Position): boolean {
    if (session.aware && this.#broker.shared && !session.channels?.has(channel)) {
      const limits = channelRule(session.route.config.channels, channel)?.history;
      const key = streamKey(session.host, channel);
      const asked = since ?? session.recoverOf(channel);
      // This node's copy cannot fill the gap (it was not up, or not for all of it): Redis may.
      if (limits && asked && !this.#history.since(key, asked, limits).recovered) {
        session.takeRecover(channel);
        void this.#joinFromRedis(session, channel, key, limits, answer, asked);
        return true;
      }
    }
    if (!this.hub.join(session, channel)) return false;
    this.#log.debug('join', { host: session.host, socket: session.id, channel });
    this.#presenceEvent(session, channel, 'join');
    if (session.aware) this.#announce(session, channel, streamKey(session.host, channel), channelRule(session.route.config.channels, channel)?.history, answer, since);
    return true;
  }

  /**
   * Tells an opted-in socket it is in a stream: where the stream is, and when
   * the socket said where it stopped (`since`, else the upgrade's `recover`),
   * whether what it missed can be given, followed by exactly that.
   */
  #announce(session: Client, stream: string, key: string, limits: HistoryLimits | undefined, answer: 'joined' | 'subscribed', since?: Position): void {
    const frame: Record<string, unknown> = answer === 'joined' ? { wsgate: 'joined', channel: stream } : { wsgate: 'subscribed', channel: stream, ok: true };
    const recovered = session.takeRecover(stream);
    const asked = since ?? recovered;
    let missed: Since | undefined;
    if (limits && asked) {
      missed = this.#history.since(key, asked, limits);
      const stored = missed.recovered ? undefined : session.storedOf(stream);
      const joined = stored && joinStored(asked, stored, (after) => this.#history.since(key, after, limits));
      if (joined) missed = joined;
      Object.assign(frame, missed.top, { recovered: missed.recovered });
    } else if (limits) Object.assign(frame, this.#history.top(key, limits));
    else if (asked) frame.recovered = false;
    this.hub.send(session, JSON.stringify(frame));
    if (asked && missed) {
      for (const publication of missed.publications) this.hub.send(session, envelope(stream, { epoch: missed.top.epoch, offset: publication.offset }, publication.frame));
    }
    if (asked) this.#log.info(missed?.recovered ? 'recovered' : 'not recovered', { host: session.host, socket: session.id, channel: stream, missed: missed?.publications.length, from: session.storedOf(stream) ? 'redis' : undefined });
  }

  /**
   * Joins a channel once what the socket missed is read from Redis. Until
   * then it is not a member: publications of the channel that arrive
   * meanwhile are held for it, and follow what Redis gave, so it gets each
   * once and in order.
   */
  async #joinFromRedis(session: Client, channel: string, key: string, limits: HistoryLimits, answer: 'joined' | 'subscribed', asked: Position): Promise<void> {
    const holding: HeldWhileRecovering = { entries: [], limit: Math.min(limits.size, RECOVERING_HELD), lost: false };
    let waiting = this.#recovering.get(key);
    if (!waiting) this.#recovering.set(key, (waiting = new Map()));
    waiting.set(session, holding);
    const stored = await this.#broker.readStream({ host: session.host, key, selection: { kind: 'channel', channel } }, asked.offset);
    waiting.delete(session);
    if (waiting.size === 0) this.#recovering.delete(key);
    if (!session.open || !this.hub.join(session, channel)) return;
    this.#log.debug('join', { host: session.host, socket: session.id, channel });
    this.#presenceEvent(session, channel, 'join');
    const held = holding.entries;
    if (holding.lost) this.#log.warn('recovery buffer full', { host: session.host, socket: session.id, channel, held: holding.limit });
    if (!covers(asked, stored) || holding.lost) {
      // Redis cannot fill it either, or more came meanwhile than was held: what this node holds, said as not recovered unless it fills the gap.
      this.#announce(session, channel, key, limits, answer, asked);
      for (const { position, frame } of held) this.hub.send(session, envelope(channel, position, frame));
      return;
    }
    const top = Math.max(stored.offset, held.at(-1)?.position.offset ?? 0);
    const head: Record<string, unknown> = answer === 'joined' ? { wsgate: 'joined', channel } : { wsgate: 'subscribed', channel, ok: true };
    this.hub.send(session, JSON.stringify({ ...head, epoch: asked.epoch, offset: top, recovered: true }));
    let last = asked.offset;
    for (const entry of stored.entries) {
      this.hub.send(session, envelope(channel, { epoch: asked.epoch, offset: entry.offset }, entry.frame));
      last = entry.offset;
    }
    for (const { position, frame } of held) {
      if (position.epoch === asked.epoch && position.offset <= last) continue;
      this.hub.send(session, envelope(channel, position, frame));
    }
    this.#log.info('recovered', { host: session.host, socket: session.id, channel, missed: stored.entries.length, from: 'redis' });
  }

  #leaveOne(session: Client, channel: string, answer?: 'left'): boolean {
    if (!this.hub.leave(session, channel)) return false;
    this.#presenceEvent(session, channel, 'leave');
    if (answer && session.aware && session.open) this.hub.send(session, JSON.stringify({ wsgate: 'left', channel }));
    return true;
  }

  /** {"wsgate": "join" | "leave", channel, socket, info} to the channel's other members, where its options ask for it. */
  #presenceEvent(session: Client, channel: string, event: 'join' | 'leave'): void {
    if (!channelRule(session.route.config.channels, channel)?.presenceEvents) return;
    const frame: Record<string, unknown> = { wsgate: event, channel, socket: session.id };
    if (session.info !== undefined) frame.info = session.info;
    this.#broker.publish({ t: 'presenceEvent', host: session.host, channel, frame: JSON.stringify(frame), except: session.id });
  }

  /** A join or leave frame to a channel's members: never wrapped, never in history; but a gone token would have seen it. */
  #presenceCast(host: string, channel: string, frame: string, except: string, taken: boolean): number {
    const sent = this.hub.cast(host, { kind: 'channel', channel }, frame, except);
    this.metrics.cast(this.#label(host), 'presence', sent, taken);
    return sent;
  }

  /** Frames a token missed while it had no socket, to its new one (before anything live). */
  #replayTo(session: Client): void {
    if (!session.route.config.replay) return;
    const missed = this.#replay.back(session.host, session.token);
    // An opted-in client recovers by offsets instead: the plain frames would reach it twice.
    if (!missed || session.aware) return;
    for (const frame of missed.frames) this.hub.send(session, frame);
    this.#log.info('replayed', { host: session.host, socket: session.id, frames: missed.frames.length, dropped: missed.dropped || undefined });
  }

  /** A client frame: queued behind everything this socket sent before. Only receive streams output to the socket. */
  message(session: Client, text: string): void {
    if (!session.open || session.closing) return;
    const limits = this.#config.limits;
    const now = performance.now();
    const traffic = this.metrics.traffic(session.route.config.key);
    traffic.framesIn++;
    traffic.bytesIn += utf8Length(text);
    if (!session.takeMessage(limits, now)) return this.#refuse(session, CLOSE_POLICY, 'too many messages per second');
    if (session.waiting >= limits.pending) return this.#refuse(session, CLOSE_POLICY, 'too many messages waiting for the app');
    const control = session.aware || session.route.config.clientChannels ? parseControl(text) : undefined;
    // A process argument cannot carry a NUL byte: the hook could never see this message, so the client is told.
    if (!control && session.route.config.mode === 'oneshot' && text.includes('\0')) return this.#undelivered(session, CLOSE_BAD_DATA, "a message with a NUL byte cannot be passed to this host's hook");
    session.enqueueMessage(async () => {
      if (control) await this.#control(session, control);
      else if ((await this.#run(session, session.route, 'receive', text, session)) === BUSY) this.#undelivered(session, CLOSE_TRY_LATER, 'the gateway is busy: the message was not delivered; try again later');
    });
  }

  /**
   * A client's own subscribe or unsubscribe, in its lane like any frame: the
   * subscribe hook (host, token, socket, channel) decides, `false` or a
   * failure refuses; the client is told either way.
   */
  async #control(session: Client, parsed: NonNullable<ReturnType<typeof parseControl>>): Promise<void> {
    const answer = (frame: Record<string, unknown>) => {
      if (session.open) this.hub.send(session, JSON.stringify(frame));
    };
    if ('problem' in parsed) return answer({ wsgate: 'error', channel: parsed.channel, reason: parsed.problem });
    const control: Control = parsed.control;
    const { channel } = control;
    if (control.op === 'presence') {
      if (!session.channels?.has(channel)) return answer({ wsgate: 'error', channel, reason: 'presence is only for a channel this socket is in' });
      return answer({ wsgate: 'presence', channel, members: this.presence(session.host, channel).members });
    }
    if (control.op === 'unsubscribe') {
      this.#leaveOne(session, channel);
      return answer({ wsgate: 'unsubscribed', channel });
    }
    if (!session.route.config.clientChannels) return answer({ wsgate: 'subscribed', channel, ok: false, reason: 'this host does not let clients choose channels ("clientChannels")' });
    const result = await this.#run(session, session.route, 'subscribe', channel);
    // Only a hook that ran and said yes lets a client in: a failure or a full hook queue refuses.
    const refused = result === undefined || result === BUSY || refuses(result);
    this.#log.info(refused ? 'subscribe refused' : 'subscribe', { host: session.host, socket: session.id, channel });
    if (!session.open) return;
    if (refused) return answer({ wsgate: 'subscribed', channel, ok: false, reason: result === undefined ? 'the subscribe hook failed' : result === BUSY ? 'the gateway is busy; try again later' : 'refused' });
    if (!session.aware) {
      this.#joinOne(session, channel);
      return answer({ wsgate: 'subscribed', channel, ok: true });
    }
    const since = control.op === 'subscribe' ? control.since : undefined;
    // Already in it: still say where the stream is, and give what it missed.
    if (!this.#joinOne(session, channel, 'subscribed', since)) this.#announce(session, channel, streamKey(session.host, channel), channelRule(session.route.config.channels, channel)?.history, 'subscribed', since);
  }

  /** Closes a socket that broke a limit, saying which; once, however many frames it sends until the close completes. */
  #refuse(session: Client, code: number, reason: string): void {
    if (!session.startClosing()) return;
    this.#log.warn('limit', { host: session.host, socket: session.id, code, reason });
    this.hub.close(session, code, reason);
  }

  /**
   * A message the app did not get: its receive hook could not start (every
   * hook slot and queue place taken), or a one-shot hook's argv cannot carry
   * it (a NUL byte). Never dropped in silence: an opted-in client is told and
   * may send it again; a plain one is closed with `code` and the reason.
   */
  #undelivered(session: Client, code: number, reason: string): void {
    if (!session.open) return;
    if (!session.aware) return this.#refuse(session, code, reason);
    this.#log.info('message refused', { host: session.host, socket: session.id, reason });
    this.hub.send(session, JSON.stringify({ wsgate: 'error', reason }));
  }

  /** A frame over the size limit, for runtimes that do not check it themselves. */
  tooBig(session: Client, bytes: number): void {
    this.#refuse(session, CLOSE_TOO_BIG, `frame of ${bytes} bytes is over the limit of ${this.#config.limits.frame}`);
  }

  /** A client that does not read: its unsent frames pile up. It would not read a close frame either, so it is dropped. */
  tooSlow(session: Client, buffered: number): void {
    if (!session.open) return;
    this.#log.warn('limit', { host: session.host, socket: session.id, code: CLOSE_TRY_LATER, reason: `${buffered} bytes unsent: the client does not read fast enough` });
    this.hub.terminate(session);
    this.closed(session, CLOSE_TRY_LATER);
  }

  /** One shared sweep closes sockets that sent nothing for idleTimeout seconds (1001). */
  sweepIdle(now = performance.now()): void {
    this.feed.sample({ casts: this.metrics.castTotal(), ...this.metrics.hookTotals() });
    this.#replay.sweep();
    if (++this.#sweeps % 10 === 0) this.#history.sweep();
    const idleMs = this.#config.idleTimeout * 1000;
    if (idleMs <= 0) return;
    for (const socket of this.hub.all() as Client[]) {
      if (now - socket.lastSeen >= idleMs) {
        this.#log.info('idle', { host: socket.host, socket: socket.id, seconds: this.#config.idleTimeout });
        this.hub.close(socket, CLOSE_GOING_AWAY, 'idle');
      }
    }
  }

  get limits(): Config['limits'] {
    return this.#config.limits;
  }

  /** The socket is gone: unregister now, run close after its last receive. */
  closed(session: Client, code: number): void {
    if (!session.markClosed()) return;
    const channels = session.channels && [...session.channels];
    this.hub.remove(session);
    const replay = session.route.config.replay;
    if (replay && !session.aware && this.hub.countToken(session.host, session.token) === 0) this.#replay.left(session.host, session.token, channels ?? [], replay);
    if (channels) for (const channel of channels) this.#presenceEvent(session, channel, 'leave');
    this.#log.info('close', { host: session.host, socket: session.id, code, sockets: this.hub.size });
    this.feed.push('disconnect', session.host, session.id, `code ${code}`);
    const done = session.enqueue(async () => {
      await this.#run(session, session.route, 'close');
    });
    this.#draining.add(done);
    done.finally(() => this.#draining.delete(done));
  }

  /** Joins (or leaves) a channel for every socket a selection picks; returns how many joined (left). */
  subscribe(host: string, selection: Selection, channel: string, join: boolean): number {
    let changed = 0;
    for (const socket of this.hub.select(host, selection) as Client[]) {
      if (join ? this.#joinOne(socket, channel) : this.#leaveOne(socket, channel, 'left')) changed++;
    }
    this.#log.debug(join ? 'subscribe' : 'unsubscribe', { host, channel, target: selection.kind, sockets: changed });
    return changed;
  }

  /** Closes every socket a selection picks (POST /disconnect); returns how many. */
  disconnect(host: string, selection: Selection, code: number, reason: string): number {
    const sockets = this.hub.select(host, selection);
    for (const socket of sockets) {
      this.#log.info('disconnect', { host, socket: socket.id, code });
      this.hub.close(socket, code, reason);
    }
    return sockets.length;
  }

  /** Who is in a channel: each socket with its token's hash and its info, and sockets per token hash. */
  presence(host: string, channel: string): Presence {
    const members: Presence['members'] = [];
    const tokens: Record<string, number> = {};
    const hashes = new Map<string, string>();
    for (const socket of this.hub.members(host, channel) as Client[]) {
      let hash = hashes.get(socket.token);
      if (hash === undefined) {
        hash = sha256Hex(socket.token);
        hashes.set(socket.token, hash);
      }
      tokens[hash] = (tokens[hash] ?? 0) + 1;
      members.push(socket.info === undefined ? { socket: socket.id, token: hash } : { socket: socket.id, token: hash, info: socket.info });
    }
    return { sockets: members.length, tokens, members };
  }

  /**
   * A cast from the bridge or a hook. Casts to a stream (all, a token, a
   * channel) are kept in its history when it has one, kept for gone tokens
   * when the host replays, and reach opted-in sockets wrapped.
   */
  cast(host: string, selection: Selection, data: unknown, except: string | undefined): number {
    return this.castText(host, selection, JSON.stringify(data) ?? 'null', except);
  }

  /** cast() of a frame that is its text already (a module hook's send() outside receive), sent as it is. */
  castText(host: string, selection: Selection, frame: string, except: string | undefined): number {
    const sent = this.#broker.publish({ t: 'cast', host, selection, frame, ...(except === undefined ? {} : { except }) }, this.#streamRef(host, selection));
    // Numbered by the broker, this node's copy comes back later: the sockets it will reach are those here now.
    return sent ?? this.hub.select(host, selection).filter((socket) => socket.id !== except).length;
  }

  /** A cast delivered to this node's sockets, and to its stream's history (at `numbered`, where the broker numbered it). `taken`: this node took it. */
  #castFrame(host: string, selection: Selection, frame: string, except: string | undefined, numbered: Position | undefined, taken: boolean): number {
    // One route lookup per cast: history and the metrics label both come from it.
    const config = this.#routes.match(host)?.config;
    const target = streamOf(config, host, selection);
    const stream = target?.stream;
    let position: Position | undefined;
    if (target?.limits && numbered) {
      this.#history.put(target.key, frame, numbered, target.limits);
      position = numbered;
    } else if (target?.limits) position = this.#history.append(target.key, frame, target.limits);
    if (position && this.#recovering.size > 0) this.#recovering.get(target!.key)?.forEach((held) => holdWhileRecovering(held, position!, frame));
    const sent = this.hub.cast(host, selection, frame, except, stream === undefined ? undefined : () => envelope(stream, position, frame));
    this.metrics.cast(config?.key ?? '', selection.kind, sent, taken);
    this.#log.debug('cast', { host, target: selection.kind, sent });
    return sent;
  }

  /**
   * GET /history: a stream's publications after `since` (all it holds without
   * one); undefined when the stream keeps no history.
   */
  history(host: string, stream: { channel: string } | { token: string }, since?: Position): Since | undefined {
    const selection: Selection = 'token' in stream ? { kind: 'token', token: stream.token } : stream.channel === ALL_STREAM ? { kind: 'all' } : { kind: 'channel', channel: stream.channel };
    const target = streamOf(this.#routes.match(host)?.config, host, selection);
    return target?.limits && this.#history.since(target.key, since, target.limits);
  }

  /** Closes every socket with 1001 and waits (bounded) for their close hooks. */
  async shutdown(): Promise<void> {
    for (const socket of this.hub.all()) {
      this.hub.close(socket, CLOSE_GOING_AWAY, 'server shutting down');
      this.closed(socket as Client, CLOSE_GOING_AWAY);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#config.shutdownMs)));
    await Promise.race([Promise.allSettled([...this.#draining]), limit]);
    clearTimeout(timer);
  }

  /**
   * Runs one hook; resolves to its result, or undefined when it failed (logged
   * with host, socket, hook and stderr). Lines go to `streamTo` while it is open.
   */
  async #run(who: Pick<Authorized, 'host' | 'id' | 'token' | 'params'>, route: Route, hook: HookName, message?: string, streamTo?: Client, signal?: AbortSignal): Promise<unknown> {
    const job: HookJob = { host: who.host, hook, token: who.token, socket: who.id, message, params: who.params };
    const onLine = streamTo
      ? (line: string) => {
          if (streamTo.open) this.hub.send(streamTo, line);
        }
      : undefined;
    const started = performance.now();
    let outcome: HookOutcome;
    try {
      // Whatever the runner does with the signal, the caller is answered the moment it aborts.
      outcome = await (signal ? untilAborted(route.runner.run(job, onLine, signal), signal) : route.runner.run(job, onLine));
    } catch (error) {
      outcome = { ok: false, error: String(error) };
    }
    const elapsed = performance.now() - started;
    this.metrics.hook(route.config.key, hook, route.config.mode, elapsed / 1000, outcome.ok);
    const ms = Math.round(elapsed);
    const fields = { host: who.host, socket: who.id, hook, ms, stderr: outcome.stderr };
    if (!outcome.ok && outcome.cancelled) {
      this.#log.info('hook cancelled', { host: who.host, socket: who.id, hook, ms });
      return undefined;
    }
    if (!outcome.ok && outcome.busy) {
      this.#log.warn('hook refused', { host: who.host, socket: who.id, hook, error: outcome.error });
      return BUSY;
    }
    if (!outcome.ok) {
      this.#log.error('hook failed', { ...fields, error: outcome.error });
      this.feed.push('hook failed', who.host, who.id, `${hook}: ${outcome.error}`);
      return undefined;
    }
    if (outcome.stderr) this.#log.warn('hook stderr', fields);
    else this.#log.debug('hook', fields);
    return outcome.result;
  }
}
