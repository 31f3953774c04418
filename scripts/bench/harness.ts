/**
 * What the benchmark drivers share (fanout.ts, roundtrip.ts, upgrades.ts):
 * flag parsing, the real bun/deno executables and the compiled binary, the
 * wsgate command per runtime, child-process bookkeeping (every child is
 * SIGKILLed when the driver exits), starting a server and finding its port
 * and real pid, bounded waits and quantiles. Runs under Node (+ tsx).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { get, request } from 'node:http';
import type { Agent } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpu, fdLimits, isElf, serverPid } from './proc.ts';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, '..', '..');
export const HOST = '127.0.0.1';

// ---------------------------------------------------------------- flags

export interface Flags {
  has(name: string): boolean;
  get(name: string): string | undefined;
  int(name: string, fallback: number, min?: number): number;
  num(name: string, fallback: number, min?: number): number;
  list(name: string): string[] | undefined;
}

/** `--name value` and `--name=value` flags; a bad number exits with code 2. */
export function parseFlags(argv: string[] = process.argv.slice(2)): Flags {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const number = (name: string, fallback: number, min: number, whole: boolean) => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || (whole && !Number.isInteger(value))) {
      console.error(`--${name} ${raw}: expected a ${whole ? 'whole ' : ''}number >= ${min}`);
      process.exit(2);
    }
    return value;
  };
  return {
    has: (name) => argv.includes(`--${name}`),
    get,
    int: (name, fallback, min = 1) => number(name, fallback, min, true),
    num: (name, fallback, min = 0) => number(name, fallback, min, false),
    list: (name) => get(name)?.split(',').map((s) => s.trim()).filter(Boolean),
  };
}

/** Prints the file's leading doc comment and exits, when --help or -h is given. */
export function helpFromDoc(fileUrl: string, argv: string[] = process.argv.slice(2)): void {
  if (!argv.includes('--help') && !argv.includes('-h')) return;
  const doc = /\/\*\*([\s\S]*?)\*\//.exec(readFileSync(fileURLToPath(fileUrl), 'utf8'))?.[1] ?? '';
  console.log(doc.replace(/^ \* ?/gm, ''));
  process.exit(0);
}

// ---------------------------------------------------------------- binaries

/** The real executable behind node_modules/.bin/<name>: the ELF file, not a shim. */
export function realBinary(name: 'bun' | 'deno'): string {
  const candidates = [
    join(ROOT, 'node_modules', '.bin', name),
    ...(name === 'bun'
      ? [join(ROOT, 'node_modules', 'bun', 'bin', 'bun.exe'), join(ROOT, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun')]
      : [join(ROOT, 'node_modules', 'deno', 'deno'), join(ROOT, 'node_modules', '@deno', 'linux-x64-glibc', 'deno')]),
  ];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    if (isElf(real)) return real;
  }
  throw new Error(`no real ${name} executable found under node_modules (looked at ${candidates.join(', ')})`);
}

/** Newest modification time (ms) of any file under src/. */
export function newestSource(): number {
  const out = execFileSync('find', [join(ROOT, 'src'), '-type', 'f', '-printf', '%T@\n'], { encoding: 'utf8' });
  return Math.max(...out.trim().split('\n').map((t) => Number(t) * 1000));
}

/**
 * Compiles the current src/ to `outfile` the way build.ts does (`bun build
 * --compile --minify src/main.ts`), without build.ts's first step, which
 * regenerates src/hooks/sdk/wsgate-php.ts from php/wsgate.php: this writes nothing under src/.
 */
export function buildBinary(outfile: string): string {
  console.error(`building ${outfile} (bun build --compile --minify src/main.ts, as build.ts does) ...`);
  execFileSync(realBinary('bun'), ['build', '--compile', '--minify', join(ROOT, 'src', 'main.ts'), '--outfile', outfile], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return outfile;
}

/**
 * The compiled wsgate: `explicit` when given, else dist/wsgate, built with
 * `node --import tsx build.ts` (what `npm run build` runs) when missing. A
 * dist/wsgate older than the newest file under src/ is used as it is, with a
 * warning in its note: it may lag the code the source runtimes run.
 */
export function compiledBinary(explicit?: string): { path: string; note: string } {
  if (explicit) return { path: realpathSync(explicit), note: `${explicit} (given)` };
  const dist = join(ROOT, 'dist', 'wsgate');
  if (!existsSync(dist)) {
    console.error('dist/wsgate is missing: building it with node --import tsx build.ts ...');
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'build.ts')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    return { path: realpathSync(dist), note: `dist/wsgate (built now by build.ts, ${statSync(dist).mtime.toISOString()})` };
  }
  const built = statSync(dist).mtimeMs;
  const stale = built < newestSource() ? '; OLDER than the newest file under src/, so it may lag the source runtimes (rebuild, or pass --binary)' : '';
  if (stale) console.error(`warning: dist/wsgate (built ${new Date(built).toISOString()}) is older than src/`);
  return { path: realpathSync(dist), note: `dist/wsgate (built ${new Date(built).toISOString()}${stale})` };
}

export type WsgateRuntime = 'node' | 'bun' | 'deno' | 'binary';

/** A process to start: its argv and the executable the measured process must be running. */
export interface Command {
  name: string;
  argv: string[];
  exe: string;
}

/** `wsgate <args>` on a runtime: node + tsx, bun or deno on src/main.ts, or the compiled binary. */
export function wsgateCommand(runtime: WsgateRuntime, args: string[], binary?: string): Command {
  const main = join(ROOT, 'src', 'main.ts');
  const name = `wsgate-${runtime}`;
  switch (runtime) {
    case 'node': {
      const node = realpathSync(process.execPath);
      return { name, argv: [node, '--import', 'tsx', main, ...args], exe: node };
    }
    case 'bun': {
      const bun = realBinary('bun');
      return { name, argv: [bun, main, ...args], exe: bun };
    }
    case 'deno': {
      const deno = realBinary('deno');
      return { name, argv: [deno, 'run', '--allow-all', '--quiet', main, ...args], exe: deno };
    }
    case 'binary': {
      if (!binary) throw new Error('wsgate-binary needs the binary path');
      return { name, argv: [binary, ...args], exe: binary };
    }
  }
}

/** A script under scripts/bench run by a runtime (node runs .ts through tsx). */
export function scriptCommand(runtime: 'node' | 'bun' | 'deno', name: string, script: string, args: string[] = []): Command {
  const file = join(BENCH_DIR, script);
  if (runtime === 'bun') {
    const bun = realBinary('bun');
    return { name, argv: [bun, file, ...args], exe: bun };
  }
  if (runtime === 'deno') {
    const deno = realBinary('deno');
    return { name, argv: [deno, 'run', '--allow-all', '--quiet', file, ...args], exe: deno };
  }
  const node = realpathSync(process.execPath);
  return { name, argv: [node, ...(file.endsWith('.ts') ? ['--import', 'tsx'] : []), file, ...args], exe: node };
}

export function versions(): { node: string; bun: string; deno: string; php: string } {
  const first = (argv: string[]) => {
    try {
      return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).split('\n')[0]!.trim();
    } catch {
      return 'n/a';
    }
  };
  return {
    node: process.version,
    bun: first([realBinary('bun'), '--version']),
    deno: first([realBinary('deno'), '--version']),
    php: first(['php', '-r', 'echo PHP_VERSION;']),
  };
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB`;
}

// ---------------------------------------------------------------- children

const children = new Set<ChildProcess>();

/** Keeps `child` on the list that is SIGKILLed when the driver exits. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killAll(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Kills every tracked child on exit and on SIGINT/SIGTERM, and gives up after `capMs`. */
export function installCleanup(what: string, capMs: number): void {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  setTimeout(() => {
    console.error(`${what}: still running after ${Math.round(capMs / 60000)} minutes; giving up`);
    killAll();
    process.exit(1);
  }, capMs).unref();
}

/**
 * argv run with the open-files limit raised when this process's is too low.
 * `exec` keeps the pid, so the pid spawned is still the program's.
 */
export function withFdLimit(command: string[], need: number): string[] {
  const { soft, hard } = fdLimits();
  if (soft >= need) return command;
  if (hard < need) throw new Error(`open-files limit too low: need ${need}, hard limit is ${hard} (raise it with ulimit -Hn)`);
  return ['bash', '-c', `ulimit -n ${need} && exec "$@"`, 'bash', ...command];
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms)));
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- servers

export interface Server {
  child: ChildProcess;
  /** The measured pid (the real server process). */
  pid: number;
  port: number;
  logTail: string[];
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Open files the server needs (the limit is raised when lower). */
  fdNeed?: number;
  /**
   * The port the command was told to bind: readiness is then a TCP connect
   * that succeeds, not the `listening` log line (which `--log-level warn` hides).
   */
  port?: number;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** A port that was free a moment ago (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once a TCP connection to HOST:port succeeds (polled every 50 ms). */
async function acceptsConnections(port: number, child: ChildProcess): Promise<number> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('exited before listening');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: HOST, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return port;
    await sleep(50);
  }
}

/**
 * Starts a server as a child and learns its port: from the
 * `listening url=http://...:PORT` line on stderr (port 0), or, with
 * `options.port`, by connecting until it accepts. Both pipes are drained all
 * the time (wsgate logs a line per socket at info). Makes sure the pid measured
 * runs `command.exe` (walking down from a launcher when needed).
 */
/** Calls `onLine` for each complete line a stream gives (wsgate's log on stderr). */
export function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
}

export async function startServer(command: Command, options: StartOptions = {}): Promise<Server> {
  const [program, ...args] = withFdLimit(command.argv, options.fdNeed ?? 4096);
  const child = track(spawn(program!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env } }));
  const logTail: string[] = [];
  let onListening: ((port: number) => void) | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout!.on('data', () => {});
  onLines(child.stderr!, (line) => {
    logTail.push(line);
    if (logTail.length > 20) logTail.shift();
    const match = /listening url=http:\/\/[^\s:]+:(\d+)/.exec(line);
    if (match && onListening) onListening(Number(match[1]));
  });
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      onListening = resolve;
      if (options.port !== undefined) acceptsConnections(options.port, child).then(resolve, () => {});
      child.once('exit', (code, signal) => reject(new Error(`${command.name} exited (${signal ?? code}) before listening:\n  ${logTail.join('\n  ')}`)));
      child.once('error', reject);
    }),
    options.timeoutMs ?? 60_000,
    `${command.name} start`,
  ).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  const pid = serverPid(child.pid!, command.exe);
  if (pid === undefined) {
    child.kill('SIGKILL');
    throw new Error(`${command.name}: no process under pid ${child.pid} runs ${command.exe}`);
  }
  if (pid !== child.pid) console.error(`  ${command.name}: measuring pid ${pid} (a child of launcher ${child.pid})`);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await Promise.race([exited, sleep(2000)]);
      }
    }
  };
  return { child, pid, port, logTail, stop };
}

/** Waits until `pid` has used at most 1 tick in each of two consecutive 500 ms windows (bounded); returns the ms waited. */
export async function waitIdle(pid: number, maxMs = 20_000): Promise<number> {
  const started = Date.now();
  let quiet = 0;
  let last = cpu(pid).ticks;
  await sleep(500);
  while (Date.now() - started < maxMs) {
    const now = cpu(pid).ticks;
    quiet = now - last <= 1 ? quiet + 1 : 0;
    last = now;
    if (quiet >= 2) break;
    await sleep(500);
  }
  return Date.now() - started;
}

// ---------------------------------------------------------------- statistics

export function quantile(values: number[], q: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return quantileSorted(sorted, q);
}

/** Linear interpolation between closest ranks, on an already sorted list. */
export function quantileSorted(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export const median = (values: number[]) => quantile(values, 0.5);

export function fmt(value: number | undefined, digits = 2): string {
  return value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** A JSON POST over a keep-alive agent; resolves with the status and the body text. */
export function postJson(agent: Agent, port: number, path: string, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: HOST, port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`POST ${path.split('?')[0]} timed out`)));
    req.end(body);
  });
}

/** POST /message over a keep-alive agent; resolves with the status and the body text. */
export const postMessage = (agent: Agent, port: number, body: string, timeoutMs: number) => postJson(agent, port, '/message', body, timeoutMs);

/** A GET answered with JSON (the bridge's /health, /presence), within 10 s. */
export function getJson(port: number, path: string): Promise<any> {
  return withTimeout(
    new Promise((resolve, reject) => {
      get({ host: HOST, port, path }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error(`GET ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
          }
        });
      }).on('error', reject);
    }),
    10_000,
    `GET ${path}`,
  );
}

/**
 * A client worker's IPC messages, awaited by type. Messages nobody waits for
 * yet are kept for a later `next`; `closed` messages (a socket the server
 * closed) are only counted through `onClosed`. A worker that exits fails
 * whatever waits on it.
 */
export function workerMailbox<M extends { type: string }>(child: ChildProcess, onClosed: () => void): <T extends M['type']>(type: T, ms: number) => Promise<Extract<M, { type: T }>> {
  type Waiter = { type: string; resolve: (m: M) => void; reject: (e: Error) => void };
  const mailbox: M[] = [];
  const waiters = new Set<Waiter>();
  let exited: Error | undefined;
  child.once('exit', (code) => {
    exited = new Error(`client worker exited (${code})`);
    for (const waiter of waiters) waiter.reject(exited);
    waiters.clear();
  });
  child.on('message', (message: M) => {
    if (message.type === 'closed') return onClosed();
    for (const waiter of waiters) {
      if (waiter.type !== message.type) continue;
      waiters.delete(waiter);
      return waiter.resolve(message);
    }
    mailbox.push(message);
  });
  return (type, ms) => {
    const i = mailbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(mailbox.splice(i, 1)[0] as never);
    if (exited) return Promise.reject(exited);
    let waiter: Waiter | undefined;
    const arrived = new Promise<never>((resolve, reject) => {
      waiter = { type, resolve: resolve as unknown as (m: M) => void, reject };
      waiters.add(waiter);
    });
    return withTimeout(arrived, ms, `client worker ${type}`).finally(() => waiters.delete(waiter!));
  };
}

/**
 * Runs tasks 0..count-1 on `lanes` concurrent lanes, task k not before
 * k / rate seconds after the start (rate 0: as fast as the lanes go), so the
 * server sees the same arrival pattern whatever the driver's speed.
 */
export async function pacedLanes(count: number, lanes: number, rate: number, task: (k: number) => Promise<void>): Promise<void> {
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    while (next < count) {
      const k = next++;
      if (rate > 0) {
        const wait = start + (k * 1000) / rate - performance.now();
        // Timer resolution is 1 ms: a task due within the next millisecond goes now (no spinning, which would take a vCPU from the server).
        if (wait >= 1) await sleep(Math.floor(wait));
      }
      await task(k);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}
