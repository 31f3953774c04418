/**
 * Each host's route (its config and its runner) from a config, in two steps:
 * first what the runners need from the disk and the hook modules (which may
 * fail, and change nothing), then the step that makes the runners, which
 * cannot fail. A start and every reload build their routes here.
 */
import { realpath } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { BUILTIN_DEMO, BUILTIN_NONE } from './config/config.ts';
import type { Config, HostConfig } from './config/config.ts';
import type { Route } from './core/route.ts';
import { demoHooks } from './demo/hooks.ts';
import { asHookModule, ModuleRunner } from './hooks/runners/module.ts';
import type { HookModule, ModuleCast } from './hooks/runners/module.ts';
import type { Pools } from './hooks/pool/pools.ts';
import { sdkPath } from './hooks/sdk/extract.ts';
import { OneshotRunner } from './hooks/runners/oneshot.ts';
import { ResidentRunner } from './hooks/runners/resident.ts';
import type { Runner } from './hooks/runners/runner.ts';
import type { HookSlots, SlotLimits } from './hooks/runners/slots.ts';
import type { Runtime } from './runtime/types.ts';

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

export const workerCap = (config: Config): number => config.workerCap ?? Math.max(1, availableParallelism() - 1);

export const slotLimits = ({ limits }: Config): SlotLimits => ({ processes: limits.hookProcesses, queue: limits.hookQueue, authsPerHost: limits.authsPerHost });

export interface RouteParts {
  spawn: Runtime['spawn'];
  cast: ModuleCast;
  pools: Pools;
  /** One for the life of the process: the routes' config sets its limits. */
  slots: HookSlots;
  /** The environment of every process wsgate starts, which the routes' config adds to. */
  hookEnv: Record<string, string>;
  moduleSpecifier: Runtime['moduleSpecifier'];
}

/** How a reload bounds the two reads of its routes: the hook modules, and the hosts' files (the SDK, real paths). */
export interface RouteSteps {
  modules<T>(work: Promise<T>): Promise<T>;
  files<T>(work: Promise<T>): Promise<T>;
}

const unbounded: RouteSteps = { modules: (work) => work, files: (work) => work };

/** A config's routes; `generation` counts the attempts to load its modules (0 at start, one more per reload). */
export type PrepareRoutes = (from: Config, generation: number, steps?: RouteSteps) => Promise<() => Map<string, Route>>;

/** Reads what the routes need (nothing changes yet, and it may fail), then gives the step that puts them in, which cannot. */
export function routePreparer({ spawn, cast, pools, slots, hookEnv, moduleSpecifier }: RouteParts): PrepareRoutes {
  return async (from, generation, steps = unbounded) => {
    const modules = await steps.modules(importModules(from, generation, moduleSpecifier));
    const files = new Map<string, RunnerFiles>();
    let sdk: Promise<string> | undefined;
    const sdkFile = () => (sdk ??= sdkPath());
    const readAll = async () => {
      for (const host of from.hosts) {
        files.set(
          host.key,
          await runnerFiles(host, sdkFile).catch((error: Error) => {
            throw new Error(`hosts[${JSON.stringify(host.key)}]: ${error.message}`);
          }),
        );
      }
    };
    await steps.files(readAll());
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
}
