/**
 * Index casts: what one `token:<t>` cast and one `socket:<id>` cast (each
 * reaching exactly one socket) cost the SERVER, with few and with many
 * sockets open on the same host. If the hub finds the socket through an index
 * the cost does not grow with the host's socket count; a scan would.
 *
 *   node --import tsx scripts/bench/index-cast.ts [flags]
 *
 *   --runtimes a,b    wsgate runtimes: binary,node,bun,deno (default binary,node)
 *   --small N         sockets at the small scale (default 100)
 *   --large N         sockets at the large scale (default 10000)
 *   --casts N         measured casts per kind and phase (default 12000), after --warmup-casts W (default 3000;
 *                     twice that per kind once, before the first phase)
 *   --concurrency C   casts in flight at most, one keep-alive connection each (default 8)
 *   --rate R          casts per second offered, paced (default 2000; 0: as fast as the lanes go)
 *   --workers W       client processes holding the sockets (default 2)
 *   --binary PATH     the compiled wsgate (default dist/wsgate, built by build.ts when missing)
 *   --json FILE       also write every row as JSON
 *
 * Per runtime, one server (`wsgate serve`, one host "*" whose in-process
 * module's connect hook casts the socket its own id as its first frame, so
 * the client learns every socket id; keepalive pings off, log level warn, so
 * nothing but the casts runs during a window). Phases, A-B-A:
 *
 *   1. open --small sockets (socket i sends Cookie: token=idx-<i>), wait until idle;
 *      measure token casts, then socket casts;
 *   2. grow the same host to --large sockets, wait until idle; measure both again;
 *   3. close the extra sockets (back to --small), wait until idle; measure both again.
 *
 * A measurement: --warmup-casts unmeasured casts, then --casts casts, each a
 * `POST /message {"host":"127.0.0.1","target":"token:idx-<i>" | "socket:<id>","data":{"c":n}}`
 * to a socket picked at random (fixed seed) among the open ones, at a fixed
 * offered rate (cast k is sent at k / --rate s, by the first of --concurrency
 * lanes that is free), so the server sees the same arrival pattern at every
 * socket count: with a closed loop, how many requests the server finds per
 * wake-up follows how fast the driver happens to be, and CPU per request with
 * it. Every answer must say `sent: 1`, and the clients must have
 * received exactly one frame per cast by the end. Server CPU per cast =
 * utime+stime of the server over the measured casts / casts (10 ms ticks; the
 * defaults span 70-250 ticks), with schedstat ns as a cross-check.
 * Ratio = CPU per cast at --large / the mean of the two --small phases (1.0:
 * independent of the socket count).
 *
 * Loopback only; every child is killed on exit; every wait is bounded.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_DIR,
  HOST,
  ROOT,
  compiledBinary,
  fmt,
  freePort,
  helpFromDoc,
  installCleanup,
  machine,
  median,
  pacedLanes,
  parseFlags,
  postMessage,
  sleep,
  startServer,
  track,
  versions,
  waitIdle,
  withFdLimit,
  workerMailbox,
  wsgateCommand,
} from './harness.ts';
import type { Server, WsgateRuntime } from './harness.ts';
import { CLK_TCK, cpu, statusKb, ticksToMicros } from './proc.ts';

helpFromDoc(import.meta.url);
const flags = parseFlags();
const RUNTIMES = (flags.list('runtimes') ?? ['binary', 'node']) as WsgateRuntime[];
const SMALL = flags.int('small', 100);
const LARGE = flags.int('large', 10_000);
const CASTS = flags.int('casts', 12_000);
const WARMUP = flags.int('warmup-casts', 3000, 0);
const CONCURRENCY = flags.int('concurrency', 8);
const RATE = flags.num('rate', 2000, 0);
const WORKERS = Math.min(flags.int('workers', 2), SMALL);
const JSON_OUT = flags.get('json');
for (const r of RUNTIMES) if (!['node', 'bun', 'deno', 'binary'].includes(r)) throw new Error(`--runtimes: unknown runtime ${r}`);
if (LARGE <= SMALL) throw new Error('--large must be more than --small');

installCleanup('index-cast', 15 * 60 * 1000);
const work = mkdtempSync(join(tmpdir(), 'wsgate-index-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------- config

const hooks = join(work, 'id-hooks.mjs');
// connect's output does not reach the socket (only receive streams), so the hook casts the id to the socket itself.
writeFileSync(hooks, "// Accept every socket; tell each one its id, so the bench can cast to socket:<id>.\nexport const connect = ({ socket, cast }) => { cast({ id: socket }, { target: `socket:${socket}` }); };\n");
const configFile = join(work, 'wsgate.json');
writeFileSync(configFile, JSON.stringify({ listen: HOST, port: 0, keepalive: 0, hosts: { '*': { module: hooks } } }, null, 2));

// ---------------------------------------------------------------- client workers

type WorkerMessage =
  | { type: 'opened'; open: number; failed: number; errors: string[]; sockets: Array<[number, string]> }
  | { type: 'count'; frames: number; open: number }
  | { type: 'shrunk'; open: number }
  | { type: 'closed'; index: number; code: number }
  | { type: 'done' };

interface Worker {
  child: ChildProcess;
  next<T extends WorkerMessage['type']>(type: T, ms: number): Promise<Extract<WorkerMessage, { type: T }>>;
}

let unexpectedCloses = 0;

function startWorker(): Worker {
  const command = withFdLimit([process.execPath, join(BENCH_DIR, 'index-client.mjs')], LARGE + 1024);
  const child = track(spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  return { child, next: workerMailbox<WorkerMessage>(child, () => unexpectedCloses++) };
}

/** Opens sockets first..first+count-1, spread over the workers; returns index -> id of the new ones. */
async function openSockets(workers: Worker[], url: string, first: number, count: number): Promise<Map<number, string>> {
  let at = first;
  const asked: Worker[] = [];
  for (const [w, worker] of workers.entries()) {
    const share = Math.floor(count / workers.length) + (w < count % workers.length ? 1 : 0);
    if (share === 0) continue;
    worker.child.send({ cmd: 'open', url, first: at, count: share, concurrency: 32 });
    asked.push(worker);
    at += share;
  }
  const opened = await Promise.all(asked.map((w) => w.next('opened', 300_000)));
  const ids = new Map<number, string>();
  for (const m of opened) for (const [index, id] of m.sockets) ids.set(index, id);
  if (ids.size !== count) {
    const failed = opened.reduce((n, m) => n + m.failed, 0);
    throw new Error(`opened ${ids.size} of ${count} sockets (${failed} failed: ${opened.flatMap((m) => m.errors).join('; ')})`);
  }
  return ids;
}

async function framesReceived(workers: Worker[]): Promise<number> {
  const counts = await Promise.all(
    workers.map((w) => {
      w.child.send({ cmd: 'count' });
      return w.next('count', 10_000);
    }),
  );
  return counts.reduce((n, c) => n + c.frames, 0);
}

async function stopWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode !== null) return;
      w.child.send({ cmd: 'close' });
      await w.next('done', 10_000).catch(() => {});
      await sleep(100);
      w.child.kill('SIGKILL');
    }),
  );
}

// ---------------------------------------------------------------- casting

/** mulberry32: a small seeded PRNG, so every run picks the same sockets. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


type Kind = 'token' | 'socket';

/** `count` casts of `kind` to random open sockets, paced at RATE/s, at most `CONCURRENCY` in flight; returns the POST answer times (ms). */
async function cast(port: number, kind: Kind, ids: Map<number, string>, count: number, seed: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const open = [...ids.keys()];
  const random = prng(seed);
  const bodies = Array.from({ length: count }, (_, n) => {
    const index = open[Math.floor(random() * open.length)]!;
    const target = kind === 'token' ? `token:idx-${index}` : `socket:${ids.get(index)}`;
    return JSON.stringify({ host: HOST, target, data: { c: n } });
  });
  const times: number[] = [];
  try {
    await pacedLanes(count, CONCURRENCY, RATE, async (k) => {
      const body = bodies[k]!;
      const t0 = performance.now();
      const answer = await postMessage(agent, port, body, 30_000);
      times.push(performance.now() - t0);
      if (answer.status !== 200) throw new Error(`POST /message answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      const sent = (JSON.parse(answer.text) as { sent?: number }).sent;
      if (sent !== 1) throw new Error(`${kind} cast: the server says it sent ${sent}, expected 1 (${body})`);
    });
  } finally {
    agent.destroy();
  }
  return times;
}

// ---------------------------------------------------------------- measuring

interface Row {
  server: string;
  runtime: WsgateRuntime;
  kind: Kind;
  phase: 'small' | 'large' | 'small-again';
  sockets: number;
  casts: number;
  ticks: number;
  cpuUsPerCast: number;
  userUsPerCast: number;
  sysUsPerCast: number;
  schedUsPerCast: number;
  castsPerSecond: number;
  postP50Ms: number;
  rssKb: number;
  error?: string;
}

let seed = 1;

async function measure(server: Server, runtime: WsgateRuntime, workers: Worker[], ids: Map<number, string>, phase: Row['phase'], kind: Kind): Promise<Row> {
  const name = `wsgate-${runtime}`;
  if (WARMUP > 0) await cast(server.port, kind, ids, WARMUP, seed++);
  const before = await framesReceived(workers);
  const a = cpu(server.pid);
  const t0 = performance.now();
  const times = await cast(server.port, kind, ids, CASTS, seed++);
  const ms = performance.now() - t0;
  const b = cpu(server.pid);
  // Every cast reached its socket: wait (bounded) for the last frames to land.
  const want = before + CASTS;
  let got = await framesReceived(workers);
  for (let waited = 0; got < want && waited < 10_000; waited += 50) {
    await sleep(50);
    got = await framesReceived(workers);
  }
  const row: Row = {
    server: name,
    runtime,
    kind,
    phase,
    sockets: ids.size,
    casts: CASTS,
    ticks: b.ticks - a.ticks,
    cpuUsPerCast: ticksToMicros(b.ticks - a.ticks) / CASTS,
    userUsPerCast: ticksToMicros(b.userTicks - a.userTicks) / CASTS,
    sysUsPerCast: ticksToMicros(b.sysTicks - a.sysTicks) / CASTS,
    schedUsPerCast: (b.schedNs - a.schedNs) / 1000 / CASTS,
    castsPerSecond: (CASTS * 1000) / ms,
    postP50Ms: median(times),
    rssKb: statusKb(server.pid, 'VmRSS'),
  };
  if (got !== want) row.error = `clients received ${got - before} frames for ${CASTS} casts`;
  console.error(
    `  ${name} ${kind}: casts at ${ids.size} sockets: ${fmt(row.cpuUsPerCast, 1)} µs/cast server CPU (${row.ticks} ticks; schedstat ${fmt(row.schedUsPerCast, 1)}), ` +
      `${fmt(row.castsPerSecond, 0)} casts/s${row.error ? `; ${row.error}` : ''}`,
  );
  return row;
}

async function runRuntime(runtime: WsgateRuntime, binary: string | undefined): Promise<Row[]> {
  const rows: Row[] = [];
  const port = await freePort();
  const command = wsgateCommand(runtime, ['serve', '--port', String(port), '--listen', HOST, '--config', configFile, '--log-level', 'warn'], binary);
  console.error(`- ${command.name}: starting`);
  let server: Server;
  try {
    server = await startServer(command, { port, fdNeed: LARGE + 1024 });
  } catch (error) {
    console.error(`  ${command.name} failed to start: ${(error as Error).message}`);
    return [{ server: command.name, runtime, kind: 'token', phase: 'small', error: (error as Error).message } as Row];
  }
  const workers = Array.from({ length: WORKERS }, startWorker);
  unexpectedCloses = 0;
  const url = `ws://${HOST}:${server.port}/websocket`;
  const phase = async (name: Row['phase'], ids: Map<number, string>) => {
    const idleMs = await waitIdle(server.pid);
    console.error(`  ${ids.size} sockets open (idle after ${idleMs} ms)`);
    for (const kind of ['token', 'socket'] as const) rows.push(await measure(server, runtime, workers, ids, name, kind));
  };
  try {
    const ids = await openSockets(workers, url, 0, SMALL);
    // A longer warm-up once, before the first phase, so the JIT has settled before anything is measured.
    for (const kind of ['token', 'socket'] as const) await cast(server.port, kind, ids, 2 * WARMUP, seed++);
    await phase('small', ids);
    const more = await openSockets(workers, url, SMALL, LARGE - SMALL);
    const all = new Map([...ids, ...more]);
    await phase('large', all);
    await Promise.all(
      workers.map((w) => {
        w.child.send({ cmd: 'shrink', keep: SMALL });
        return w.next('shrunk', 120_000);
      }),
    );
    await phase('small-again', ids);
    if (unexpectedCloses) throw new Error(`${unexpectedCloses} sockets closed unexpectedly`);
  } catch (error) {
    console.error(`  ${command.name} failed: ${(error as Error).message}\n    ${server.logTail.slice(-5).join('\n    ')}`);
    rows.push({ server: command.name, runtime, kind: 'token', phase: 'large', error: (error as Error).message } as Row);
  } finally {
    await stopWorkers(workers);
    await server.stop();
  }
  return rows;
}

// ---------------------------------------------------------------- run

export interface Summary {
  server: string;
  kind: Kind;
  small: number;
  large: number;
  /** µs/cast at --small: the mean of the two small phases. */
  smallUs: number;
  smallUsRange: [number, number];
  largeUs: number;
  ratio: number;
}

const started = Date.now();
const binary = RUNTIMES.includes('binary') ? compiledBinary(flags.get('binary')) : undefined;
console.error(`index-cast: ${SMALL} -> ${LARGE} -> ${SMALL} sockets, ${CASTS} casts (+${WARMUP} warm-up) per kind and phase, ${RATE ? `${RATE}/s offered, ` : ''}at most ${CONCURRENCY} in flight; CLK_TCK=${CLK_TCK}`);
const rows: Row[] = [];
for (const runtime of RUNTIMES) rows.push(...(await runRuntime(runtime, binary?.path)));

const summary: Summary[] = [];
for (const runtime of RUNTIMES) {
  for (const kind of ['token', 'socket'] as const) {
    const pick = (phase: Row['phase']) => rows.find((r) => r.runtime === runtime && r.kind === kind && r.phase === phase && !r.error && r.casts);
    const s1 = pick('small');
    const l = pick('large');
    const s2 = pick('small-again');
    if (!s1 || !l) continue;
    const smalls = [s1.cpuUsPerCast, ...(s2 ? [s2.cpuUsPerCast] : [])];
    const smallUs = smalls.reduce((a, b) => a + b, 0) / smalls.length;
    summary.push({
      server: `wsgate-${runtime}`,
      kind,
      small: SMALL,
      large: LARGE,
      smallUs,
      smallUsRange: [Math.min(...smalls), Math.max(...smalls)],
      largeUs: l.cpuUsPerCast,
      ratio: l.cpuUsPerCast / smallUs,
    });
  }
}

const v = versions();
console.log(`## Index casts: one socket per cast, ${SMALL} -> ${LARGE} -> ${SMALL} sockets on one host, ${CASTS} casts per cell\n`);
console.log(`Machine: ${machine()}; node ${v.node}, bun ${v.bun}, ${v.deno}; binary: ${binary?.note ?? 'not used'}; ${RATE ? `${RATE} casts/s offered, ` : ''}at most ${CONCURRENCY} in flight; took ${Math.round((Date.now() - started) / 1000)} s.\n`);
console.log('| server | target | sockets | casts | server CPU µs/cast | user / kernel µs | schedstat µs/cast | ticks | casts/s | POST p50 ms | RSS MB |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  if (!r.casts) {
    console.log(`| ${r.server} | ${r.kind} | | | failed: ${(r.error ?? '?').replace(/\|/g, '/').slice(0, 120)} | | | | | | |`);
    continue;
  }
  console.log(
    `| ${r.server} | ${r.kind}: | ${r.sockets} (${r.phase}) | ${r.casts} | ${fmt(r.cpuUsPerCast, 1)} | ${fmt(r.userUsPerCast, 1)} / ${fmt(r.sysUsPerCast, 1)} | ${fmt(r.schedUsPerCast, 1)} | ${r.ticks} | ` +
      `${fmt(r.castsPerSecond, 0)} | ${fmt(r.postP50Ms, 3)} | ${fmt(r.rssKb / 1024, 1)} |${r.error ? ` ${r.error}` : ''}`,
  );
}
console.log(`\n| server | target | µs/cast at ${SMALL} (mean of both ${SMALL}-socket phases; range) | µs/cast at ${LARGE} | ratio ${LARGE} / ${SMALL} |`);
console.log('|---|---|---:|---:|---:|');
for (const s of summary) {
  console.log(`| ${s.server} | ${s.kind}: | ${fmt(s.smallUs, 1)} (${fmt(s.smallUsRange[0], 1)}–${fmt(s.smallUsRange[1], 1)}) | ${fmt(s.largeUs, 1)} | ${fmt(s.ratio, 2)}x |`);
}
console.log('\nCPU per cast includes the whole POST /message (HTTP parse, JSON, validation, answer) and the one frame sent; 1.00x means the cast does not scan the host\'s sockets.');
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ small: SMALL, large: LARGE, casts: CASTS, warmup: WARMUP, concurrency: CONCURRENCY, rate: RATE, clkTck: CLK_TCK, versions: v, binary: binary?.note, rows, summary }, null, 2));
process.exit(rows.some((r) => r.error) ? 1 : 0);
