/**
 * What roundtrip.ts and upgrades.ts share: the closed-loop client process
 * (loop-client.mjs), CPU snapshots of server, client and the PHP processes
 * the server runs, waiting until a server has no hook work left, and the
 * measured-window routine that ties them together.
 */
import { execFileSync, fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, HOST, ROOT, fmt, freePort, quantileSorted, scriptCommand, sleep, startServer, track, withTimeout, wsgateCommand } from './harness.ts';
import type { Command, Server, WsgateRuntime } from './harness.ts';
import { childrenOf, cmdline, cpu, exeOf, reapedChildTicks, ticksToMicros } from './proc.ts';

export const ECHO_APP = join(BENCH_DIR, 'php', 'echo.php');

/** The host names the bench config serves, one per hook mode. */
export const BENCH_HOSTS = { oneshot: 'oneshot.bench', resident: 'resident.bench', module: 'module.bench' } as const;
export type HookMode = keyof typeof BENCH_HOSTS;

/**
 * Writes a wsgate config with one host per mode (one-shot and resident PHP on
 * scripts/bench/php/echo.php, and an in-process echo module), the given
 * pool cap and, when given, the pool's maxJobs (else wsgate's default); with
 * `unlimited`, the per-socket message rate limit lifted (see acceptsLimits).
 * Returns its path.
 */
export function writeBenchConfig(dir: string, cap: number, php = 'php', maxJobs?: number, unlimited = false): string {
  const hooks = join(dir, 'echo-hooks.mjs');
  writeFileSync(hooks, '// In-process echo: accept every socket, send each message back as one frame.\nexport const auth = () => true;\nexport const receive = (ctx) => ctx.send(ctx.message);\n');
  const file = join(dir, `wsgate-cap${cap}${maxJobs === undefined ? '' : `-max${maxJobs}`}${unlimited ? '-unlimited' : ''}.json`);
  const config = {
    listen: HOST,
    port: 0,
    php,
    pool: maxJobs === undefined ? { cap } : { cap, maxJobs },
    // A closed loop sends as fast as replies come back: lift the per-socket message rate limit where the build has one.
    ...(unlimited ? { limits: UNLIMITED } : {}),
    hosts: {
      [BENCH_HOSTS.oneshot]: { app: ECHO_APP, build: true },
      [BENCH_HOSTS.resident]: { app: ECHO_APP, build: false },
      [BENCH_HOSTS.module]: { module: hooks },
    },
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

const UNLIMITED = { messagesPerSecond: 1_000_000_000, messageBurst: 1_000_000_000 };

/**
 * Whether this wsgate build knows the `limits` config field (newer builds
 * limit each socket to 100 messages/s by default, older ones reject the
 * field): `wsgate check` on a config that sets it.
 */
export function acceptsLimits(wsgate: (args: string[]) => Command, dir: string): boolean {
  const file = join(dir, 'probe-limits.json');
  writeFileSync(file, JSON.stringify({ hosts: { [BENCH_HOSTS.oneshot]: { app: ECHO_APP, build: true } }, limits: UNLIMITED }));
  const { argv } = wsgate(['check', '--config', file]);
  try {
    execFileSync(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

export function phpExe(php = 'php'): string {
  const path = php.includes('/') ? php : execFileSync('sh', ['-c', `command -v ${php}`], { encoding: 'utf8' }).trim();
  return realpathSync(path);
}

// ---------------------------------------------------------------- the client

type ClientMessage =
  | { type: 'opened'; open: number; failed: number; errors: string[]; ms: number }
  | { type: 'started' }
  | { type: 'warm' }
  | { type: 'marked' }
  | { type: 'result'; ms: number; latencies: number[]; count: number; mismatches: number; refused: number; inFlight: number; errors: string[] }
  | { type: 'closed'; ms: number };

export interface LoopClient {
  child: ChildProcess;
  send(message: Record<string, unknown>): void;
  next<T extends ClientMessage['type']>(type: T, ms: number): Promise<Extract<ClientMessage, { type: T }>>;
  kill(): void;
}

/** Forks loop-client.mjs. Messages are kept until asked for, so none is missed between two `next` calls. */
export function startLoopClient(): LoopClient {
  const child = track(fork(join(BENCH_DIR, 'loop-client.mjs'), [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const mailbox: ClientMessage[] = [];
  const waiters = new Set<{ type: string; resolve: (m: ClientMessage) => void }>();
  let gone: Error | undefined;
  child.on('message', (message: ClientMessage) => {
    for (const waiter of waiters) {
      if (waiter.type !== message.type) continue;
      waiters.delete(waiter);
      return waiter.resolve(message);
    }
    mailbox.push(message);
  });
  child.once('exit', (code) => (gone = new Error(`loop client exited (${code})`)));
  return {
    child,
    send: (message) => child.send(message),
    next: (type, ms) => {
      const i = mailbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(mailbox.splice(i, 1)[0] as never);
      if (gone) return Promise.reject(gone);
      let waiter: { type: string; resolve: (m: ClientMessage) => void } | undefined;
      const arrived = new Promise<never>((resolve, reject) => {
        waiter = { type, resolve: resolve as unknown as (m: ClientMessage) => void };
        waiters.add(waiter);
        child.once('exit', (code) => reject(new Error(`loop client exited (${code})`)));
      });
      return withTimeout(arrived, ms, `loop client ${type}`).finally(() => waiters.delete(waiter!));
    },
    kill: () => child.kill('SIGKILL'),
  };
}

// ---------------------------------------------------------------- CPU

export interface CpuSnapshot {
  server: number;
  client: number;
  /** Ticks of PHP children: reaped (exited) ones in total, plus each live one. */
  reaped: number;
  live: Map<number, number>;
}

function liveChildTicks(pid: number, exe: string | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (!exe) return out;
  for (const child of childrenOf(pid)) {
    if (exeOf(child) !== exe) continue;
    try {
      out.set(child, cpu(child).ticks);
    } catch {
      // exited between the listing and the read; counted in reaped once waited for
    }
  }
  return out;
}

export function snapshot(serverPid: number, clientPid: number, php: string | undefined): CpuSnapshot {
  return { server: cpu(serverPid).ticks, client: cpu(clientPid).ticks, reaped: reapedChildTicks(serverPid), live: liveChildTicks(serverPid, php) };
}

/**
 * CPU between two snapshots in µs: server, client and PHP. PHP = reaped delta
 * + live at the end - live at the start, which counts a one-shot process that
 * was running at the start only for its time inside the window.
 */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): { serverUs: number; clientUs: number; phpUs: number } {
  let php = b.reaped - a.reaped;
  for (const ticks of b.live.values()) php += ticks;
  for (const ticks of a.live.values()) php -= ticks;
  return { serverUs: ticksToMicros(b.server - a.server), clientUs: ticksToMicros(b.client - a.client), phpUs: ticksToMicros(php) };
}

// ---------------------------------------------------------------- drain

async function health(port: number): Promise<{ pools?: Record<string, { busy: number; queued: number }> } | undefined> {
  try {
    const res = await fetch(`http://${HOST}:${port}/health`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as { pools?: Record<string, { busy: number; queued: number }> };
  } catch {
    return undefined;
  }
}

/**
 * Waits (bounded) until the server runs no one-shot hook process and its
 * pools have nothing busy or queued, twice in a row 100 ms apart; returns the ms waited.
 */
export async function waitDrain(server: Server, wsgate: boolean, maxMs = 60_000): Promise<number> {
  const started = Date.now();
  let clean = 0;
  await sleep(150);
  while (Date.now() - started < maxMs) {
    const hooks = childrenOf(server.pid).filter((pid) => cmdline(pid).some((arg) => arg.startsWith('websocket::'))).length;
    let busy = 0;
    if (wsgate) {
      const h = await health(server.port);
      for (const pool of Object.values(h?.pools ?? {})) busy += pool.busy + pool.queued;
    }
    clean = hooks === 0 && busy === 0 ? clean + 1 : 0;
    if (clean >= 2) break;
    await sleep(100);
  }
  return Date.now() - started;
}

// ---------------------------------------------------------------- a measured window

export interface Window {
  count: number;
  ms: number;
  perSecond: number;
  p50: number;
  p99: number;
  serverCpuUs: number;
  phpCpuUs: number;
  clientCpuUs: number;
  mismatches: number;
  refused: number;
  errors: string[];
}

/**
 * With the client already looping (after `start` or `upgrades`): warm up
 * (`warmupMs`, and at least until every socket or lane has finished one
 * cycle, bounded at 60 s), mark, measure for `durationMs`, stop; CPU per
 * counted event for the server, the client and PHP.
 */
export async function measureWindow(client: LoopClient, server: Server, php: string | undefined, warmupMs: number, durationMs: number): Promise<Window> {
  const warm = client.next('warm', 60_000);
  await Promise.all([sleep(warmupMs), warm]);
  client.send({ cmd: 'mark' });
  await client.next('marked', 10_000);
  const a = snapshot(server.pid, client.child.pid!, php);
  await sleep(durationMs);
  const b = snapshot(server.pid, client.child.pid!, php);
  client.send({ cmd: 'stop' });
  const result = await client.next('result', 30_000);
  const sorted = result.latencies.sort((x, y) => x - y);
  const used = cpuBetween(a, b);
  const n = Math.max(1, result.count);
  return {
    count: result.count,
    ms: result.ms,
    perSecond: (result.count * 1000) / result.ms,
    p50: quantileSorted(sorted, 0.5),
    p99: quantileSorted(sorted, 0.99),
    serverCpuUs: used.serverUs / n,
    phpCpuUs: used.phpUs / n,
    clientCpuUs: used.clientUs / n,
    mismatches: result.mismatches,
    refused: result.refused,
    errors: result.errors,
  };
}

/** One closed-loop cell: sockets opened on a server, then a measured window of round trips. */
export interface LoopCell {
  /** What the log line names it. */
  label: string;
  /** The Host header, if the server routes by it. */
  host?: string;
  sockets: number;
  size: number;
  /** The PHP binary whose processes under the server count as PHP CPU (none: no PHP). */
  php?: string;
  /** The server is wsgate (it drains its hooks before and after). */
  wsgate: boolean;
  warmupMs: number;
  durationMs: number;
}

/** Runs a cell on `server`: its window and how long the sockets took to open, or why it failed. Never throws. */
export async function loopCell(server: Server, cell: LoopCell): Promise<Partial<Window> & { openMs?: number; error?: string }> {
  const client = startLoopClient();
  try {
    client.send({ cmd: 'open', url: `ws://${HOST}:${server.port}/websocket`, host: cell.host, sockets: cell.sockets, size: cell.size, concurrency: 16 });
    const opened = await client.next('opened', 180_000);
    if (opened.open !== cell.sockets) throw new Error(`opened ${opened.open} of ${cell.sockets} sockets (${opened.errors.join('; ')})`);
    await waitDrain(server, cell.wsgate);
    client.send({ cmd: 'start' });
    await client.next('started', 10_000);
    const window = await measureWindow(client, server, cell.php, cell.warmupMs, cell.durationMs);
    client.send({ cmd: 'close' });
    await client.next('closed', 60_000);
    await waitDrain(server, cell.wsgate);
    console.error(
      `  ${cell.label}: p50 ${fmt(window.p50)} ms, p99 ${fmt(window.p99)} ms, ${fmt(window.perSecond, 0)} msg/s; ` +
        `CPU µs/msg server ${fmt(window.serverCpuUs, 0)}, php ${fmt(window.phpCpuUs, 0)}, client ${fmt(window.clientCpuUs, 0)}`,
    );
    if (window.count === 0) return { ...window, openMs: opened.ms, error: `no replies in ${cell.durationMs} ms (${window.errors.join('; ')})` };
    if (window.mismatches) return { ...window, openMs: opened.ms, error: `${window.mismatches} replies differed from what was sent` };
    return { ...window, openMs: opened.ms };
  } catch (error) {
    console.error(`  ${cell.label} failed: ${(error as Error).message}\n    ${server.logTail.slice(-5).join('\n    ')}`);
    return { error: (error as Error).message };
  } finally {
    client.kill();
  }
}

/** Starts `command` (on `port` when given, see StartOptions.port), runs `run`, stops it; undefined when it did not start. */
export async function withServer<T>(command: Command, run: (server: Server) => Promise<T>, port?: number): Promise<T | undefined> {
  console.error(`- ${command.name}: starting`);
  let server: Server;
  try {
    server = await startServer(command, { port });
  } catch (error) {
    console.error(`  ${command.name} failed to start: ${(error as Error).message}`);
    return undefined;
  }
  try {
    return await run(server);
  } finally {
    await server.stop();
  }
}

/** One server under test, in one hook mode: what a benchmark cell needs to know. */
export interface Target {
  server: Server;
  /** The command's name, e.g. wsgate-bun or echo-node. */
  name: string;
  runtime: WsgateRuntime;
  mode: 'bare' | HookMode;
  /** The pool cap, for resident cells. */
  cap?: number;
  /** The Host header the mode is served under (none for bare servers). */
  host?: string;
  wsgate: boolean;
}

export interface Servers {
  runtimes: WsgateRuntime[];
  modes: HookMode[];
  caps: number[];
  /** Also the bare echo servers (Node + ws, Bun; Deno when `runtimes` has deno). */
  bare: boolean;
  work: string;
  php: string;
  maxJobs?: number;
  binary?: string;
}

/**
 * Starts every server under test in turn (the bare echo servers: Node, Bun,
 * and Deno when wsgate runs on Deno; then wsgate
 * on each runtime with each pool cap; modes other than resident only with
 * the first cap) and calls `visit` for each mode it serves.
 */
export async function eachTarget(servers: Servers, visit: (target: Target) => Promise<void>): Promise<void> {
  if (servers.bare) {
    const bare: Array<{ runtime: 'node' | 'bun' | 'deno'; command: Command }> = [
      { runtime: 'node', command: scriptCommand('node', 'echo-node', 'echo-node.mjs') },
      { runtime: 'bun', command: scriptCommand('bun', 'echo-bun', 'echo-bun.ts') },
      // Deno's own socket floor, when wsgate runs on Deno in this run.
      ...(servers.runtimes.includes('deno') ? [{ runtime: 'deno' as const, command: scriptCommand('deno', 'echo-deno', 'echo-deno.ts') }] : []),
    ];
    for (const { runtime, command } of bare) {
      await withServer(command, (server) => visit({ server, name: command.name, runtime, mode: 'bare', wsgate: false }));
    }
  }
  for (const runtime of servers.runtimes) {
    const unlimited = acceptsLimits((args) => wsgateCommand(runtime, args, servers.binary), servers.work);
    if (unlimited) console.error(`- wsgate-${runtime}: lifting the per-socket message rate limit (limits.messagesPerSecond, messageBurst)`);
    for (const [i, cap] of servers.caps.entries()) {
      const modes = i === 0 ? servers.modes : servers.modes.filter((m) => m === 'resident');
      if (modes.length === 0) continue;
      const config = writeBenchConfig(servers.work, cap, servers.php, servers.maxJobs, unlimited);
      const port = await freePort();
      const command = wsgateCommand(runtime, ['serve', '--port', String(port), '--listen', HOST, '--config', config, '--log-level', 'warn'], servers.binary);
      await withServer(
        command,
        async (server) => {
          for (const mode of modes) {
            await visit({ server, name: command.name, runtime, mode, cap: mode === 'resident' ? cap : undefined, host: BENCH_HOSTS[mode], wsgate: true });
          }
        },
        port,
      );
    }
  }
}
