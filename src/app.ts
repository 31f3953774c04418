/**
 * Wiring: config -> runners per host -> gateway -> Hono app -> listener, and
 * the graceful stop on SIGTERM/SIGINT.
 */
import { BUILTIN_DEMO } from './config.ts';
import type { Config, HostConfig } from './config.ts';
import { demoHooks } from './demo/hooks.ts';
import { mountDemoPage } from './demo/page.ts';
import { Gateway } from './gateway.ts';
import type { Route } from './gateway.ts';
import type { Logger } from './log.ts';
import { asHookModule, ModuleRunner } from './runners/module.ts';
import type { HookModule, ModuleCast } from './runners/module.ts';
import { Dispatcher } from './dispatch.ts';
import { Pools } from './pool/pools.ts';
import { Scheduler } from './schedule.ts';
import { OneshotRunner } from './runners/oneshot.ts';
import { ResidentRunner } from './runners/resident.ts';
import type { Runner } from './runners/runner.ts';
import type { Listener, Runtime } from './runtime/types.ts';
import { createApp } from './server.ts';
import { parseExcept, parseTarget } from './targets.ts';

export interface Running {
  gateway: Gateway;
  listener: Listener;
  /** Stops accepting, closes sockets with 1001, waits (bounded) for close hooks. */
  stop(): Promise<void>;
}

async function importHooks(path: string): Promise<HookModule> {
  if (path === BUILTIN_DEMO) return demoHooks;
  const exports = (await import(new URL(`file://${path}`).href)) as Record<string, unknown>;
  return asHookModule(exports, path);
}

async function createRunner(host: HostConfig, runtime: Runtime, cast: ModuleCast, pools: Pools): Promise<Runner> {
  if (host.mode === 'module') return new ModuleRunner(await importHooks(host.module!), cast);
  if (host.mode === 'resident') {
    // Pools are keyed by real path, as /dispatch compares apps.
    const app = await runtime.realPath(host.app!).catch(() => host.app!);
    return new ResidentRunner(pools.get(app, host.pool!, host.timeoutMs), host.timeoutMs);
  }
  return new OneshotRunner({ command: host.command!, spawn: runtime.spawn, timeoutMs: host.timeoutMs });
}

export async function start(config: Config, runtime: Runtime, log: Logger): Promise<Running> {
  // Module hooks cast through the gateway, which exists only once the runners do.
  let gateway: Gateway | undefined;
  const cast: ModuleCast = (host, data, options = {}) => {
    const target = parseTarget(options.target);
    if (!target.ok) throw new Error(target.reason);
    const except = parseExcept(options.except);
    if (!except.ok) throw new Error(except.reason);
    return gateway!.cast(host, target.selection, data, except.except);
  };
  const pools = new Pools(config.workerCap ?? Math.max(1, runtime.cores() - 1), config.php, runtime.spawn, log);
  const routes = new Map<string, Route>();
  for (const host of config.hosts) routes.set(host.key, { config: host, runner: await createRunner(host, runtime, cast, pools) });
  gateway = new Gateway(config, routes, log, pools);

  const dispatcher = await Dispatcher.create(config, pools, runtime.spawn, runtime.realPath);
  const demo = config.hosts.some((h) => h.module === BUILTIN_DEMO);
  const app = createApp(gateway, {
    paths: config.paths,
    upgradeWebSocket: runtime.upgradeWebSocket,
    dispatcher,
    log,
    extra: demo ? mountDemoPage : undefined,
  });
  const listener = await runtime.serve(app, { hostname: config.listen, port: config.port });
  log.info('listening', {
    url: `http://${config.listen.includes(':') ? `[${config.listen}]` : config.listen}:${listener.port}`,
    runtime: runtime.name,
    hosts: config.hosts.map((h) => h.key).join(','),
    config: config.file ?? (demo ? 'built-in demo' : 'command line'),
  });

  const scheduler = new Scheduler(config, dispatcher, log);
  await scheduler.start(runtime.realPath);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await listener.stop();
      scheduler.stop();
      await gateway!.shutdown();
      await Promise.all([...routes.values()].map((r) => r.runner.stop?.()));
      await pools.stop();
    })());
  return { gateway, listener, stop };
}
