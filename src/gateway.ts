/**
 * One gateway node: the core's parts wired together (src/core/), watched by
 * the monitor (src/ops/). This is what the HTTP layer and the wiring in
 * start.ts talk to; each call is handed to the part whose job it is.
 */
import type { Config } from './config/config.ts';
import { Admission } from './core/admission.ts';
import type { Refusal } from './core/admission.ts';
import type { Ticket } from './core/admissions.ts';
import type { Broker, BrokerStatus } from './core/broker.ts';
import { Channels } from './core/channels.ts';
import type { Authorized, Client, ClientOptions } from './core/client.ts';
import { CoreEvents } from './core/events.ts';
import type { UpgradeRefusal } from './core/events.ts';
import { HookCalls } from './core/hook-calls.ts';
import { Hub } from './core/hub.ts';
import type { HostStats } from './core/hub.ts';
import { CLOSE_GOING_AWAY, Lifecycle } from './core/lifecycle.ts';
import { ClientRequests } from './core/client-requests.ts';
import { MemoryMembers } from './core/members.ts';
import { REFUSED_CLOSE_MS } from './core/connections.ts';
import type { MemberStore } from './core/members.ts';
import type { Presence } from './core/presence.ts';
import { Publishing } from './core/publishing.ts';
import type { ClusterHealth, Spread } from './core/publishing.ts';
import type { Route } from './core/route.ts';
import { Routes } from './core/routes.ts';
import type { Selection } from './core/targets.ts';
import { Recovery } from './core/history/recovery.ts';
import type { RecoveryHealth } from './core/history/recovery.ts';
import type { Kept, Position, Since } from './core/history/history.ts';
import type { PathMatch } from './config/paths.ts';
import type { Pools, PoolsHealth } from './hooks/pool/pools.ts';
import { logObserver } from './ops/log-observer.ts';
import type { Logger } from './ops/log.ts';
import type { HookOutcome } from './hooks/runners/runner.ts';
import { Monitor } from './ops/monitor.ts';
import type { Gauge } from './ops/metrics.ts';
import { PusherFront } from './protocols/pusher/front.ts';
import { PusherApiCore } from './protocols/pusher/api-core.ts';
import { PUSHER } from './protocols/pusher/protocol.ts';
import type { Watched } from './ops/monitor.ts';
import type { GoneSignal, Wire } from './runtime/types.ts';

export interface GatewayExtras {
  /** Members by user, shared by the nodes; in memory for a node alone. */
  members?: MemberStore;
  /** Asked before a full limit refuses an upgrade: those whose clients went give their places back (Runtime.checkUpgrades). */
  checkUpgrades?: () => void;
}

export class Gateway implements Watched {
  readonly hub: Hub;
  readonly pools: Pools;
  readonly events = new CoreEvents();
  readonly monitor: Monitor;
  /** The Pusher apps and their connections on this node. */
  readonly pusher: PusherFront;
  /** What the Pusher HTTP API asks, done over every node. */
  readonly pusherApi: PusherApiCore;
  readonly #routes: Routes;
  readonly #broker: Broker;
  readonly #recovery: Recovery;
  readonly #channels: Channels;
  readonly #publishing: Publishing;
  readonly #admission: Admission;
  readonly #lifecycle: Lifecycle;
  readonly #hooks: HookCalls;
  readonly #wire: Wire;

  constructor(config: Config, routes: Map<string, Route>, log: Logger, pools: Pools, wire: Wire, broker: Broker, extras: GatewayExtras = {}) {
    const { members = new MemoryMembers(), checkUpgrades } = extras;
    const events = this.events;
    this.#routes = new Routes(config, routes);
    this.pools = pools;
    this.#broker = broker;
    this.#wire = wire;
    this.hub = new Hub({ wire, sendBuffer: config.limits.sendBuffer, onSlow: (client, buffered) => this.#lifecycle.tooSlow(client as Client, buffered), traffic: (host) => events.traffic(this.#routes.label(host)) });
    const hub = this.hub;
    const hooks = (this.#hooks = new HookCalls(hub, events));
    this.#recovery = new Recovery(hub, this.#routes, broker, events);
    this.#channels = new Channels({ hub, recovery: this.#recovery, broker, members, events, memberFrames: PUSHER });
    this.#publishing = new Publishing({ hub, routes: this.#routes, broker, channels: this.#channels, recovery: this.#recovery, events, workers: () => pools.health().workers });
    this.#admission = new Admission({ hub, routes: this.#routes, hooks, recovery: this.#recovery, events, beforeFull: checkUpgrades });
    const publishing = this.#publishing;
    const requests = new ClientRequests({ hub, routes: this.#routes, hooks, channels: this.#channels, recovery: this.#recovery, events, reserved: (host, channel) => this.pusher.reserves(host, channel), castText: (host, selection, frame, except, unkept) => publishing.castText(host, selection, frame, except, unkept) });
    this.#lifecycle = new Lifecycle({ hub, routes: this.#routes, hooks, channels: this.#channels, recovery: this.#recovery, events, requests });
    this.pusher = new PusherFront(config.pusher?.apps);
    this.pusherApi = new PusherApiCore(this.pusher, this);
    this.monitor = new Monitor(this);
    events.observe(this.monitor.observer());
    events.observe(logObserver(log));
    events.countTrafficWith((label) => this.monitor.metrics.traffic(label));
  }

  // ---- config and routes

  get limits(): Config['limits'] {
    return this.#routes.limits;
  }

  get sendBuffer(): number {
    return this.#routes.limits.sendBuffer;
  }

  get maxBody(): number {
    return this.#routes.config.maxBody;
  }

  upgradePath(path: string): PathMatch | undefined {
    return this.#routes.upgradePath(path);
  }

  isUpgradeOnlyPath(path: string): boolean {
    return this.#routes.isUpgradeOnlyPath(path);
  }

  hostName(host: string): string {
    return this.hub.hostName(host);
  }

  route(host: string): Route | undefined {
    return this.#routes.match(host);
  }

  isConfigured(host: string): boolean {
    return this.#routes.match(host) !== undefined;
  }

  configured(): string[] {
    return this.#routes.configured();
  }

  /**
   * A new config: new routes for every later event. Open sockets stay and
   * move to their host's new route; those whose host is gone are closed.
   */
  reload(config: Config, routes: Map<string, Route>): void {
    this.#routes.replace(config, routes);
    this.hub.sendBuffer = config.limits.sendBuffer;
    this.#recovery.reconfigure();
    this.#lifecycle.rehome();
    this.admissions.evict(CLOSE_GOING_AWAY, 'host no longer served', 'host_not_configured', (host) => this.#routes.match(host) !== undefined);
    this.pusher.configure(config.pusher?.apps ?? []);
  }

  // ---- admission and a connection's life (the HTTP layer's upgrade)

  get admissions(): Admission['admissions'] {
    return this.#admission.admissions;
  }

  admit(host: string, token: string | undefined): { ticket: Ticket } | { refused: Refusal } {
    return this.#admission.admit(host, token);
  }

  admitToken(ticket: Ticket, token: string): Refusal | undefined {
    return this.#admission.admitToken(ticket, token);
  }

  refused(refusal: UpgradeRefusal): void {
    this.#admission.refused(refusal);
  }

  authorize(host: string, token: string, path: PathMatch | undefined, client: ClientOptions, signal?: GoneSignal): Promise<Authorized | Refusal> {
    return this.#admission.authorize(host, token, path, client, signal);
  }

  open(client: Client, raw: unknown): Client {
    return this.#lifecycle.open(client, raw);
  }

  message(client: Client, text: string): void {
    this.#lifecycle.message(client, text);
  }

  control(client: Client): void {
    this.#lifecycle.control(client);
  }

  failed(client: Client, error: unknown): void {
    this.#lifecycle.failed(client, error);
  }

  tooBig(client: Client, bytes: number): void {
    this.#lifecycle.tooBig(client, bytes);
  }

  closed(client: Client, code: number): void {
    this.#lifecycle.closed(client, code);
  }

  send(client: Client, frame: string): boolean {
    return this.hub.send(client, frame);
  }

  closeRefused(raw: unknown, code: number, reason: string): void {
    const wire = this.#wire;
    wire.close(raw, code, reason);
    // Dropping a socket that is closed already does nothing, on every runtime.
    const timer = setTimeout(() => wire.terminate(raw), REFUSED_CLOSE_MS);
    // Deno's timers are numbers: it has no unref here.
    (timer as { unref?: () => void }).unref?.();
  }

  close(client: Client, code: number, reason: string): void {
    this.hub.close(client, code, reason);
  }

  /** Once a second: idle sockets, the replay window and history, and the dashboard's sample. */
  sweep(now = performance.now()): void {
    this.monitor.sample();
    this.#recovery.sweep();
    this.#lifecycle.sweepIdle(now);
    this.pusher.sweep(now);
  }

  shutdown(): Promise<void> {
    this.admissions.evict(CLOSE_GOING_AWAY, 'server shutting down', 'shutdown');
    // Asked once every socket is closed: the first-frame ones just now, the open ones by the lifecycle.
    return this.#lifecycle.shutdown(() => this.#wire.closesSent?.() ?? Promise.resolve());
  }

  // ---- casts and the bridge's requests, over every node

  cast(host: string, selection: Selection, data: unknown, except: string | undefined): number {
    return this.#publishing.cast(host, selection, data, except);
  }

  castText(host: string, selection: Selection, frame: string, except: string | undefined): number {
    return this.#publishing.castText(host, selection, frame, except);
  }

  castEverywhere(host: string, selection: Selection, data: unknown, except: string | undefined): Promise<Spread<number>> {
    return this.#publishing.castEverywhere(host, selection, data, except);
  }

  subscribeEverywhere(host: string, selection: Selection, channel: string, join: boolean): Promise<Spread<number>> {
    return this.#publishing.subscribeEverywhere(host, selection, channel, join);
  }

  disconnectEverywhere(host: string, selection: Selection, code: number, reason: string): Promise<Spread<number>> {
    return this.#publishing.disconnectEverywhere(host, selection, code, reason);
  }

  channelsEverywhere(host: string, which: { prefix?: string; channel?: string }): Promise<Spread<Record<string, number>>> {
    return this.#publishing.channelsEverywhere(host, which);
  }

  /** The users of a channel with members by user. */
  users(host: string, channel: string): Promise<Map<string, unknown>> {
    return this.#channels.users(host, channel);
  }

  presenceEverywhere(host: string, channel: string): Promise<Spread<Presence>> {
    return this.#publishing.presenceEverywhere(host, channel);
  }

  healthEverywhere(): Promise<Spread<ClusterHealth>> {
    return this.#publishing.healthEverywhere();
  }

  /**
   * A Pusher app's webhook batch to the `webhook` hook of a host (its
   * resident workers or module): the whole outcome, so the webhook queue can
   * tell a retry from a refusal; undefined when no host of that name is
   * configured now.
   */
  runWebhook(host: string, app: string, body: string, signal?: AbortSignal): Promise<HookOutcome> | undefined {
    const route = this.#routes.match(host);
    return route && this.#hooks.outcome({ host, id: '', token: app }, route, 'webhook', body, undefined, signal);
  }

  history(host: string, stream: { channel: string } | { token: string }, since?: Position): Since | undefined {
    return this.#recovery.history(host, stream, since);
  }

  lastKept(host: string, channel: string): Kept | undefined {
    return this.#recovery.last(host, channel);
  }

  // ---- what /health, /metrics and the dashboard show

  /** The nodes as the broker knows them; undefined for a node alone. */
  get cluster(): BrokerStatus | undefined {
    return this.#broker.status();
  }

  stats(): Record<string, HostStats> {
    return this.hub.stats();
  }

  sizes(): ReturnType<Hub['sizes']> {
    return this.hub.sizes();
  }

  label(host: string): string {
    return this.#routes.label(host);
  }

  get sockets(): number {
    return this.hub.size;
  }

  get admitting(): number {
    return this.#admission.admissions.size;
  }

  /** Joins waiting for the shared store. */
  get recoveryWaiting(): number {
    return this.#recovery.waiting;
  }

  poolHealth(): PoolsHealth {
    return this.pools.health();
  }

  recoveryHealth(): RecoveryHealth {
    return this.#recovery.health();
  }

  get feed(): Monitor['feed'] {
    return this.monitor.feed;
  }

  /** Gauges of parts outside the core (the Pusher apps' webhooks), asked for at each scrape. */
  readonly #moreMetrics: Array<() => Gauge[]> = [];

  addMetrics(gauges: () => Gauge[]): void {
    this.#moreMetrics.push(gauges);
  }

  metricsText(): string {
    return this.monitor.metricsText(this.#moreMetrics.flatMap((gauges) => gauges()));
  }

  dashboard(after = 0): ReturnType<Monitor['dashboard']> {
    return this.monitor.dashboard(after);
  }
}
