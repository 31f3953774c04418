/**
 * A reload (SIGHUP, POST /reload): the config read again and applied without
 * dropping sockets. Everything that can fail is read first (the config, the
 * hook modules, the runners' files, the certificate), so a reload that fails
 * changes nothing; then the new settings are swapped in without a pause.
 */
import { realpath } from 'node:fs/promises';
import type { Config } from './config/config.ts';
import type { Route } from './core/route.ts';
import type { Gateway } from './gateway.ts';
import type { Dispatcher } from './hooks/dispatch.ts';
import type { Pools } from './hooks/pool/pools.ts';
import { ResidentRunner } from './hooks/runners/resident.ts';
import { Scheduler } from './hooks/schedule.ts';
import type { Logger } from './ops/log.ts';
import type { Webhooks } from './protocols/pusher/webhooks.ts';
import type { Listener, Runtime, TlsPem } from './runtime/types.ts';
import { serialised } from './serial.ts';
import type { PrepareRoutes } from './host-routes.ts';
import { workerCap } from './host-routes.ts';
import { certFields, readTls } from './tls-pem.ts';
import { ReloadSteps } from './reload-steps.ts';

export type ReloadResult = { ok: true; hosts: string[] } | { ok: false; problems: string[] };

/** What a reload swaps and the running gateway reads as it is now: the config, the dispatcher and the schedule. */
export interface Live {
  config: Config;
  dispatcher: Dispatcher;
  scheduler: Scheduler;
}

export interface ReloadParts {
  /** The config the process started with: whether the port serves TLS, and the frame limit the runtime was given, are settled by it. */
  first: Config;
  /** Reads the config again; without it there is nothing to reload. */
  loadAgain?: () => Promise<Config>;
  prepareRoutes: PrepareRoutes;
  newDispatcher: (from: Config) => Promise<Dispatcher>;
  /** The public port, known once it listens (before any reload can be asked for). */
  listener: () => Listener;
  /** Whether the gateway has begun to stop. */
  stopping: () => boolean;
  gateway: Gateway;
  pools: Pools;
  webhooks: Webhooks;
  runtime: Pick<Runtime, 'name'>;
  log: Logger;
}

/**
 * One reload at a time, in the order asked for (SIGHUP twice, POST /reload): each reads the config and the
 * certificate once the one before has finished, so the last one asked for is what serves. Overlapping, an earlier
 * reload whose reads took longer would swap in its older pair, routes and pools after a later one.
 */
export function reloader(live: Live, parts: ReloadParts): () => Promise<ReloadResult> {
  const { first: config, loadAgain, prepareRoutes, newDispatcher, stopping, gateway, pools, webhooks, runtime, log } = parts;
  let generation = 0;
  const steps = new ReloadSteps(log);
  const failed = (problems: string[]): ReloadResult => {
    log.error('reload failed', { problems: problems.join('; ') });
    return { ok: false, problems };
  };
  return serialised(async (): Promise<ReloadResult> => {
    if (!loadAgain) return { ok: false, problems: ['nothing to reload: no config file or command line to read again'] };
    const held = steps.held();
    if (held) return failed([held]);
    // The time each step may take is the one in use when the reload begins: a change applies from the next reload on.
    const within = <T>(step: string, work: Promise<T>, counted = true) => steps.within(step, work, live.config.reloadMs, counted);
    const began = performance.now();
    let next: Config;
    try {
      next = await within('reading the config', loadAgain());
    } catch (error) {
      return failed((error as { problems?: string[] }).problems ?? [(error as Error).message]);
    }
    // A new generation for every attempt: a module that failed to load stays failed in the module cache under its URL.
    generation++;
    let routesIn: () => Map<string, Route>;
    try {
      routesIn = await prepareRoutes(next, generation, {
        // Not held against later reloads: a module whose top-level await never settles holds no thread, and the reload
        // with it fixed must run. The hosts' files are file reads like the config's.
        modules: (work) => within('importing the hook modules', work, false),
        files: (work) => within("reading the hosts' files (the SDK, the apps' real paths)", work),
      });
    } catch (error) {
      return failed([(error as Error).message]);
    }
    let nextDispatcher: Dispatcher;
    try {
      nextDispatcher = await within("finding the apps' files", newDispatcher(next));
    } catch (error) {
      return failed([(error as Error).message]);
    }
    // A stop begun while the reload read would find its new schedule and pools started behind it, running jobs while the
    // close hooks are waited for.
    if (stopping()) return failed(['the gateway is stopping']);
    const listener = parts.listener();
    // The certificate is read again at every reload (renewed in place, as certbot does) and swapped before anything
    // else changes: a pair the listener will not take fails the whole reload, and the old certificate keeps serving.
    // Whether the port serves TLS is settled at start (config.tls); a reload can change the certificate, not that.
    if (next.tls && config.tls && listener.setTls) {
      let pem: TlsPem;
      try {
        pem = await within('reading the certificate', readTls(next.tls));
        // Not given up on: Deno's swap checks the new pair with a handshake of its own (bounded) and puts the old one back
        // should it fail, so a reload that stopped waiting could report the old pair while the new one serves.
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
    if (stopping()) return failed(['the gateway is stopping']);
    // From here to the schedule nothing awaits: a /dispatch landing in between would run through the old dispatcher
    // and put the old settings back on the pools it shares with resident hosts.
    const dispatcher = (live.dispatcher = nextDispatcher);
    // Workers of the old code finish their job and go; new ones boot with the new code and settings.
    pools.replaceAll(next.php, workerCap(next));
    const routes = routesIn();
    gateway.reload(next, routes);
    // The pool of an app no host, `apps` entry or schedule names goes once its jobs are done (its hosts' close hooks too).
    pools.keepOnly(new Set([...dispatcher.apps, ...[...routes.values()].flatMap(({ runner }) => (runner instanceof ResidentRunner ? [runner.app] : []))]));
    webhooks.configure(next.pusher?.apps ?? []);
    live.scheduler.stop();
    const scheduler = (live.scheduler = new Scheduler(next, dispatcher, log, live.scheduler.running));
    // The stop may have come during the awaits above, and stopped the scheduler this one replaces.
    if (stopping()) scheduler.stop();
    // Swapped in already: a schedule slow to start is said, and starts when it can.
    await within("finding the schedule's apps", scheduler.start(realpath)).catch((error: Error) => log.warn('reload', { note: `${error.message}; the schedule starts once it has` }));
    // Node's ws and Bun close a frame over the limit they were given before the gateway sees it: a lower limit is held by
    // the gateway (incoming.ts), a higher one only where the runtime can take it.
    if (listener.setMaxFrame?.(next.limits.frame) === false && next.limits.frame > config.limits.frame) {
      log.warn('reload', { note: 'limits.frame: a higher limit takes effect at the next restart on this runtime' });
    }
    const current = live.config;
    if (next.listen !== current.listen || next.port !== current.port) {
      log.warn('reload', { note: 'listen and port changes take effect at the next restart' });
    }
    // Each runtime takes its ping interval and close timeout once, when it starts serving.
    if (next.keepalive !== current.keepalive) log.warn('reload', { note: 'keepalive changes take effect at the next restart' });
    if (next.closeTimeout !== current.closeTimeout) log.warn('reload', { note: 'closeTimeout changes take effect at the next restart' });
    live.config = next;
    log.info('reloaded', { hosts: next.hosts.map((h) => h.key).join(','), sockets: gateway.hub.size, ms: Math.round(performance.now() - began) });
    return { ok: true, hosts: next.hosts.map((h) => h.key) };
  });
}
