/**
 * Fan-out benchmark: what one cast to N idle sockets costs the SERVER, for
 * wsgate on each runtime and for bare baselines (Node+ws, Bun, Deno), in one run.
 *
 *   node --import tsx scripts/bench/fanout.ts [flags]
 *
 *   --sockets N      sockets held open per server (default 2000)
 *   --rounds K       measured casts (default 50), after --warmup W unmeasured ones (default 5)
 *   --workers C      client processes holding the sockets (default: nproc - 1, at least 2)
 *   --repeat R       run the whole list R times, interleaved, and report medians (default 1)
 *   --only a,b       run only these targets (names below)
 *   --binary PATH    the compiled wsgate (default dist/wsgate, built by build.ts when missing)
 *   --size B         bytes of the cast frame (default 100)
 *   --json FILE      also write every raw measurement as JSON
 *   --warm-sockets W open W sockets first and measure from there: memory and
 *                    connect CPU are then per socket past the first W, without
 *                    what the first upgrades cost once (code compiled, pools
 *                    grown); the W sockets get the casts too (default 0)
 *   --settle S       also read memory with the server left idle S seconds
 *                    before the sockets open and S seconds after they are
 *                    open, before any cast (default 0: not read). Node's V8 gives back the heap pages a connect
 *                    burst left fragmented only when its memory reducer runs,
 *                    8 s or more after allocation slows; the idle reading
 *                    alone would count that transient as per-socket memory.
 *   --hooks KIND     wsgate's hooks: "module" (default: an empty hook module,
 *                    in-process) or "oneshot" (every hook a process, /bin/true:
 *                    what spawning an auth hook per upgrade leaves behind)
 *
 * Targets: baseline-node, wsgate-node, baseline-bun, registry-bun, arena-bun, wsgate-bun, wsgate-binary,
 * baseline-deno, wsgate-deno. Each wsgate runtime's ratios are taken against the bare server
 * of the same runtime (wsgate-binary and wsgate-bun against baseline-bun,
 * wsgate-deno against baseline-deno, as the performance issue now asks).
 * registry-bun is bare Bun that also keeps the least any gateway must keep of
 * a socket (a record with an id and a token, indexed by both): a floor for
 * what per-socket state costs, also against baseline-bun. arena-bun keeps the
 * same in typed arrays by place (no object or string per socket).
 *
 * Per target: start it as a child process (and make sure the pid measured is
 * the real server, not a launcher), read its CPU (utime+stime, /proc/<pid>/stat)
 * and RSS (VmRSS) with 0 sockets, open N sockets from the client workers, wait
 * until the server is idle, read them again, then cast one frame to all
 * sockets K times, each round waiting for every socket to receive it. wsgate
 * runs with a config whose one host ("*") uses an empty hook module, so its
 * auth/connect/close hooks are no-ops: this measures the gateway, not a PHP app
 * (the built-in demo would cast a "join" to everyone on each connect).
 *
 * Loopback only; every child is killed on exit; every wait is bounded.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_DIR as HERE,
  HOST,
  ROOT,
  compiledBinary as findBinary,
  helpFromDoc,
  installCleanup,
  machine,
  median,
  parseFlags,
  postMessage,
  quantile,
  realBinary,
  sleep,
  startServer as startCommand,
  track,
  versions as runtimeVersions,
  waitIdle,
  withFdLimit,
  withTimeout,
  wsgateCommand,
} from './harness.ts';
import type { Server } from './harness.ts';
import { CLK_TCK, cpu, fdLimits, statusKb, ticksToMicros } from './proc.ts';
import type { CpuSample } from './proc.ts';

const RUN_CAP_MS = 25 * 60 * 1000;
const OPEN_TIMEOUT_MS = 180_000;
const ROUND_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------- flags

helpFromDoc(import.meta.url);
const flags = parseFlags();
const flag = flags.get;
const intFlag = flags.int;

const SOCKETS = intFlag('sockets', 2000);
const ROUNDS = intFlag('rounds', 50);
const WARMUP = intFlag('warmup', 5, 0);
const WARM_SOCKETS = intFlag('warm-sockets', 0, 0);
const SETTLE_S = intFlag('settle', 0, 0);
/** What a cast reaches: the measured sockets and the warm ones. */
const ALL_SOCKETS = SOCKETS + WARM_SOCKETS;
const WORKERS = Math.min(intFlag('workers', Math.max(2, cpus().length - 1)), SOCKETS);
const REPEAT = intFlag('repeat', 1);
const SIZE = intFlag('size', 100, 24);
const JSON_OUT = flag('json');
const HOOKS = flag('hooks') ?? 'module';
if (HOOKS !== 'module' && HOOKS !== 'oneshot') {
  console.error(`--hooks: expected module or oneshot, got ${HOOKS}`);
  process.exit(2);
}

// ---------------------------------------------------------------- binaries

const compiledBinary = () => findBinary(flag('binary'));

// ---------------------------------------------------------------- targets

interface Target {
  name: string;
  runtime: 'node' | 'bun' | 'deno';
  /** floor: a baseline that keeps what any gateway must, measured against the bare one. */
  kind: 'baseline' | 'floor' | 'wsgate';
  /** The baseline its ratios are taken against. */
  baseline: 'baseline-node' | 'baseline-bun' | 'baseline-deno';
  argv: string[];
  /** The executable the measured process must be running. */
  exe: string;
}

function targets(configFile: string, binary: string): Target[] {
  const node = process.execPath;
  const bun = realBinary('bun');
  const deno = realBinary('deno');
  const serve = ['serve', '--port', '0', '--listen', HOST, '--config', configFile];
  const wsgate = (runtime: 'node' | 'bun' | 'deno' | 'binary') => {
    const { argv, exe } = wsgateCommand(runtime, serve, binary);
    return { argv, exe };
  };
  return [
    { name: 'baseline-node', runtime: 'node', kind: 'baseline', baseline: 'baseline-node', argv: [node, join(HERE, 'baseline-node.mjs')], exe: node },
    { name: 'wsgate-node', runtime: 'node', kind: 'wsgate', baseline: 'baseline-node', ...wsgate('node') },
    { name: 'baseline-bun', runtime: 'bun', kind: 'baseline', baseline: 'baseline-bun', argv: [bun, join(HERE, 'baseline-bun.ts')], exe: bun },
    { name: 'registry-bun', runtime: 'bun', kind: 'floor', baseline: 'baseline-bun', argv: [bun, join(HERE, 'baseline-bun.ts'), '--registry'], exe: bun },
    { name: 'arena-bun', runtime: 'bun', kind: 'floor', baseline: 'baseline-bun', argv: [bun, join(HERE, 'baseline-bun.ts'), '--arena'], exe: bun },
    { name: 'wsgate-bun', runtime: 'bun', kind: 'wsgate', baseline: 'baseline-bun', ...wsgate('bun') },
    { name: 'wsgate-binary', runtime: 'bun', kind: 'wsgate', baseline: 'baseline-bun', ...wsgate('binary') },
    { name: 'baseline-deno', runtime: 'deno', kind: 'baseline', baseline: 'baseline-deno', argv: [deno, 'run', '--allow-all', '--quiet', join(HERE, 'baseline-deno.ts')], exe: deno },
    { name: 'wsgate-deno', runtime: 'deno', kind: 'wsgate', baseline: 'baseline-deno', ...wsgate('deno') },
  ];
}

// ---------------------------------------------------------------- children

installCleanup('fanout', RUN_CAP_MS);

async function startServer(target: Target): Promise<Server> {
  return startCommand(target, { fdNeed: ALL_SOCKETS + 1024 });
}

// ---------------------------------------------------------------- client workers

interface Worker {
  child: ChildProcess;
  count: number;
  open: number;
}

type WorkerMessage =
  | { type: 'opened'; open: number; failed: number; errors: string[] }
  | { type: 'round'; r: number; at: string }
  | { type: 'closed'; code: number }
  | { type: 'done' };

/** Round number -> resolver called with each worker's last-receipt time. */
const roundWaiters = new Map<number, (at: bigint) => void>();
let unexpectedCloses = 0;

/** `timed`: its receipts count for a round's latency (the warm sockets' do not). */
function startWorker(count: number, timed = true): Worker {
  const need = count + 256;
  const command = withFdLimit([process.execPath, join(HERE, 'client.mjs')], need);
  const child = track(spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const worker: Worker = { child, count, open: 0 };
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'round' && timed) roundWaiters.get(message.r)?.(BigInt(message.at));
    else if (message.type === 'closed') unexpectedCloses++;
  });
  return worker;
}

function nextMessage<T extends WorkerMessage['type']>(worker: Worker, type: T, ms: number): Promise<Extract<WorkerMessage, { type: T }>> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const onMessage = (message: WorkerMessage) => {
        if (message.type !== type) return;
        worker.child.off('message', onMessage);
        resolve(message as Extract<WorkerMessage, { type: T }>);
      };
      worker.child.on('message', onMessage);
      worker.child.once('exit', (code) => reject(new Error(`client worker exited (${code})`)));
    }),
    ms,
    `client worker ${type}`,
  );
}

async function stopWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode !== null) return;
      w.child.send({ cmd: 'close' });
      await nextMessage(w, 'done', 10_000).catch(() => {});
      await sleep(100);
      w.child.kill('SIGKILL');
    }),
  );
}

// ---------------------------------------------------------------- HTTP

const agent = new Agent({ keepAlive: true, maxSockets: 1 });


/** The cast's `data`, sized so that JSON.stringify(data) is exactly SIZE bytes: {"r":<round>,"p":"xxxx"}. */
function frameData(round: number): { r: number; p: string } {
  const shell = JSON.stringify({ r: round, p: '' }).length;
  return { r: round, p: 'x'.repeat(Math.max(0, SIZE - shell)) };
}

// ---------------------------------------------------------------- measuring

interface Result {
  target: string;
  runtime: string;
  pass: number;
  pid: number;
  threads: number;
  rss0Kb: number;
  rssIdleKb: number;
  rssAfterKb: number;
  hwmKb: number;
  memPerSocketKb: number;
  /** Of it, anonymous memory only (RssAnon): without the pages of the runtime's executable that serving maps in once. */
  anonPerSocketKb: number;
  /** With --settle: per socket once the server has been idle SETTLE_S seconds. */
  memSettledPerSocketKb: number;
  connectCpuUs: number;
  idleWaitMs: number;
  castTicks: number;
  cpuPerFrameUs: number;
  cpuPerFrameSchedUs: number;
  userPerFrameUs: number;
  sysPerFrameUs: number;
  clientCpuPerFrameUs: number;
  latencyMedianMs: number;
  latencyP90Ms: number;
  latencyMaxMs: number;
  postMedianMs: number;
  frames: number;
  error?: string;
}

function processCpuTicks(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpu(pid).ticks;
    } catch {
      // exited
    }
  }
  return sum;
}

async function measure(target: Target, pass: number): Promise<Result> {
  console.error(`- ${target.name} (pass ${pass}): starting`);
  const server = await startServer(target);
  const workers: Worker[] = [];
  try {
    const { pid, port } = server;
    await sleep(1000);
    await waitIdle(pid);
    unexpectedCloses = 0;
    const url = `ws://${HOST}:${port}/websocket`;
    if (WARM_SOCKETS > 0) {
      // Their tokens follow the measured sockets' (first: SOCKETS), so every socket has its own.
      const warm = startWorker(WARM_SOCKETS, false);
      workers.push(warm);
      warm.child.send({ cmd: 'open', url, count: WARM_SOCKETS, first: SOCKETS, concurrency: 32 });
      const opened = await nextMessage(warm, 'opened', OPEN_TIMEOUT_MS);
      if (opened.open !== WARM_SOCKETS) throw new Error(`opened ${opened.open} of ${WARM_SOCKETS} warm-up sockets`);
      warm.open = opened.open;
      await waitIdle(pid);
    }
    // Settled before as after: a start's own garbage is given back by the same reducer.
    if (SETTLE_S > 0) await sleep(SETTLE_S * 1000);
    const rss0Kb = statusKb(pid, 'VmRSS');
    const anon0Kb = statusKb(pid, 'RssAnon');
    const cpu0 = cpu(pid);

    // Open the sockets, spread evenly over the workers.
    const warmWorkers = workers.length;
    let first = 0;
    for (let w = 0; w < WORKERS; w++) {
      const count = Math.floor(SOCKETS / WORKERS) + (w < SOCKETS % WORKERS ? 1 : 0);
      const worker = startWorker(count);
      workers.push(worker);
      worker.child.send({ cmd: 'open', url, count, first, concurrency: 32 });
      first += count;
    }
    const opened = await Promise.all(workers.slice(warmWorkers).map((w) => nextMessage(w, 'opened', OPEN_TIMEOUT_MS)));
    const open = opened.reduce((n, m) => n + m.open, 0);
    const failed = opened.reduce((n, m) => n + m.failed, 0);
    if (open !== SOCKETS) throw new Error(`opened ${open} of ${SOCKETS} sockets (${failed} failed: ${opened.flatMap((m) => m.errors).join('; ')})`);
    opened.forEach((m, i) => (workers[warmWorkers + i]!.open = m.open));
    console.error(`  ${open} sockets open; waiting for the server to go idle`);
    const idleWaitMs = await waitIdle(pid);
    const rssIdleKb = statusKb(pid, 'VmRSS');
    const anonIdleKb = statusKb(pid, 'RssAnon');
    const cpuIdle = cpu(pid);
    if (SETTLE_S > 0) await sleep(SETTLE_S * 1000);
    const rssSettledKb = statusKb(pid, 'VmRSS');

    // Cast rounds: warm-up first (unmeasured), then the measured ones.
    const latencies: number[] = [];
    const posts: number[] = [];
    let cpuStart: CpuSample | undefined;
    let clientStart = 0;
    const workerPids = workers.map((w) => w.child.pid!);
    for (let r = 1; r <= WARMUP + ROUNDS; r++) {
      const measured = r > WARMUP;
      if (measured && !cpuStart) {
        cpuStart = cpu(pid);
        clientStart = processCpuTicks(workerPids);
      }
      let pending = workers.length - warmWorkers;
      let last = 0n;
      const done = new Promise<bigint>((resolve) => {
        roundWaiters.set(r, (at) => {
          if (at > last) last = at;
          if (--pending === 0) resolve(last);
        });
      });
      const body = JSON.stringify({ host: HOST, target: 'all', data: frameData(r) });
      const t0 = process.hrtime.bigint();
      const answer = await postMessage(agent, port, body, ROUND_TIMEOUT_MS);
      const tPost = process.hrtime.bigint();
      if (answer.status !== 200) throw new Error(`POST /message answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      const sent = (JSON.parse(answer.text) as { sent?: number }).sent;
      if (sent !== ALL_SOCKETS) throw new Error(`round ${r}: the server says it sent ${sent}, expected ${ALL_SOCKETS}`);
      const lastAt = await withTimeout(done, ROUND_TIMEOUT_MS, `round ${r} delivery (${unexpectedCloses} sockets closed)`);
      roundWaiters.delete(r);
      if (measured) {
        latencies.push(Number(lastAt - t0) / 1e6);
        posts.push(Number(tPost - t0) / 1e6);
      }
    }
    const cpuEnd = cpu(pid);
    const clientEnd = processCpuTicks(workerPids);
    const frames = ROUNDS * ALL_SOCKETS;
    const castTicks = cpuEnd.ticks - cpuStart!.ticks;
    const result: Result = {
      target: target.name,
      runtime: target.runtime,
      pass,
      pid,
      threads: statusKb(pid, 'Threads'),
      rss0Kb,
      rssIdleKb,
      rssAfterKb: statusKb(pid, 'VmRSS'),
      hwmKb: statusKb(pid, 'VmHWM'),
      memPerSocketKb: (rssIdleKb - rss0Kb) / SOCKETS,
      anonPerSocketKb: (anonIdleKb - anon0Kb) / SOCKETS,
      memSettledPerSocketKb: SETTLE_S > 0 ? (rssSettledKb - rss0Kb) / SOCKETS : NaN,
      connectCpuUs: ticksToMicros(cpuIdle.ticks - cpu0.ticks) / SOCKETS,
      idleWaitMs,
      castTicks,
      cpuPerFrameUs: ticksToMicros(castTicks) / frames,
      cpuPerFrameSchedUs: (cpuEnd.schedNs - cpuStart!.schedNs) / 1000 / frames,
      userPerFrameUs: ticksToMicros(cpuEnd.userTicks - cpuStart!.userTicks) / frames,
      sysPerFrameUs: ticksToMicros(cpuEnd.sysTicks - cpuStart!.sysTicks) / frames,
      clientCpuPerFrameUs: ticksToMicros(clientEnd - clientStart) / frames,
      latencyMedianMs: median(latencies),
      latencyP90Ms: quantile(latencies, 0.9),
      latencyMaxMs: Math.max(...latencies),
      postMedianMs: median(posts),
      frames,
    };
    console.error(
      `  cpu ${result.cpuPerFrameUs.toFixed(2)} us/frame (${castTicks} ticks), latency median ${result.latencyMedianMs.toFixed(2)} ms, ` +
        `${result.memPerSocketKb.toFixed(2)} KB/socket (anonymous ${result.anonPerSocketKb.toFixed(2)})${SETTLE_S > 0 ? ` (${result.memSettledPerSocketKb.toFixed(2)} after ${SETTLE_S} s)` : ''}, client ${result.clientCpuPerFrameUs.toFixed(2)} us/frame`,
    );
    return result;
  } catch (error) {
    console.error(`  ${target.name} failed: ${(error as Error).message}\n  last log lines:\n    ${server.logTail.slice(-5).join('\n    ')}`);
    return { target: target.name, runtime: target.runtime, pass, error: (error as Error).message } as Result;
  } finally {
    await stopWorkers(workers);
    await server.stop();
    for (const r of [...roundWaiters.keys()]) roundWaiters.delete(r);
  }
}

// ---------------------------------------------------------------- report

function fmt(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}
function ratio(value: number, base: number | undefined): string {
  return base !== undefined && Number.isFinite(value) && Number.isFinite(base) && base > 0 ? `${(value / base).toFixed(2)}x` : '';
}

function combine(results: Result[]): Result[] {
  const names = [...new Set(results.map((r) => r.target))];
  return names.map((name) => {
    const runs = results.filter((r) => r.target === name && !r.error);
    if (runs.length === 0) return results.find((r) => r.target === name)!;
    const out = { ...runs[0]!, pass: runs.length } as Result;
    for (const key of Object.keys(out) as Array<keyof Result>) {
      if (typeof out[key] === 'number' && key !== 'pass' && key !== 'pid') {
        (out as unknown as Record<string, number>)[key] = median(runs.map((r) => r[key] as number));
      }
    }
    return out;
  });
}

function table(rows: Result[], list: Target[]): string {
  const byName = new Map(rows.map((r) => [r.target, r]));
  const lines = [
    `| server | runtime | CPU µs / frame | vs baseline | of which user-mode µs / frame | vs baseline | median POST→last receipt (ms) | vs baseline | memory KB / idle socket${WARM_SOCKETS ? ` past the first ${WARM_SOCKETS}` : ''} | vs baseline | of which anonymous KB / socket | vs baseline | connect CPU µs / socket | RSS ${WARM_SOCKETS ? `${WARM_SOCKETS} → ${ALL_SOCKETS}` : '0 → N'} sockets (MB) |${SETTLE_S > 0 ? ` memory KB / socket after ${SETTLE_S} s idle | vs baseline |` : ''}`,
    `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${SETTLE_S > 0 ? '---:|---:|' : ''}`,
  ];
  for (const t of list) {
    const r = byName.get(t.name);
    if (!r) continue;
    if (r.error) {
      lines.push(`| ${t.name} | ${t.runtime} | failed: ${r.error.replace(/\|/g, '/').slice(0, 120)} | | | | | | | | | | | |`);
      continue;
    }
    const base = t.kind !== 'baseline' ? byName.get(t.baseline) : undefined;
    const okBase = base && !base.error ? base : undefined;
    lines.push(
      `| ${t.name} | ${t.runtime} | ${fmt(r.cpuPerFrameUs)} | ${ratio(r.cpuPerFrameUs, okBase?.cpuPerFrameUs)} | ` +
        `${fmt(r.userPerFrameUs)} | ${ratio(r.userPerFrameUs, okBase?.userPerFrameUs)} | ` +
        `${fmt(r.latencyMedianMs)} | ${ratio(r.latencyMedianMs, okBase?.latencyMedianMs)} | ` +
        `${fmt(r.memPerSocketKb, 2)} | ${ratio(r.memPerSocketKb, okBase?.memPerSocketKb)} | ` +
        `${fmt(r.anonPerSocketKb, 2)} | ${ratio(r.anonPerSocketKb, okBase?.anonPerSocketKb)} | ` +
        `${fmt(r.connectCpuUs, 0)} | ${fmt(r.rss0Kb / 1024, 1)} → ${fmt(r.rssIdleKb / 1024, 1)} |` +
        (SETTLE_S > 0 ? ` ${fmt(r.memSettledPerSocketKb, 2)} | ${ratio(r.memSettledPerSocketKb, okBase?.memSettledPerSocketKb)} |` : ''),
    );
  }
  return lines.join('\n');
}

function detailTable(rows: Result[]): string {
  const lines = [
    '| server | pass | cast ticks | CPU µs/frame (stat) | user / kernel µs/frame | CPU µs/frame (schedstat) | client CPU µs/frame | latency p50 / p90 / max (ms) | POST answer p50 (ms) | idle wait (ms) | RSS after casts / peak (MB) | threads |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.target} | ${r.pass} | failed | | | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.target} | ${r.pass} | ${r.castTicks} | ${fmt(r.cpuPerFrameUs)} | ${fmt(r.userPerFrameUs)} / ${fmt(r.sysPerFrameUs)} | ${fmt(r.cpuPerFrameSchedUs)} | ${fmt(r.clientCpuPerFrameUs)} | ` +
        `${fmt(r.latencyMedianMs)} / ${fmt(r.latencyP90Ms)} / ${fmt(r.latencyMaxMs)} | ${fmt(r.postMedianMs)} | ${r.idleWaitMs} | ` +
        `${fmt(r.rssAfterKb / 1024, 1)} / ${fmt(r.hwmKb / 1024, 1)} | ${r.threads} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

const work = mkdtempSync(join(tmpdir(), 'wsgate-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const hooks = join(work, 'noop-hooks.mjs');
writeFileSync(hooks, '// No hooks: auth, connect, receive and close all accept / do nothing.\nexport {};\n');
const configFile = join(work, 'wsgate.json');
// One-shot: each upgrade spawns its auth (and connect) hook; the limits let the clients' 64 handshakes in flight all spawn.
const oneshot = { hosts: { '*': { command: ['/bin/true'] } }, limits: { hookProcesses: 256, authsPerHost: 256 } };
writeFileSync(configFile, JSON.stringify({ listen: HOST, port: 0, ...(HOOKS === 'module' ? { hosts: { '*': { module: hooks } } } : oneshot) }, null, 2));

const only = flag('only')?.split(',').map((s) => s.trim()).filter(Boolean);
const binary = only && !only.includes('wsgate-binary') ? { path: '/bin/false', note: 'not used' } : compiledBinary();
const all = targets(configFile, binary.path);
if (only) {
  const unknown = only.filter((name) => !all.some((t) => t.name === name));
  if (unknown.length) {
    console.error(`--only: unknown target(s) ${unknown.join(', ')}; expected ${all.map((t) => t.name).join(', ')}`);
    process.exit(2);
  }
}
const list = only ? all.filter((t) => only.includes(t.name)) : all;

const { soft, hard } = fdLimits();
console.error(
  `fanout: ${SOCKETS} sockets, ${ROUNDS} rounds (+${WARMUP} warm-up) of ${SIZE}-byte frames, ${WORKERS} client worker(s), ` +
    `${REPEAT} pass(es); CLK_TCK=${CLK_TCK}; open files ${soft}/${hard}; binary: ${binary.note}`,
);

const results: Result[] = [];
const started = Date.now();
for (let pass = 1; pass <= REPEAT; pass++) {
  for (const target of list) results.push(await measure(target, pass));
}
const combined = combine(results);

const versions = runtimeVersions();
console.log(`## Fan-out: ${SOCKETS} sockets${WARM_SOCKETS ? ` after ${WARM_SOCKETS} warm-up sockets` : ''}, ${ROUNDS} measured casts of ${SIZE} bytes${REPEAT > 1 ? `, median of ${REPEAT} passes` : ''}, wsgate with ${HOOKS === 'module' ? 'a hook module' : 'one-shot hooks (/bin/true)'}\n`);
console.log(
  `Machine: ${machine()}; node ${versions.node}, bun ${versions.bun}, ${versions.deno}; ` +
    `${WORKERS} client worker process(es); binary: ${binary.note}; took ${Math.round((Date.now() - started) / 1000)} s.\n`,
);
console.log(table(combined, list));
console.log(
  '\nRatios: wsgate-node against baseline-node; wsgate-bun and wsgate-binary against baseline-bun; wsgate-deno against baseline-deno. ' +
    'CPU is the server process\'s utime+stime ' +
    'over the measured casts (their HTTP requests included) divided by frames delivered; user-mode is the utime part (the kernel part is mostly loopback TCP).\n',
);
console.log('### Details (every pass)\n');
console.log(detailTable(results));
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ sockets: SOCKETS, rounds: ROUNDS, warmup: WARMUP, workers: WORKERS, size: SIZE, clkTck: CLK_TCK, versions, binary: binary.note, results }, null, 2));
agent.destroy();
process.exit(results.some((r) => r.error) ? 1 : 0);
