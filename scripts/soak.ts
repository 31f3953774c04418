/**
 * Soak test: churns many short-lived WebSocket connections through the real
 * gateway for a while, with casts flowing, and checks that nothing is left
 * behind: hub entries, open file descriptors and resident memory all return
 * to their idle baseline once every client is gone.
 *
 *   node --import tsx scripts/soak.ts [flags]
 *
 *   --seconds N       length of the measured churn (default 600)
 *   --sockets N       connections to open during the measured churn, at least (default 10000)
 *   --runtime R       node | bun | deno | binary (default: $WSGATE_TARGET, else node)
 *   --concurrency N   sockets open at any moment, about (default 300)
 *   --warmup N        seconds of warm-up churn before the baseline (default: 10 % of --seconds, 5 to 60)
 *   --settle N        seconds the end state may take to return to the baseline (default 45)
 *   --every N         seconds between rows of the printed table (default: about 20 rows)
 *   --out PREFIX      writes PREFIX-<runtime>.csv, .json and .png (default docs/data/soak)
 *   --no-png          skip the PNG (headless Chromium)
 *   --heap            node only: also force full GCs over the inspector (--inspect on
 *                     127.0.0.1) at the baseline and the end and compare the JS heap in use
 *                     (allowed: + max(1 MiB, 10 %)); a diagnostic run, off by default
 *
 * What it does, in order:
 *  1. Starts wsgate (`serve --port <free> --log-level warn --config <tmp>`) on
 *     127.0.0.1 with one host, "soak.test", whose hooks are the in-process
 *     module test/fixtures/hooks.ts (receive answers "module got <msg>" and
 *     "module done"). The pid sampled is the real server process (checked
 *     against the expected executable with scripts/bench/proc.ts).
 *  2. Samples every second: VmRSS (/proc/<pid>/status), open fds (entries of
 *     /proc/<pid>/fd, read before the /health request so it is not counted),
 *     CPU, and the hub's entries (sum of `sockets` and `tokens` over /health's
 *     `sockets`).
 *  3. Warm-up: the same churn as below for --warmup seconds, then every client
 *     closes, and once the server is idle the baseline is taken over a window
 *     of idle samples (half the warm-up, 3 to 30 s; RSS: the lowest sample,
 *     i.e. the strictest; fds and hub: the last sample).
 *  4. Churn: sockets are started at a steady rate (--sockets / --seconds per
 *     second), each with its own token (cookie `token=soak-<run>-<n>`), and
 *     live about --concurrency / rate seconds (x0.5 to x1.5), so a few hundred
 *     are open at any moment (never more than 1.5 x --concurrency). Each one
 *     sends two messages and reads both echoes in order (casts arriving in
 *     between are counted and skipped), holds, then leaves: 60 % close cleanly
 *     (close handshake), 30 % terminate() (TCP drop, no close frame), 10 % drop
 *     right after sending, before the echoes come back (receive hooks still
 *     queued for a socket that is gone). A cast `POST /message {"host":
 *     "soak.test","target":"all"}` goes out every 100 ms (one at a time).
 *  5. End: every client closes, casts stop, and once the server is idle it is
 *     watched for a window as long as the baseline's (longer if it is not back
 *     yet, up to --settle seconds). It must come back to:
 *       - hub entries: 0 sockets and 0 tokens;
 *       - fds <= baseline + 5;
 *       - RSS (the lowest sample of the window) <= baseline + max(15 MiB, 20 % of baseline).
 *     The RSS rule: the baseline is the idle server after a warm-up churn, so
 *     JIT code, module caches and allocator arenas already exist; what is left
 *     is heap the GC (V8, JSC) and malloc keep mapped after a burst, which is
 *     bounded and does not grow with the number of connections. A leak of
 *     per-connection state grows with them: 10,000 connections retaining 2 KiB
 *     each is 20 MiB, over the limit. The RSS drift during the churn (median of
 *     the last third vs the first third) is printed too.
 *     Also checked: at least --sockets connections completed, client-side
 *     errors (refused or failed upgrades, missing or out-of-order echoes,
 *     sockets the server closed, failed casts) at most 0.5 % of connections,
 *     and no ERROR line in the server's log.
 *  6. Stops the server (SIGTERM), prints the table and the verdict, writes the
 *     samples (CSV, JSON), and renders RSS, fds and hub sockets over time as an
 *     inline SVG in an HTML page, screenshotted to a PNG (headless Chromium via
 *     playwright-core).
 *
 * Exit code 0 when every check passes, 1 when one fails. Loopback only; every
 * wait is bounded and the whole run has a cap (warm-up + 1.5 x --seconds + 5 min).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { connect } from '../test/support/client.ts';
import type { Client } from '../test/support/client.ts';
import { FIXTURES, ROOT, tempDir, wsgateCommand } from '../test/support/server.ts';
import type { Target } from '../test/support/server.ts';
import { CLK_TCK, cpu, serverPid, statusKb } from './bench/proc.ts';

export const SOAK_HOST = 'soak.test';
const LOOPBACK = '127.0.0.1';
const MiB = 1024;
/** fds the end state may have beyond the baseline. */
export const FD_TOLERANCE = 5;
/** RSS the end state may have beyond the baseline: the larger of these, in kB. */
export const RSS_TOLERANCE_KB = 15 * MiB;
export const RSS_TOLERANCE_FRACTION = 0.2;
/** Client-side errors allowed, as a fraction of connections. */
export const ERROR_TOLERANCE = 0.005;
/** With the heap probe: JS heap after GC the end may have beyond the baseline, the larger of these. */
export const HEAP_TOLERANCE_KB = 1 * MiB;
export const HEAP_TOLERANCE_FRACTION = 0.1;

const CONNECT_TIMEOUT_MS = 15_000;
const ECHO_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;
const HTTP_TIMEOUT_MS = 5_000;

export interface SoakOptions {
  runtime?: Target;
  /** Length of the measured churn. */
  seconds?: number;
  /** Connections to open during the measured churn, at least. */
  sockets?: number;
  /** Sockets open at any moment, about. */
  concurrency?: number;
  warmupSeconds?: number;
  settleSeconds?: number;
  castEveryMs?: number;
  /** Seconds between printed table rows (0: about 20 rows). */
  every?: number;
  /** File prefix for CSV/JSON/PNG (`<prefix>-<runtime>.*`); null writes nothing. */
  out?: string | null;
  png?: boolean;
  /**
   * Node only: start the server with --inspect on loopback and, at the baseline and at the
   * end, force full GCs over the inspector and read the JS heap in use (a leak check that does not
   * depend on when the GC gives memory back). Off by default: the inspector changes the process.
   */
  heap?: boolean;
  /** Where progress and the table go (default console.log); () => {} for silence. */
  print?: (line: string) => void;
}

export type Phase = 'start' | 'warmup' | 'baseline' | 'churn' | 'drain' | 'settle';

export interface Sample {
  /** Seconds since the server started listening. */
  t: number;
  phase: Phase;
  rssKb: number;
  fds: number;
  /** Hub entries: sockets and tokens over every host of /health (NaN when /health failed). */
  hub: number;
  tokens: number;
  /** Sockets this driver holds open (connecting or connected). */
  clientOpen: number;
  /** Connections started and finished so far (whole run). */
  started: number;
  finished: number;
  errors: number;
  /** Server CPU over the last interval, % of one core. */
  cpuPct: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SoakReport {
  ok: boolean;
  runtime: Target;
  pid: number;
  options: Required<Omit<SoakOptions, 'print' | 'out' | 'runtime'>> & { out: string | null };
  machine: { cpus: number; model: string; memGiB: number; node: string; runtimeVersion: string };
  startedAt: string;
  durationSeconds: number;
  baseline: { rssKb: number; fds: number; hub: number; tokens: number; startRssKb: number; startFds: number; heapKb: number };
  end: { rssKb: number; fds: number; hub: number; tokens: number; settledAfterSeconds: number | null; heapKb: number };
  peak: { rssKb: number; vmHwmKb: number; fds: number; hub: number };
  limits: { rssKb: number; fds: number; heapKb: number };
  drift: { firstThirdRssKb: number; lastThirdRssKb: number };
  counts: {
    warmupConnections: number;
    connections: number;
    cleanClose: number;
    terminated: number;
    dropped: number;
    echoes: number;
    castFramesReceived: number;
    casts: number;
    castsFailed: number;
    castSent: number;
    healthFailed: number;
  };
  errors: Record<string, number>;
  errorExamples: string[];
  serverLog: { warn: number; error: number; lines: string[]; exit: string };
  checks: Check[];
  samples: Sample[];
  files: string[];
}

// ---------------------------------------------------------------- small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A sleep that does not keep the process alive (for waits that are raced against something else). */
const nap = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)));
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const mb = (kb: number) => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : 'n/a');

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, LOOPBACK, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

/** One HTTP request on its own connection (Connection: close), so no idle keep-alive socket sits in the server's fd table. */
function http(port: number, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolveRequest, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { host: LOOPBACK, port, method, path, agent: false, timeout: HTTP_TIMEOUT_MS, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolveRequest({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${HTTP_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

function rssKb(pid: number): number {
  try {
    return statusKb(pid, 'VmRSS');
  } catch {
    return Number.NaN;
  }
}

function cpuTicks(pid: number): number {
  try {
    return cpu(pid).ticks;
  } catch {
    return Number.NaN;
  }
}

function firstLine(argv: string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return 'n/a';
  }
}

// ---------------------------------------------------------------- the server

interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
  warn: number;
  error: number;
  /** WARN/ERROR lines (the first 200) and anything else the server printed (the first 50). */
  lines: string[];
  /** The inspector's WebSocket URL, when started with one. */
  inspectorUrl?: string;
  exited: Promise<string>;
  stop(): Promise<string>;
}

/** The executable the measured process must run for a target (the launcher may be a wrapper; proc.ts walks down to it). */
function expectedExe(argv0: string): string {
  return realpathSync(argv0);
}

async function startWsgate(runtime: Target, config: unknown, inspect = false): Promise<Server> {
  const dir = tempDir();
  const configFile = join(dir, 'wsgate.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const port = await freePort();
  const [command, ...args] = wsgateCommand(['serve', '--port', String(port), '--listen', LOOPBACK, '--log-level', 'warn', '--config', configFile], runtime);
  if (inspect) args.unshift(`--inspect=${LOOPBACK}:0`);
  // The compiled binary runs from an empty folder, as in the contract suite.
  const child = spawn(command!, args, { cwd: runtime === 'binary' ? dir : ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const server: Server = {
    child,
    pid: child.pid ?? -1,
    port,
    warn: 0,
    error: 0,
    lines: [],
    exited: new Promise((r) => child.once('exit', (code, signal) => r(signal ?? String(code)))),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const how = await Promise.race([server.exited, nap(15_000).then(() => 'timeout')]);
      if (how !== 'timeout') return how;
      child.kill('SIGKILL');
      return `${await Promise.race([server.exited, nap(5000).then(() => 'still running')])} (SIGKILL after 15 s)`;
    },
  };
  let other = 0;
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const debuggerUrl = /^Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (debuggerUrl) server.inspectorUrl = debuggerUrl[1];
      if (/^\S+ WARN /.test(line)) server.warn++;
      else if (/^\S+ ERROR /.test(line)) server.error++;
      else if (other++ >= 50) continue;
      if (server.lines.length < 250) server.lines.push(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  // Ready when /health answers (the `listening` line is at info, hidden by --log-level warn).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`wsgate (${runtime}) exited before listening:\n${server.lines.join('\n')}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`wsgate (${runtime}) did not answer /health within 60 s:\n${server.lines.join('\n')}`);
    }
    const ok = await http(port, 'GET', '/health').then((r) => r.status === 200, () => false);
    if (ok) break;
    await sleep(100);
  }
  if (inspect && !server.inspectorUrl) {
    child.kill('SIGKILL');
    throw new Error('started with --inspect, but no "Debugger listening on ws://..." line came');
  }
  const pid = serverPid(child.pid!, expectedExe(command!));
  if (pid === undefined) {
    child.kill('SIGKILL');
    throw new Error(`no process under pid ${child.pid} runs ${command}`);
  }
  server.pid = pid;
  return server;
}

/** A minimal Chrome DevTools Protocol client for the server's inspector (Node only). */
class Inspector {
  #next = 0;
  readonly #waiting = new Map<number, (result: unknown) => void>();
  readonly #ws: WebSocket;
  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
      if (message.id !== undefined) this.#waiting.get(message.id)?.(message.result);
    });
  }

  static async open(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await withTimeout(new Promise((ok, ko) => ws.once('open', ok).once('error', ko)), 10_000, 'inspector connection');
    return new Inspector(ws);
  }

  call(method: string, params: object = {}): Promise<unknown> {
    const id = ++this.#next;
    const answer = new Promise<unknown>((ok) => this.#waiting.set(id, ok));
    this.#ws.send(JSON.stringify({ id, method, params }));
    return withTimeout(answer, 30_000, method).finally(() => this.#waiting.delete(id));
  }

  /** Three full GCs (so weak references and finalisers settle), then the JS heap in use, in kB. */
  async heapAfterGc(): Promise<number> {
    for (let i = 0; i < 3; i++) {
      await this.call('HeapProfiler.collectGarbage');
      await sleep(200);
    }
    const usage = (await this.call('Runtime.getHeapUsage')) as { usedSize: number };
    return Math.round(usage.usedSize / 1024);
  }

  close(): void {
    this.#ws.terminate();
  }
}

// ---------------------------------------------------------------- the soak

export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const runtime = options.runtime ?? ((process.env.WSGATE_TARGET ?? 'node') as Target);
  const seconds = options.seconds ?? 600;
  const sockets = options.sockets ?? 10_000;
  const concurrency = options.concurrency ?? 300;
  const warmupSeconds = options.warmupSeconds ?? Math.min(60, Math.max(5, Math.round(seconds / 10)));
  const settleSeconds = options.settleSeconds ?? 45;
  const castEveryMs = options.castEveryMs ?? 100;
  /**
   * Seconds of idle samples the baseline is taken from, and the end state at least: V8's memory
   * reducer gives memory back some 10 s into a quiet spell, so a long run watches long enough for it.
   */
  const baselineWindow = Math.min(30, Math.max(3, Math.round(warmupSeconds / 2)));
  const every = options.every || Math.max(1, Math.round((warmupSeconds + seconds + 30) / 20));
  const out = options.out === undefined ? join(ROOT, 'docs', 'data', 'soak') : options.out;
  const png = options.png ?? true;
  const heap = options.heap ?? false;
  if (heap && runtime !== 'node') throw new Error(`the heap probe needs the node runtime (got ${runtime})`);
  const print = options.print ?? ((line: string) => console.log(line));

  const rate = sockets / seconds;
  const lifetimeMs = (concurrency / rate) * 1000;
  const maxOpen = Math.ceil(concurrency * 1.5);
  const runId = Date.now().toString(36);

  const startedAt = new Date();
  const server = await startWsgate(runtime, { hosts: { [SOAK_HOST]: { module: join(FIXTURES, 'hooks.ts') } } }, heap);
  // Opened now and kept: its connection is then in the baseline's fd count as in the end's.
  const inspector = server.inspectorUrl ? await Inspector.open(server.inspectorUrl) : undefined;
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const runtimeVersion = runtime === 'node' ? process.version : firstLine(runtime === 'binary' ? [join(ROOT, 'dist', 'wsgate'), '--version'] : [wsgateCommand([], runtime)[0]!, '--version']);
  print(`soak: wsgate on ${runtime} (${runtimeVersion}), pid ${server.pid}, port ${server.port}; ${sockets} connections over ${seconds} s after ${warmupSeconds} s of warm-up, ~${concurrency} open (lifetime ~${(lifetimeMs / 1000).toFixed(1)} s), a cast every ${castEveryMs} ms`);

  // ------------------------------------------------ state

  let phase: Phase = 'start';
  const samples: Sample[] = [];
  const open = new Set<Client>();
  const lives = new Set<Promise<void>>();
  let started = 0;
  let finished = 0;
  let warmupConnections = 0;
  const counts = { cleanClose: 0, terminated: 0, dropped: 0, echoes: 0, castFramesReceived: 0, casts: 0, castsFailed: 0, castSent: 0, healthFailed: 0 };
  const errors: Record<string, number> = {};
  const errorExamples: string[] = [];
  const fail = (kind: string, detail: string) => {
    errors[kind] = (errors[kind] ?? 0) + 1;
    if (errorExamples.length < 20) errorExamples.push(`${elapsed().toFixed(1)}s ${kind}: ${detail}`);
  };
  const errorTotal = () => Object.values(errors).reduce((a, b) => a + b, 0);
  let stopLives!: () => void;
  let livesStopped = new Promise<void>((r) => (stopLives = r));
  let stopping = false;

  // ------------------------------------------------ sampling

  let lastTicks = cpuTicks(server.pid);
  let lastAt = performance.now();
  let peakHwm = 0;
  const sample = async (): Promise<Sample> => {
    // fds first: the /health request's own connection must not be counted.
    const fds = fdCount(server.pid);
    const rss = rssKb(server.pid);
    try {
      peakHwm = Math.max(peakHwm, statusKb(server.pid, 'VmHWM'));
    } catch {
      // gone
    }
    const ticks = cpuTicks(server.pid);
    const now = performance.now();
    const cpuPct = ((ticks - lastTicks) / CLK_TCK / ((now - lastAt) / 1000)) * 100;
    lastTicks = ticks;
    lastAt = now;
    let hub = Number.NaN;
    let tokens = Number.NaN;
    try {
      const health = await http(server.port, 'GET', '/health');
      const hosts = (health.json as { sockets?: Record<string, { sockets: number; tokens: number }> }).sockets;
      if (health.status !== 200 || !hosts) throw new Error(`/health answered ${health.status}`);
      hub = 0;
      tokens = 0;
      for (const stats of Object.values(hosts)) {
        hub += stats.sockets;
        tokens += stats.tokens;
      }
    } catch {
      counts.healthFailed++;
    }
    const s: Sample = { t: Math.round(elapsed() * 10) / 10, phase, rssKb: rss, fds, hub, tokens, clientOpen: open.size, started, finished, errors: errorTotal(), cpuPct: Math.round(cpuPct) };
    samples.push(s);
    return s;
  };

  const header = `${'time'.padStart(7)}  ${'phase'.padEnd(8)} ${'RSS MB'.padStart(7)} ${'fds'.padStart(5)} ${'sockets'.padStart(7)} ${'clients'.padStart(7)} ${'conns'.padStart(6)} ${'errors'.padStart(6)} ${'cpu%'.padStart(5)}`;
  const row = (s: Sample) =>
    `${(s.t.toFixed(0) + 's').padStart(7)}  ${s.phase.padEnd(8)} ${mb(s.rssKb).padStart(7)} ${String(s.fds).padStart(5)} ${String(s.hub).padStart(7)} ${String(s.clientOpen).padStart(7)} ${String(s.started).padStart(6)} ${String(s.errors).padStart(6)} ${String(s.cpuPct).padStart(5)}`;
  print(header);
  let nextRow = 0;
  let sampling = true;
  const sampler = (async () => {
    let next = performance.now();
    while (sampling) {
      const s = await sample();
      if (s.t >= nextRow) {
        print(row(s));
        nextRow += every;
      }
      next += 1000;
      await sleep(Math.max(0, next - performance.now()));
    }
  })();

  // ------------------------------------------------ casts

  let casting = false;
  let castSeq = 0;
  const caster = (async () => {
    let next = performance.now();
    for (;;) {
      await sleep(Math.max(0, next - performance.now()));
      next += castEveryMs;
      if (stopping) return;
      if (!casting) continue;
      // One at a time: a slow answer delays the next cast rather than piling requests up.
      if (performance.now() > next) next = performance.now();
      counts.casts++;
      try {
        const answer = await http(server.port, 'POST', '/message', { host: SOAK_HOST, target: 'all', data: { soak: ++castSeq } });
        const sent = (answer.json as { sent?: number }).sent;
        if (answer.status !== 200 || typeof sent !== 'number') throw new Error(`answered ${answer.status} ${JSON.stringify(answer.json)}`);
        counts.castSent += sent;
      } catch (error) {
        counts.castsFailed++;
        fail('cast failed', (error as Error).message);
      }
    }
  })();

  // ------------------------------------------------ one connection's life

  const life = async (n: number): Promise<void> => {
    const token = `soak-${runId}-${n}`;
    const roll = (n * 7919) % 100; // spread deterministically over the modes
    const mode: 'clean' | 'terminate' | 'drop' = roll < 60 ? 'clean' : roll < 90 ? 'terminate' : 'drop';
    const lifetime = lifetimeMs * (0.5 + ((n * 104729) % 1000) / 1000);
    const born = performance.now();
    let client: Client;
    const attempt = connect(server.port, { host: SOAK_HOST, token });
    try {
      client = await withTimeout(attempt, CONNECT_TIMEOUT_MS, 'upgrade');
    } catch (error) {
      // A late success must not leave a socket behind.
      attempt.then((c) => c.ws.terminate(), () => {});
      const status = (error as { status?: number }).status;
      fail(status ? `upgrade refused ${status}` : 'upgrade failed', (error as Error).message);
      return;
    }
    open.add(client);
    let closing = false;
    const serverClosed = client.closed.then(({ code, reason }) => {
      if (!closing) fail('closed by the server', `socket ${n}: ${code} ${reason}`);
    });
    try {
      const messages = [`m1-${n}`, `m2-${n}`];
      for (const m of messages) client.send(m);
      if (mode === 'drop') {
        closing = true;
        client.ws.terminate();
        counts.dropped++;
        return;
      }
      // Two frames per message, in order; casts may arrive between them.
      const expected = messages.flatMap((m) => [`module got ${m}`, 'module done']);
      const until = performance.now() + ECHO_TIMEOUT_MS;
      for (const want of expected) {
        let got: string;
        do {
          got = await client.next(Math.max(1, until - performance.now()));
          if (got.startsWith('{"soak":')) counts.castFramesReceived++;
        } while (got.startsWith('{"soak":'));
        if (got !== want) throw Object.assign(new Error(`socket ${n}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`), { kind: 'wrong echo' });
        counts.echoes++;
      }
      const hold = lifetime - (performance.now() - born);
      if (hold > 0 && !stopping) await Promise.race([nap(hold), livesStopped]);
      // Casts received while holding.
      for (;;) {
        const queued = await client.next(0).catch(() => undefined);
        if (queued === undefined) break;
        if (queued.startsWith('{"soak":')) counts.castFramesReceived++;
      }
      closing = true;
      if (mode === 'terminate' && !stopping) {
        client.ws.terminate();
        counts.terminated++;
      } else {
        client.close();
        await withTimeout(client.closed, CLOSE_TIMEOUT_MS, 'close handshake').catch((error) => {
          fail('close handshake timed out', `socket ${n}: ${(error as Error).message}`);
          client.ws.terminate();
        });
        counts.cleanClose++;
      }
    } catch (error) {
      fail((error as { kind?: string }).kind ?? (/no frame within/.test((error as Error).message) ? 'echo timed out' : 'client error'), (error as Error).message.slice(0, 300));
      closing = true;
      client.ws.terminate();
    } finally {
      await Promise.race([serverClosed, nap(CLOSE_TIMEOUT_MS)]);
      open.delete(client);
      finished++;
    }
  };

  /** Starts connections at `rate` per second for `phaseSeconds` and at least `target` of them; bounded. */
  const churn = async (phaseSeconds: number, target: number) => {
    const from = performance.now();
    const launchedBefore = started;
    const capMs = phaseSeconds * 1500 + 60_000;
    for (;;) {
      const ms = performance.now() - from;
      const launched = started - launchedBefore;
      if (ms >= phaseSeconds * 1000 && launched >= target) break;
      if (ms >= capMs) {
        fail('churn behind schedule', `started ${launched} of ${target} connections in ${(ms / 1000).toFixed(0)} s`);
        break;
      }
      const due = Math.max(Math.min(target, Math.floor((ms / 1000) * rate)), ms >= phaseSeconds * 1000 ? target : 0) - launched;
      for (let i = 0; i < due && open.size + inFlight() < maxOpen; i++) {
        const n = ++started;
        const p = life(n).catch((error) => fail('client error', String(error)));
        lives.add(p);
        p.finally(() => lives.delete(p));
      }
      await sleep(20);
    }
  };
  // Lives still in their upgrade are not in `open` yet.
  const inFlight = () => lives.size - open.size;

  /** Ends every life at once (each closes cleanly) and waits, bounded, for all of them. */
  const closeAll = async () => {
    stopLives();
    await Promise.race([Promise.allSettled([...lives]), nap(CONNECT_TIMEOUT_MS + ECHO_TIMEOUT_MS + CLOSE_TIMEOUT_MS * 2)]);
    for (const client of open) client.ws.terminate();
    livesStopped = new Promise<void>((r) => (stopLives = r));
  };

  /** Waits until the hub is empty and the server used at most 1 CPU tick in two 500 ms windows (bounded). */
  const waitIdle = async (maxMs: number) => {
    const until = performance.now() + maxMs;
    let quiet = 0;
    let last = cpuTicks(server.pid);
    while (performance.now() < until && quiet < 2) {
      await sleep(500);
      const now = cpuTicks(server.pid);
      const hub = samples.at(-1)?.hub ?? Number.NaN;
      quiet = now - last <= 1 && hub === 0 ? quiet + 1 : 0;
      last = now;
    }
  };

  let report: SoakReport | undefined;
  const runCap = setTimeout(() => {
    server.child.kill('SIGKILL');
    print(`soak: still running after the cap; server killed`);
  }, (warmupSeconds + seconds * 1.5 + settleSeconds + 300) * 1000);
  try {
    await sleep(1500); // a sample or two of the fresh server
    const startSample = samples.at(-1)!;

    // ------------------------------------------------ warm-up, then the baseline
    phase = 'warmup';
    casting = true;
    await churn(warmupSeconds, Math.round(rate * warmupSeconds));
    warmupConnections = started;
    casting = false;
    await closeAll();
    phase = 'baseline';
    await waitIdle(20_000);
    const baselineFrom = samples.length;
    await sleep(baselineWindow * 1000 + 500);
    const idle = samples.slice(baselineFrom);
    const last = idle.at(-1) ?? samples.at(-1)!;
    // The idle floor: the GC may still be giving memory back in the first seconds, and the lowest value is the strictest baseline.
    const baseline = { rssKb: Math.min(...idle.map((s) => s.rssKb).filter(Number.isFinite)), fds: last.fds, hub: last.hub, tokens: last.tokens, startRssKb: startSample.rssKb, startFds: startSample.fds, heapKb: Number.NaN };
    // After the RSS and fd readings: a forced GC shrinks RSS, which would flatter the end state.
    if (inspector) baseline.heapKb = await inspector.heapAfterGc().catch(() => Number.NaN);
    const limits = {
      rssKb: Math.round(baseline.rssKb + Math.max(RSS_TOLERANCE_KB, baseline.rssKb * RSS_TOLERANCE_FRACTION)),
      fds: baseline.fds + FD_TOLERANCE,
      heapKb: Math.round(baseline.heapKb + Math.max(HEAP_TOLERANCE_KB, baseline.heapKb * HEAP_TOLERANCE_FRACTION)),
    };
    print(`baseline (idle after warm-up): RSS ${mb(baseline.rssKb)} MB, ${baseline.fds} fds, ${baseline.hub} hub sockets${inspector ? `, JS heap after GC ${mb(baseline.heapKb)} MB` : ''}; end limits: RSS <= ${mb(limits.rssKb)} MB, fds <= ${limits.fds}${inspector ? `, heap <= ${mb(limits.heapKb)} MB` : ''}`);

    // ------------------------------------------------ the churn
    phase = 'churn';
    const churnFrom = samples.length;
    const connectionsBefore = started;
    casting = true;
    await churn(seconds, sockets);
    const connections = started - connectionsBefore;
    const churnSamples = samples.slice(churnFrom);

    // ------------------------------------------------ everything closes; back to the baseline?
    phase = 'drain';
    casting = false;
    await closeAll();
    stopping = true;
    await caster;
    await waitIdle(20_000);
    phase = 'settle';
    const settleFrom = samples.length;
    const settleUntil = performance.now() + settleSeconds * 1000;
    let settledAfterSeconds: number | null = null;
    let good = 0;
    const settleStart = elapsed();
    // RSS is judged like the baseline: the lowest idle sample over a window of the same length (then longer, up to --settle, if it is not back yet).
    const floor = () => Math.min(...samples.slice(settleFrom).map((s) => s.rssKb).filter(Number.isFinite));
    const back = (s: Sample) => s.hub === 0 && s.tokens === 0 && s.fds <= limits.fds && floor() <= limits.rssKb;
    const windowUntil = performance.now() + baselineWindow * 1000 + 500;
    await sleep(1100);
    while (performance.now() < settleUntil) {
      const s = samples.at(-1)!;
      good = back(s) ? good + 1 : 0;
      if (good >= 3 && settledAfterSeconds === null) settledAfterSeconds = Math.round(s.t - settleStart);
      if (good >= 3 && performance.now() >= windowUntil) break;
      await sleep(1000);
    }
    const endSamples = samples.slice(settleFrom);
    const endSample = endSamples.at(-1) ?? samples.at(-1)!;
    const end = { rssKb: floor(), fds: endSample.fds, hub: endSample.hub, tokens: endSample.tokens, settledAfterSeconds, heapKb: Number.NaN };
    if (inspector) end.heapKb = await inspector.heapAfterGc().catch(() => Number.NaN);
    sampling = false;
    await sampler;
    print(row(samples.at(-1)!));
    inspector?.close(); // Node waits for an attached debugger to go before it exits.
    const exit = await server.stop();

    // ------------------------------------------------ verdict
    const third = Math.max(1, Math.floor(churnSamples.length / 3));
    const drift = { firstThirdRssKb: median(churnSamples.slice(0, third).map((s) => s.rssKb)), lastThirdRssKb: median(churnSamples.slice(-third).map((s) => s.rssKb)) };
    const peak = {
      rssKb: Math.max(...samples.map((s) => s.rssKb).filter(Number.isFinite)),
      vmHwmKb: peakHwm,
      fds: Math.max(...samples.map((s) => s.fds).filter(Number.isFinite)),
      hub: Math.max(...samples.map((s) => s.hub).filter(Number.isFinite)),
    };
    const total = connections + warmupConnections;
    const checks: Check[] = [
      { name: 'connections', ok: connections >= sockets, detail: `${connections} connections in the churn (wanted >= ${sockets}), ${warmupConnections} more in the warm-up` },
      { name: 'client errors', ok: errorTotal() <= Math.floor(total * ERROR_TOLERANCE), detail: `${errorTotal()} of ${total} connections (allowed ${Math.floor(total * ERROR_TOLERANCE)})${errorTotal() ? `: ${JSON.stringify(errors)}` : ''}` },
      { name: 'hub entries back to 0', ok: end.hub === 0 && end.tokens === 0, detail: `${end.hub} sockets, ${end.tokens} tokens (peak ${peak.hub} sockets)` },
      { name: 'fds back to baseline', ok: end.fds <= limits.fds, detail: `${end.fds} fds at the end, baseline ${baseline.fds} (allowed <= ${limits.fds}; peak ${peak.fds})` },
      { name: 'RSS back to baseline', ok: end.rssKb <= limits.rssKb, detail: `${mb(end.rssKb)} MB at the end, baseline ${mb(baseline.rssKb)} MB (allowed <= ${mb(limits.rssKb)} MB; peak ${mb(peak.rssKb)} MB)` },
      { name: 'no ERROR in the server log', ok: server.error === 0, detail: `${server.error} ERROR and ${server.warn} WARN lines` },
    ];
    if (inspector) {
      checks.push({ name: 'JS heap after GC back to baseline', ok: end.heapKb <= limits.heapKb, detail: `${mb(end.heapKb)} MB at the end, baseline ${mb(baseline.heapKb)} MB (allowed <= ${mb(limits.heapKb)} MB)` });
    }
    const ok = checks.every((c) => c.ok);
    report = {
      ok,
      runtime,
      pid: server.pid,
      options: { seconds, sockets, concurrency, warmupSeconds, settleSeconds, castEveryMs, every, png, out, heap },
      machine: { cpus: cpus().length, model: cpus()[0]?.model.trim() ?? 'unknown', memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, node: process.version, runtimeVersion },
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round(elapsed()),
      baseline,
      end,
      peak,
      limits,
      drift,
      counts: { warmupConnections, connections, ...counts },
      errors,
      errorExamples,
      serverLog: { warn: server.warn, error: server.error, lines: server.lines, exit },
      checks,
      samples,
      files: [],
    };

    print('');
    print(`connections: ${connections} in the churn + ${warmupConnections} warm-up (${counts.cleanClose} closed cleanly, ${counts.terminated} terminated, ${counts.dropped} dropped before their echoes); ${counts.echoes} echo frames`);
    print(`casts: ${counts.casts} (${counts.castsFailed} failed), handed to ${counts.castSent} sockets, ${counts.castFramesReceived} cast frames read by clients`);
    print(`RSS during the churn: first third ${mb(drift.firstThirdRssKb)} MB, last third ${mb(drift.lastThirdRssKb)} MB; peak ${mb(peak.rssKb)} MB (VmHWM ${mb(peakHwm)} MB)`);
    print(`baseline -> end: RSS ${mb(baseline.rssKb)} -> ${mb(end.rssKb)} MB, fds ${baseline.fds} -> ${end.fds}, hub ${baseline.hub} -> ${end.hub}${inspector ? `, JS heap after GC ${mb(baseline.heapKb)} -> ${mb(end.heapKb)} MB` : ''}${settledAfterSeconds === null ? ' (did not settle)' : `, settled ${settledAfterSeconds} s after the drain`}`);
    print(`server: ${server.warn} WARN, ${server.error} ERROR lines; exit on SIGTERM: ${exit}`);
    for (const line of server.lines.slice(0, 10)) print(`  | ${line}`);
    for (const example of errorExamples.slice(0, 10)) print(`  ! ${example}`);
    for (const check of checks) print(`${check.ok ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`);
    print(`verdict: ${ok ? 'PASS' : 'FAIL'}`);

    if (out) report.files = await writeOutputs(report, `${out}-${runtime}`, png, print);
    return report;
  } finally {
    clearTimeout(runCap);
    sampling = false;
    stopping = true;
    stopLives();
    for (const client of open) client.ws.terminate();
    inspector?.close();
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------- outputs

const CSV_FIELDS: Array<keyof Sample> = ['t', 'phase', 'rssKb', 'fds', 'hub', 'tokens', 'clientOpen', 'started', 'finished', 'errors', 'cpuPct'];

export function toCsv(samples: Sample[]): string {
  return [CSV_FIELDS.join(','), ...samples.map((s) => CSV_FIELDS.map((f) => (Number.isNaN(s[f]) ? '' : s[f])).join(','))].join('\n') + '\n';
}

const PHASE_COLOURS: Record<Phase, string> = { start: '#f4f4f4', warmup: '#fff4e0', baseline: '#e8f4ff', churn: '#ffffff', drain: '#f3e8ff', settle: '#e8ffe8' };

/** An SVG line chart: RSS (MB, left axis) and fds and hub sockets (right axis) over time, phases shaded. */
export function chartSvg(report: SoakReport): string {
  const W = 1200;
  const H = 560;
  const m = { l: 70, r: 70, t: 50, b: 60 };
  const s = report.samples.filter((x) => Number.isFinite(x.rssKb));
  const tMax = Math.max(1, ...s.map((x) => x.t));
  // Both axes from 0 (so a change is not exaggerated), 5 steps of 1, 2 or 5 x 10^k.
  const niceTop = (max: number) => {
    const raw = (max * 1.1) / 5;
    const pow = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * pow).find((v) => v >= raw)!;
    return step * 5;
  };
  const rssTop = niceTop(Math.max(report.limits.rssKb, ...s.map((x) => x.rssKb)) / 1024);
  const countTop = niceTop(Math.max(10, ...s.map((x) => x.fds).filter(Number.isFinite), ...s.map((x) => x.hub).filter(Number.isFinite)));
  const x = (t: number) => m.l + (t / tMax) * (W - m.l - m.r);
  const yL = (v: number) => H - m.b - (v / rssTop) * (H - m.t - m.b);
  const yR = (v: number) => H - m.b - (v / countTop) * (H - m.t - m.b);
  const line = (pts: Array<[number, number]>) => pts.map(([a, b], i) => `${i ? 'L' : 'M'}${a.toFixed(1)},${b.toFixed(1)}`).join('');
  const parts: string[] = [];
  // phases
  let i = 0;
  while (i < s.length) {
    let j = i;
    while (j + 1 < s.length && s[j + 1]!.phase === s[i]!.phase) j++;
    const x0 = x(i === 0 ? 0 : (s[i - 1]!.t + s[i]!.t) / 2);
    const x1 = x(j + 1 < s.length ? (s[j]!.t + s[j + 1]!.t) / 2 : s[j]!.t);
    parts.push(`<rect x="${x0.toFixed(1)}" y="${m.t}" width="${Math.max(0, x1 - x0).toFixed(1)}" height="${H - m.t - m.b}" fill="${PHASE_COLOURS[s[i]!.phase]}"/>`);
    if (x1 - x0 > 40) parts.push(`<text x="${((x0 + x1) / 2).toFixed(1)}" y="${m.t + 16}" text-anchor="middle" class="phase">${s[i]!.phase}</text>`);
    i = j + 1;
  }
  // grid and axes
  for (let k = 0; k <= 5; k++) {
    const vL = (rssTop * k) / 5;
    const vR = (countTop * k) / 5;
    const y = yL(vL);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${m.l - 8}" y="${y + 4}" text-anchor="end" class="rss">${vL.toFixed(0)}</text>`);
    parts.push(`<text x="${W - m.r + 8}" y="${y + 4}" class="count">${vR.toFixed(0)}</text>`);
  }
  const tStep = [10, 30, 60, 120, 300, 600].find((st) => tMax / st <= 12) ?? 1200;
  for (let t = 0; t <= tMax; t += tStep) {
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${H - m.b}" y2="${H - m.b + 5}" stroke="#444"/>`);
    parts.push(`<text x="${x(t)}" y="${H - m.b + 20}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 15}" text-anchor="middle">seconds since the server started</text>`);
  parts.push(`<text x="20" y="${(m.t + H - m.b) / 2}" transform="rotate(-90 20 ${(m.t + H - m.b) / 2})" text-anchor="middle" class="rss">RSS (MB)</text>`);
  parts.push(`<text x="${W - 18}" y="${(m.t + H - m.b) / 2}" transform="rotate(90 ${W - 18} ${(m.t + H - m.b) / 2})" text-anchor="middle" class="count">open fds / hub sockets</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#444"/>`);
  // reference lines
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${yL(report.baseline.rssKb / 1024)}" y2="${yL(report.baseline.rssKb / 1024)}" stroke="#1f6fd6" stroke-dasharray="6 4" stroke-width="1"/>`);
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${yL(report.limits.rssKb / 1024)}" y2="${yL(report.limits.rssKb / 1024)}" stroke="#d62f2f" stroke-dasharray="2 4" stroke-width="1.5"/>`);
  parts.push(`<text x="${m.l + 6}" y="${yL(report.limits.rssKb / 1024) - 4}" class="limit">RSS limit for the end state ${mb(report.limits.rssKb)} MB</text>`);
  // series
  parts.push(`<path d="${line(s.filter((v) => Number.isFinite(v.hub)).map((v) => [x(v.t), yR(v.hub)]))}" fill="none" stroke="#8a8a8a" stroke-width="1.2"/>`);
  parts.push(`<path d="${line(s.filter((v) => Number.isFinite(v.fds)).map((v) => [x(v.t), yR(v.fds)]))}" fill="none" stroke="#e08a00" stroke-width="1.6"/>`);
  parts.push(`<path d="${line(s.map((v) => [x(v.t), yL(v.rssKb / 1024)]))}" fill="none" stroke="#1f6fd6" stroke-width="2.2"/>`);
  // legend and title
  const legend: Array<[string, string]> = [['#1f6fd6', 'RSS MB (left)'], ['#e08a00', 'open fds (right)'], ['#8a8a8a', 'hub sockets (right)']];
  legend.forEach(([colour, label], k) => {
    parts.push(`<line x1="${m.l + 10 + k * 190}" x2="${m.l + 40 + k * 190}" y1="${m.t - 12}" y2="${m.t - 12}" stroke="${colour}" stroke-width="3"/>`);
    parts.push(`<text x="${m.l + 46 + k * 190}" y="${m.t - 8}">${label}</text>`);
  });
  const title = `wsgate soak on ${report.runtime}: ${report.counts.connections} connections in ${report.options.seconds} s, ${report.ok ? 'PASS' : 'FAIL'}`;
  parts.push(`<text x="${W - m.r}" y="${m.t - 8}" text-anchor="end" class="title">${title}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">
<style>.grid{stroke:#ddd}.rss{fill:#1f6fd6}.count{fill:#b36b00}.phase{fill:#777;font-style:italic}.limit{fill:#d62f2f;font-size:11px}.title{font-weight:bold;font-size:13px}</style>
<rect width="${W}" height="${H}" fill="#fff"/>
${parts.join('\n')}
</svg>`;
}

function html(report: SoakReport): string {
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const checks = report.checks.map((c) => `<li><b>${c.ok ? 'PASS' : 'FAIL'}</b> ${esc(c.name)}: ${esc(c.detail)}</li>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>wsgate soak (${report.runtime})</title>
<style>body{margin:0;padding:12px;font-family:DejaVu Sans,Arial,sans-serif;font-size:13px;width:1200px}ul{margin:6px 0 0 0;padding-left:20px}</style></head>
<body>${chartSvg(report)}<ul>${checks}</ul></body></html>`;
}

async function writeOutputs(report: SoakReport, prefix: string, png: boolean, print: (line: string) => void): Promise<string[]> {
  mkdirSync(dirname(resolve(prefix)), { recursive: true });
  const files: string[] = [];
  const write = (file: string, text: string) => {
    writeFileSync(file, text);
    files.push(file);
  };
  write(`${prefix}.csv`, toCsv(report.samples));
  // One sample per line: readable, and a tenth of the size of indenting every field.
  const head = JSON.stringify({ ...report, files: undefined, samples: '@samples' }, null, 1);
  write(`${prefix}.json`, head.replace('"@samples"', () => `[\n${report.samples.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n ]`) + '\n');
  if (png) {
    const page = html(report);
    try {
      await withTimeout(screenshot(page, `${prefix}.png`), 60_000, 'PNG');
      files.push(`${prefix}.png`);
    } catch (error) {
      print(`no PNG: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  print(`wrote ${files.map((f) => f.replace(`${ROOT}/`, '')).join(', ')}`);
  return files;
}

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function screenshot(page: string, file: string): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  try {
    const tab = await browser.newPage({ viewport: { width: 1224, height: 700 } });
    await tab.setContent(page, { waitUntil: 'load', timeout: 15_000 });
    await tab.screenshot({ path: file, fullPage: true, timeout: 15_000 });
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------- command line

function flags(argv: string[]) {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const int = (name: string, min: number): number | undefined => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      console.error(`--${name} ${raw}: expected a whole number >= ${min}`);
      process.exit(2);
    }
    return value;
  };
  return { get, int, has: (name: string) => argv.includes(`--${name}`) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    const doc = /\/\*\*([\s\S]*?)\*\//.exec((await import('node:fs')).readFileSync(fileURLToPath(import.meta.url), 'utf8'))?.[1] ?? '';
    console.log(doc.replace(/^ \* ?/gm, ''));
    return;
  }
  const f = flags(argv);
  const runtime = (f.get('runtime') ?? process.env.WSGATE_TARGET ?? 'node') as Target;
  if (!['node', 'bun', 'deno', 'binary'].includes(runtime)) {
    console.error(`--runtime ${runtime}: expected node, bun, deno or binary`);
    process.exit(2);
  }
  const out = f.get('out');
  const report = await runSoak({
    runtime,
    seconds: f.int('seconds', 1),
    sockets: f.int('sockets', 1),
    concurrency: f.int('concurrency', 1),
    warmupSeconds: f.int('warmup', 1),
    settleSeconds: f.int('settle', 1),
    every: f.int('every', 1),
    out: out === undefined ? undefined : resolve(out),
    png: !f.has('no-png'),
    heap: f.has('heap'),
  });
  process.exitCode = report.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exit(1);
  });
}
