/**
 * Wiring: config -> runners per host -> gateway -> Hono app -> listener, and
 * the graceful stop on SIGTERM/SIGINT.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { availableParallelism, hostname } from 'node:os';
import type { Context, Hono } from 'hono';
import { bearerMatches, cameOverTls, loopbackTrust } from './http/access.ts';
import type { Trust } from './http/access.ts';
import { busPrefix, redactRedisUrl } from './config/redis-url.ts';
import { BUILTIN_DEMO, BUILTIN_NONE, demoPusherApp } from './config/config.ts';
import type { Config, HostConfig } from './config/config.ts';
import { demoHooks } from './demo/hooks.ts';
import { mountDemoPage } from './demo/page.ts';
import { mountPusherDemo } from './demo/pusher-page.ts';
import { Gateway } from './gateway.ts';
import type { Route } from './core/route.ts';
import type { Logger } from './ops/log.ts';
import { asHookModule, ModuleRunner } from './hooks/runners/module.ts';
import type { HookModule, ModuleCast } from './hooks/runners/module.ts';
import { moduleCast } from './hooks/runners/module-cast.ts';
import { Dispatcher } from './hooks/dispatch.ts';
import type { DispatchJob } from './hooks/dispatch.ts';
import { Pools } from './hooks/pool/pools.ts';
import { Scheduler } from './hooks/schedule.ts';
import { sdkPath } from './hooks/sdk/extract.ts';
import { OneshotRunner } from './hooks/runners/oneshot.ts';
import { ResidentRunner } from './hooks/runners/resident.ts';
import type { Runner } from './hooks/runners/runner.ts';
import { HookSlots } from './hooks/runners/slots.ts';
import type { SlotLimits } from './hooks/runners/slots.ts';
import { serialised } from './serial.ts';
import type { GoneSignal, Listener, Runtime, TlsPem } from './runtime/types.ts';
import { createApp } from './http/public.ts';
import { webhookObserver } from './protocols/pusher/webhook-observer.ts';
import { Webhooks } from './protocols/pusher/webhooks.ts';
import { pusherGauges } from './protocols/pusher/metrics.ts';
import { createBridgeApp } from './http/bridge-app.ts';
import { MemoryBroker } from './core/memory-broker.ts';
import { VERSION } from './version.ts';
import { MemorySettle, SETTLE_TICK_MS } from './ops/memory-settle.ts';

export type ReloadResult = { ok: true; hosts: string[] } | { ok: false; problems: string[] };

export interface Running {
  gateway: Gateway;
  listener: Listener;
  /** Re-reads the config and applies it without dropping sockets. */
  reload(): Promise<ReloadResult>;
  /** Stops accepting upgrades, closes sockets with 1001, waits (bounded) for close hooks and webhooks, then closes the port. */
  stop(): Promise<void>;
}

/** A fresh file URL per reload (`?reload=<generation>`), which Node and Deno cache apart: edited modules load anew. */
function fileUrlSpecifier(path: string, generation: number): string {
  const url = new URL(`file://${path}`);
  if (generation > 0) url.searchParams.set('reload', String(generation));
  return url.href;
}

async function importHooks(path: string, generation: number, specifier: NonNullable<Runtime['moduleSpecifier']> = fileUrlSpecifier): Promise<HookModule> {
  if (path === BUILTIN_DEMO) return demoHooks;
  // A Pusher app's own space: its channels are guarded by the app's signatures, and it runs no hooks.
  if (path === BUILTIN_NONE) return {};
  const exports = (await import(specifier(path, generation)).catch((error: Error) => {
    throw new Error(`${path}: cannot load: ${error.message}`);
  })) as Record<string, unknown>;
  return asHookModule(exports, path);
}

/**
 * The hook modules a config names, imported before anything is built from it:
 * one that does not load fails the start, or the reload with nothing changed.
 */
async function importModules(from: Config, generation: number, specifier: Runtime['moduleSpecifier']): Promise<Map<string, HookModule>> {
  const modules = new Map<string, HookModule>();
  for (const host of from.hosts) {
    if (host.mode === 'module' && !modules.has(host.module!)) modules.set(host.module!, await importHooks(host.module!, generation, specifier));
  }
  return modules;
}

interface RunnerContext {
  spawn: Runtime['spawn'];
  cast: ModuleCast;
  pools: Pools;
  php: string;
  modules: Map<string, HookModule>;
  slots: HookSlots;
  hookLine: number;
}

/** What a host's runner needs from the disk: read before anything is swapped, so a reload that cannot read it changes nothing. */
interface RunnerFiles {
  /** The SDK runner and the hooks file, for a plain PHP hooks file. */
  sdk?: string[];
  /** A resident host's pool key: its file's real path, as /dispatch compares apps. */
  key?: string;
}

/** `sdkFile`: the SDK's path, written and checked once however many hosts run it. */
async function runnerFiles(host: HostConfig, sdkFile: () => Promise<string>): Promise<RunnerFiles> {
  if (host.mode === 'module') return {};
  // A plain PHP hooks file runs through the SDK, which wsgate carries inside itself.
  const sdk = host.hooks ? [await sdkFile(), host.hooks] : undefined;
  if (host.mode !== 'resident') return { sdk };
  const file = host.app ?? host.hooks!;
  return { sdk, key: await realpath(file).catch(() => file) };
}

function createRunner(host: HostConfig, ctx: RunnerContext, files: RunnerFiles): Runner {
  const { pools, spawn } = ctx;
  if (host.mode === 'module') return new ModuleRunner(ctx.modules.get(host.module!)!, ctx.cast);
  if (host.mode === 'resident') {
    const [key, leading] = [files.key!, files.sdk ?? [files.key!]];
    pools.get(key, host.pool!, host.timeoutMs, leading);
    return new ResidentRunner(key, () => pools.forHost(key, host.pool!, host.timeoutMs, leading), host.timeoutMs);
  }
  const command = files.sdk ? [ctx.php, ...files.sdk] : host.command!;
  return new OneshotRunner({ command, spawn, timeoutMs: host.timeoutMs, slots: ctx.slots, maxLine: ctx.hookLine });
}

/** An address PHP on this machine can call: a wildcard bind is reached on loopback. */
function callableHost(listen: string): string {
  if (listen === '0.0.0.0' || listen === '') return '127.0.0.1';
  if (listen === '::') return '[::1]';
  return listen.includes(':') ? `[${listen}]` : listen;
}

/** The certificate chain and key as the listener takes them (the config check has read them once already). */
async function readTls(tls: NonNullable<Config['tls']>): Promise<TlsPem> {
  return { cert: await readFile(tls.cert, 'utf8'), key: await readFile(tls.key, 'utf8') };
}

/** What the log says of a certificate being served: whose it is and until when. */
function certFields(pem: TlsPem, file: string): Record<string, string> {
  try {
    const cert = new X509Certificate(pem.cert);
    return { cert: file, subject: cert.subject.replace(/\n/g, ', '), expires: new Date(cert.validTo).toISOString() };
  } catch {
    return { cert: file };
  }
}

const workerCap = (config: Config) => config.workerCap ?? Math.max(1, availableParallelism() - 1);

const slotLimits = ({ limits }: Config): SlotLimits => ({ processes: limits.hookProcesses, queue: limits.hookQueue, authsPerHost: limits.authsPerHost });

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
  let generation = 0;
  /** Reads what the routes need (nothing changes yet, and it may fail), then gives the step that puts them in, which cannot. */
  const prepareRoutes = async (from: Config, modules: Map<string, HookModule>) => {
    const files = new Map<string, RunnerFiles>();
    let sdk: Promise<string> | undefined;
    const sdkFile = () => (sdk ??= sdkPath());
    for (const host of from.hosts) {
      files.set(
        host.key,
        await runnerFiles(host, sdkFile).catch((error: Error) => {
          throw new Error(`hosts[${JSON.stringify(host.key)}]: ${error.message}`);
        }),
      );
    }
    return () => {
      slots.configure(slotLimits(from));
      pools.maxLine = from.limits.hookLine;
      // The SDK's workers send a line that has grown past it at once, rather than hold it to its end (php/wsgate.php).
      hookEnv.WSGATE_HOOK_LINE = String(from.limits.hookLine);
      const routes = new Map<string, Route>();
      const ctx = { spawn, cast, pools, php: from.php, modules, slots, hookLine: from.limits.hookLine };
      for (const host of from.hosts) routes.set(host.key, { config: host, runner: createRunner(host, ctx, files.get(host.key)!) });
      return routes;
    };
  };
  // Alone, or among other nodes over Redis: the gateway does not ask which.
  // The bus's keys and channels; in a Redis Cluster all under one hash tag (busPrefix).
  const bus = config.cluster ? busPrefix(config.cluster.redis, config.cluster.prefix) : '';
  // ioredis and the cluster's modules load only for a cluster: a single node starts without them (about 0.3 s sooner on Node from source).
  const cluster = config.cluster && {
    ...(await import('./cluster/redis-broker.ts')),
    ...(await import('./cluster/redis-members.ts')),
  };
  const redis = config.cluster && cluster && new cluster.RedisBroker({ redis: config.cluster.redis, prefix: bus, deadlineMs: config.cluster.deadlineMs, heartbeatMs: config.cluster.heartbeatMs, ttlMs: config.cluster.ttlMs }, log);
  const broker = redis || new MemoryBroker();
  // Module hooks cast through the gateway: its routes (and their runners) come once it exists.
  // Members by user and channel occupancy, decided once over the nodes; its own connection, which fails at once while Redis is away.
  const members = config.cluster && cluster && new cluster.RedisMembers(cluster.connectMembers(config.cluster.redis, config.cluster.deadlineMs), { prefix: config.cluster.prefix, nodesKey: `${bus}nodes`, unseenMs: config.cluster.ttlMs + 2 * config.cluster.heartbeatMs }, log);
  const gateway = new Gateway(config, new Map(), log, pools, runtime.wire, broker, { members: members || undefined, checkUpgrades });
  const cast = moduleCast(gateway);
  gateway.reload(config, (await prepareRoutes(config, await importModules(config, generation, runtime.moduleSpecifier)))());
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

  let dispatcher = await Dispatcher.create(config, pools, spawn, realpath, slots);
  let scheduler = new Scheduler(config, dispatcher, log);
  let current = config;

  let stopping: Promise<void> | undefined;
  const failed = (problems: string[]): ReloadResult => {
    log.error('reload failed', { problems: problems.join('; ') });
    return { ok: false, problems };
  };

  // One reload at a time, in the order asked for (SIGHUP twice, POST /reload): each reads the config and the
  // certificate once the one before has finished, so the last one asked for is what serves. Overlapping, an earlier
  // reload whose reads took longer would swap in its older pair, routes and pools after a later one.
  const reload = serialised(async (): Promise<ReloadResult> => {
    if (!loadAgain) return { ok: false, problems: ['nothing to reload: no config file or command line to read again'] };
    let next: Config;
    try {
      next = await loadAgain();
    } catch (error) {
      return failed((error as { problems?: string[] }).problems ?? [(error as Error).message]);
    }
    // A new generation for every attempt: a module that failed to load stays failed in the module cache under its URL.
    generation++;
    let routesIn: () => Map<string, Route>;
    try {
      routesIn = await prepareRoutes(next, await importModules(next, generation, runtime.moduleSpecifier));
    } catch (error) {
      return failed([(error as Error).message]);
    }
    const nextDispatcher = await Dispatcher.create(next, pools, spawn, realpath, slots);
    // A stop begun while the reload read would find its new schedule and pools started behind it, running jobs while the
    // close hooks are waited for.
    if (stopping) return failed(['the gateway is stopping']);
    // The certificate is read again at every reload (renewed in place, as certbot does) and swapped before anything
    // else changes: a pair the listener will not take fails the whole reload, and the old certificate keeps serving.
    // Whether the port serves TLS is settled at start (config.tls); a reload can change the certificate, not that.
    if (next.tls && config.tls && listener.setTls) {
      let pem: TlsPem;
      try {
        pem = await readTls(next.tls);
        await listener.setTls(pem);
      } catch (error) {
        return failed([`tls: cannot serve ${next.tls.cert} with ${next.tls.key}: ${(error as Error).message}; the previous certificate stays in use`]);
      }
      log.info('tls', { ...certFields(pem, next.tls.cert), note: 'new connections get this certificate, open ones keep theirs' });
    } else if (next.tls && config.tls) {
      log.warn('reload', { note: `tls: certificate changes take effect at the next restart on ${runtime.name}` });
    } else if (Boolean(next.tls) !== Boolean(config.tls)) {
      log.warn('reload', { note: 'turning tls on or off takes effect at the next restart' });
    }
    if (stopping) return failed(['the gateway is stopping']);
    // From here to the schedule nothing awaits: a /dispatch landing in between would run through the old dispatcher
    // and put the old settings back on the pools it shares with resident hosts.
    dispatcher = nextDispatcher;
    // Workers of the old code finish their job and go; new ones boot with the new code and settings.
    pools.replaceAll(next.php, workerCap(next));
    const routes = routesIn();
    gateway.reload(next, routes);
    // The pool of an app no host, `apps` entry or schedule names goes once its jobs are done (its hosts' close hooks too).
    pools.keepOnly(new Set([...dispatcher.apps, ...[...routes.values()].flatMap(({ runner }) => (runner instanceof ResidentRunner ? [runner.app] : []))]));
    webhooks.configure(next.pusher?.apps ?? []);
    scheduler.stop();
    scheduler = new Scheduler(next, dispatcher, log, scheduler.running);
    // The stop may have come during the awaits above, and stopped the scheduler this one replaces.
    if (stopping) scheduler.stop();
    await scheduler.start(realpath);
    // Node's ws and Bun close a frame over the limit they were given before the gateway sees it: a lower limit is held by
    // the gateway (incoming.ts), a higher one only where the runtime can take it.
    if (listener.setMaxFrame?.(next.limits.frame) === false && next.limits.frame > config.limits.frame) {
      log.warn('reload', { note: 'limits.frame: a higher limit takes effect at the next restart on this runtime' });
    }
    if (next.listen !== current.listen || next.port !== current.port) {
      log.warn('reload', { note: 'listen and port changes take effect at the next restart' });
    }
    // Each runtime takes its ping interval and close timeout once, when it starts serving.
    if (next.keepalive !== current.keepalive) log.warn('reload', { note: 'keepalive changes take effect at the next restart' });
    if (next.closeTimeout !== current.closeTimeout) log.warn('reload', { note: 'closeTimeout changes take effect at the next restart' });
    current = next;
    log.info('reloaded', { hosts: next.hosts.map((h) => h.key).join(','), sockets: gateway.hub.size });
    return { ok: true, hosts: next.hosts.map((h) => h.key) };
  });

  const demo = config.hosts.some((h) => h.module === BUILTIN_DEMO);
  const trusted = (c: Context, allowBasic = false): Trust => {
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
      check: (app: string) => dispatcher.check(app),
      run: (job: DispatchJob, onLine?: (line: string) => void, signal?: GoneSignal) => dispatcher.run(job, onLine, signal),
      refusal: (job: DispatchJob) => dispatcher.refusal(job),
    },
    reload,
    log,
    stopping: () => stopping !== undefined,
    extra: demo
      ? (app: Hono) => {
          mountDemoPage(app);
          mountPusherDemo(app, () => demoPusherApp(current));
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

  await scheduler.start(realpath);
  // Checked every second whatever the timeout, so a reload that turns it on needs no new timer.
  const idleSweep = setInterval(() => gateway.sweep(), 1000);

  const stop = () =>
    (stopping ??= (async () => {
      const began = performance.now();
      // Without a bridge of its own the port drains (upgrades refused with 503, /health "stopping"): the close hooks'
      // and webhook workers' casts still reach the bridge on it, and it closes once they are done.
      if (bridge) await listener.stop();
      clearInterval(idleSweep);
      clearInterval(settleTick);
      scheduler.stop();
      await gateway.shutdown();
      // After the sockets (their channel_vacated and member_removed come as they close), within what shutdownTimeout left.
      await webhooks.stop(undefined, current.shutdownMs - (performance.now() - began));
      await (bridge ?? listener).stop();
      // After the sockets' leaves went to Redis; before the broker, which may still tell what the store finds.
      if (members) await members.stop();
      await broker.stop();
      await pools.stop();
    })());
  return { gateway, listener, reload, stop };
}
