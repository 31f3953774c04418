/**
 * Wiring: config -> runners per host -> gateway -> Hono app -> listener. The
 * routes are built in host-routes.ts, a reload is reload.ts, the graceful stop
 * on SIGTERM/SIGINT is stop-sequence.ts.
 */
import { realpath } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Context, Hono } from 'hono';
import { bearerMatches, cameOverTls, loopbackTrust } from './http/access.ts';
import type { Trust } from './http/access.ts';
import { busPrefix, redactRedisUrl } from './config/redis-url.ts';
import { BUILTIN_DEMO, demoPusherApp } from './config/config.ts';
import type { Config } from './config/config.ts';
import { mountDemoPage } from './demo/page.ts';
import { mountPusherDemo } from './demo/pusher-page.ts';
import { Gateway } from './gateway.ts';
import type { Logger } from './ops/log.ts';
import { moduleCast } from './hooks/runners/module-cast.ts';
import { Dispatcher } from './hooks/dispatch.ts';
import type { DispatchJob } from './hooks/dispatch.ts';
import { Pools } from './hooks/pool/pools.ts';
import { Scheduler } from './hooks/schedule.ts';
import { HookSlots } from './hooks/runners/slots.ts';
import type { GoneSignal, Listener, Runtime } from './runtime/types.ts';
import { createApp } from './http/public.ts';
import { webhookObserver } from './protocols/pusher/webhook-observer.ts';
import { Webhooks } from './protocols/pusher/webhooks.ts';
import { pusherGauges } from './protocols/pusher/metrics.ts';
import { createBridgeApp } from './http/bridge-app.ts';
import { MemoryBroker } from './core/memory-broker.ts';
import { VERSION } from './version.ts';
import { MemorySettle, SETTLE_TICK_MS } from './ops/memory-settle.ts';
import { routePreparer, slotLimits, workerCap } from './host-routes.ts';
import { reloader } from './reload.ts';
import type { Live, ReloadResult } from './reload.ts';
import { stopSequence } from './stop-sequence.ts';
import { certFields, readTls } from './tls-pem.ts';

export type { ReloadResult } from './reload.ts';

export interface Running {
  gateway: Gateway;
  listener: Listener;
  /** Re-reads the config and applies it without dropping sockets. */
  reload(): Promise<ReloadResult>;
  /** Stops accepting upgrades, closes sockets with 1001, waits (bounded) for close hooks and webhooks, then closes the port. */
  stop(): Promise<void>;
}

/** An address PHP on this machine can call: a wildcard bind is reached on loopback. */
function callableHost(listen: string): string {
  if (listen === '0.0.0.0' || listen === '') return '127.0.0.1';
  if (listen === '::') return '[::1]';
  return listen.includes(':') ? `[${listen}]` : listen;
}

/** `loadAgain` re-reads the config for a reload (SIGHUP, POST /reload). */
export async function start(config: Config, runtime: Runtime, log: Logger, loadAgain?: () => Promise<Config>): Promise<Running> {
  // Every process wsgate starts learns where to cast back (the SDK's wsCast() reads WSGATE_URL); known once bound.
  const hookEnv: Record<string, string> = {};
  const spawn: Runtime['spawn'] = (argv, options = {}) => runtime.spawn(argv, { ...options, env: { ...hookEnv, ...options.env } });
  // A full queue or socket limit asks the runtime first: upgrades whose clients went give up their places (upgrade-watch.ts).
  const checkUpgrades = () => runtime.checkUpgrades?.();
  const pools = new Pools(workerCap(config), config.php, spawn, log, checkUpgrades);
  // One for the life of the process: a reload changes its limits, and what runs keeps its slot.
  const slots = new HookSlots(slotLimits(config), checkUpgrades);
  // Alone, or among other nodes over Redis: the gateway does not ask which.
  // The bus's keys and channels; in a Redis Cluster all under one hash tag (busPrefix).
  const bus = config.cluster ? busPrefix(config.cluster.redis, config.cluster.prefix) : '';
  // ioredis and the cluster's modules load only for a cluster: a single node starts without them (about 0.3 s sooner on Node from source).
  const cluster = config.cluster && {
    ...(await import('./cluster/redis-broker.ts')),
    ...(await import('./cluster/redis-members.ts')),
  };
  const redis = config.cluster && cluster && new cluster.RedisBroker({ redis: config.cluster.redis, prefix: bus, deadlineMs: config.cluster.deadlineMs, redisTimeoutMs: config.cluster.redisTimeoutMs, heartbeatMs: config.cluster.heartbeatMs, ttlMs: config.cluster.ttlMs }, log);
  const broker = redis || new MemoryBroker();
  // Members by user and channel occupancy, decided once over the nodes; its own connection, which fails at once while Redis is away.
  const members = config.cluster && cluster && new cluster.RedisMembers(cluster.connectMembers(config.cluster.redis, config.cluster.deadlineMs), { prefix: config.cluster.prefix, nodesKey: `${bus}nodes`, unseenMs: config.cluster.ttlMs + 2 * config.cluster.heartbeatMs }, log);
  const gateway = new Gateway(config, new Map(), log, pools, runtime.wire, broker, { members: members || undefined, checkUpgrades });
  // Module hooks cast through the gateway: its routes (and their runners) come once it exists.
  const prepareRoutes = routePreparer({ spawn, cast: moduleCast(gateway), pools, slots, hookEnv, moduleSpecifier: runtime.moduleSpecifier });
  gateway.reload(config, (await prepareRoutes(config, 0))());
  // Pusher apps' webhooks hear of channels, members and client events; what they post never holds a socket up.
  // In a cluster a user may come back on another node, whose member_added would reach the app before this node's held member_removed: nothing is held there.
  const webhooks = new Webhooks(config.pusher?.apps ?? [], { logger: log, worker: (host, app, body, signal) => gateway.runWebhook(host, app, body, signal), ...(config.cluster ? { holdMs: 0 } : {}) });
  gateway.events.observe(webhookObserver((host) => gateway.pusher.appsOn(host), webhooks));
  gateway.addMetrics(() => pusherGauges(gateway.pusher, webhooks));
  const collect = runtime.collectGarbage;
  const settle =
    collect &&
    new MemorySettle(() => {
      const started = performance.now();
      collect();
      log.debug('collected', { sockets: gateway.hub.size, ms: Math.round(performance.now() - started) });
    });
  if (settle) gateway.events.observe(settle.observer());
  const settleTick = settle && setInterval(() => settle.tick(gateway.hub.size), SETTLE_TICK_MS);

  const newDispatcher = (from: Config) => Dispatcher.create(from, pools, spawn, realpath, slots);
  const dispatcher = await newDispatcher(config);
  // The settings a reload swaps: what serves reads them from here.
  const live: Live = { config, dispatcher, scheduler: new Scheduler(config, dispatcher, log) };

  let stopping: Promise<void> | undefined;
  const reload = reloader(live, { first: config, loadAgain, prepareRoutes, newDispatcher, listener: () => listener, stopping: () => stopping !== undefined, gateway, pools, webhooks, runtime, log });

  const demo = config.hosts.some((h) => h.module === BUILTIN_DEMO);
  const trusted = (c: Context, allowBasic = false): Trust => {
    const current = live.config;
    const secret = current.secret;
    if (secret && bearerMatches(c.req.header('authorization'), secret, allowBasic)) return { ok: true };
    let peer: string | undefined;
    try {
      peer = runtime.remoteAddress(c);
    } catch {
      // Unknown peer: not trusted.
    }
    const scheme = cameOverTls(c) ? 'https' : 'http';
    const own = [current.listen, ...(current.bridge && 'listen' in current.bridge ? [current.bridge.listen] : [])].map((a) => a.replace(/^\[|\]$/g, '').toLowerCase());
    return loopbackTrust({ peer, header: (name) => c.req.header(name), scheme }, own);
  };
  const serverOptions = {
    bridgeHere: !config.bridge,
    trusted,
    upgradeWebSocket: runtime.upgradeWebSocket,
    watchUpgrade: runtime.watchUpgrade,
    dispatcher: {
      check: (app: string) => live.dispatcher.check(app),
      run: (job: DispatchJob, onLine?: (line: string) => void, signal?: GoneSignal) => live.dispatcher.run(job, onLine, signal),
      refusal: (job: DispatchJob) => live.dispatcher.refusal(job),
    },
    reload,
    log,
    stopping: () => stopping !== undefined,
    extra: demo
      ? (app: Hono) => {
          mountDemoPage(app);
          mountPusherDemo(app, () => demoPusherApp(live.config));
        }
      : undefined,
    about: { runtime: runtime.name, version: VERSION, node: hostname() },
  };
  const app = createApp(gateway, serverOptions);
  // With tls, the one public port serves https and wss only (the bridge on an address of its own stays plain http).
  const tls = config.tls && (await readTls(config.tls));
  const scheme = tls ? 'https' : 'http';
  const listener = await runtime.serve(app, {
    hostname: config.listen,
    port: config.port,
    sockets: { maxFrame: config.limits.frame, keepalive: config.keepalive, sendBuffer: config.limits.sendBuffer, closeTimeout: config.closeTimeout },
    tls,
  });
  hookEnv.WSGATE_URL = `${scheme}://${callableHost(config.listen)}:${listener.port}`;
  serverOptions.about.node = config.cluster?.node ?? `${hostname()}:${listener.port}`;
  if (redis) {
    redis.start(serverOptions.about.node);
    members!.start(serverOptions.about.node);
    redis.onNodeGone((node) => void members!.nodeGone(node));
    redis.onJoined(() => void members!.rejoined());
    log.always('cluster', { node: serverOptions.about.node, redis: redactRedisUrl(config.cluster!.redis) });
  }
  if (tls) log.info('tls', certFields(tls, config.tls!.cert));
  if (tls && !config.bridge) {
    // PHP checks the certificate against the address it calls, which a public certificate does not name.
    log.info('tls', { note: `hooks cast to ${hookEnv.WSGATE_URL}, which PHP verifies against this certificate: give the bridge a loopback port of its own ("bridge": {"port": 3002}) for plain http there` });
  }
  log.always('listening', {
    url: `${scheme}://${config.listen.includes(':') ? `[${config.listen}]` : config.listen}:${listener.port}`,
    runtime: runtime.name,
    hosts: config.hosts.map((h) => h.key).join(','),
    config: config.file ?? (demo ? 'built-in demo' : 'command line'),
  });

  let bridge: Listener | undefined;
  if (config.bridge) {
    // On a unix socket, file permissions decide who may connect: everyone who can is trusted.
    const onSocket = 'path' in config.bridge;
    const bridgeApp = createBridgeApp(gateway, { ...serverOptions, trusted: onSocket ? (): Trust => ({ ok: true }) : trusted });
    bridge = await runtime.serveHttp(bridgeApp, 'path' in config.bridge ? { path: config.bridge.path } : { hostname: config.bridge.listen, port: config.bridge.port });
    // The SDK's wsCast() speaks HTTP over the socket itself (PHP's http wrapper cannot reach one).
    hookEnv.WSGATE_URL = 'path' in config.bridge ? `unix:${config.bridge.path}` : `http://${callableHost(bridge.hostname)}:${bridge.port}`;
    log.always('bridge', { url: hookEnv.WSGATE_URL });
  }

  await live.scheduler.start(realpath);
  // Checked every second whatever the timeout, so a reload that turns it on needs no new timer.
  const idleSweep = setInterval(() => gateway.sweep(), 1000);

  const stop = () =>
    (stopping ??= stopSequence({
      listener,
      bridge,
      timers: [idleSweep, settleTick],
      scheduler: () => live.scheduler,
      gateway,
      webhooks,
      shutdownMs: () => live.config.shutdownMs,
      members: members || undefined,
      broker,
      pools,
    }));
  return { gateway, listener, reload, stop };
}
