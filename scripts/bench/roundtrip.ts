/**
 * Receive round trip: a client sends a message, the app's receive hook prints
 * it back as one line, the client receives it. Closed loop: every socket has
 * one message in flight (send, await the reply, send the next). For wsgate on
 * each runtime, with one-shot PHP (a process per message), resident PHP (a
 * pool of `phlo_serve` workers; cap 1, the default on 2 cores, and cap 2) and
 * an in-process echo module (wsgate without PHP), at 1, 10 and 100 sockets;
 * plus the floors, in the same run:
 *
 *   - pipe floor: scripts/bench/pipe-floor.ts feeds `php echo.php phlo_serve`
 *     over its pipes directly, no gateway and no sockets, one job in flight
 *     (`raw`: bare pipes; `pool`: wsgate's own Pool + Worker classes);
 *   - socket floor: bare WebSocket echo servers (echo-node.mjs: node:http + ws;
 *     echo-bun.ts: Bun.serve; echo-deno.ts: Deno.serve, when deno is among
 *     the runtimes), driven by the same client.
 *
 *   node --import tsx scripts/bench/roundtrip.ts [flags]
 *
 *   --duration S       measured seconds per cell (default 3), after --warmup S (default 0.5)
 *   --runtimes a,b     wsgate runtimes: node,bun,deno,binary (default all four)
 *   --concurrency a,b  sockets per cell (default 1,10,100)
 *   --modes a,b        oneshot,resident,module (default all three)
 *   --caps a,b         resident pool caps (default 1,2; one-shot and module run on the first cap's server)
 *   --size B           message bytes (default 64)
 *   --php BIN          PHP binary (default php)
 *   --max-jobs N       the pool's maxJobs (jobs before a worker is replaced; default: wsgate's, 10000)
 *   --binary PATH      the compiled wsgate (default dist/wsgate, built by build.ts when missing)
 *   --floor-runs N     unpinned pipe-floor runs per runtime and variant (default 3; plus one on a single CPU)
 *   --floor-variants a,b  pipe-floor variants: raw,pool (default both)
 *   --no-pinned-floor  skip the pipe-floor run on a single CPU
 *   --floor-duration S measured seconds per pipe-floor run (default 1.5)
 *   --no-floor         skip the pipe floors;  --no-bare  skip the bare echo servers
 *   --json FILE        also write every row as JSON
 *
 * Per cell: a fresh client process (loop-client.mjs, ws) opens the sockets
 * (Cookie: token=bench-<i>, Host: <mode>.bench), the driver waits until the
 * server has no hook work left (connect hooks), the loops run --warmup
 * unrecorded, then --duration recorded; then the sockets close and the driver
 * waits for the close hooks. Latency = send() -> reply, in the client.
 * CPU per message = utime+stime over the window / replies, for the server,
 * the client and the PHP processes (live workers read directly; one-shot
 * processes through the server's cutime+cstime once reaped).
 * Every child is killed on exit; every wait is bounded; the run gives up after 20 minutes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HOST,
  ROOT,
  compiledBinary,
  fmt,
  helpFromDoc,
  installCleanup,
  machine,
  median,
  parseFlags,
  scriptCommand,
  track,
  versions,
  withTimeout,
} from './harness.ts';
import type { Server, WsgateRuntime } from './harness.ts';
import { BENCH_HOSTS, ECHO_APP, eachTarget, loopCell, phpExe } from './loops.ts';
import type { HookMode, Window } from './loops.ts';

helpFromDoc(import.meta.url);
const flags = parseFlags();
const DURATION_MS = flags.num('duration', 3, 0.2) * 1000;
const WARMUP_MS = flags.num('warmup', 0.5, 0) * 1000;
const RUNTIMES = (flags.list('runtimes') ?? ['node', 'bun', 'deno', 'binary']) as WsgateRuntime[];
const CONCURRENCY = (flags.list('concurrency') ?? ['1', '10', '100']).map(Number);
const MODES = (flags.list('modes') ?? ['oneshot', 'resident', 'module']) as HookMode[];
const CAPS = (flags.list('caps') ?? ['1', '2']).map(Number);
const SIZE = flags.int('size', 64, 24);
const PHP = flags.get('php') ?? 'php';
const MAX_JOBS = flags.get('max-jobs') === undefined ? undefined : flags.int('max-jobs', 10_000);
const JSON_OUT = flags.get('json');
const FLOOR_MS = flags.num('floor-duration', 1.5, 0.2) * 1000;
const FLOOR_RUNS = flags.int('floor-runs', 3);
const FLOOR_VARIANTS = (flags.list('floor-variants') ?? ['raw', 'pool']) as Array<'raw' | 'pool'>;
const PINNED_FLOOR = !flags.has('no-pinned-floor');
for (const f of FLOOR_VARIANTS) if (f !== 'raw' && f !== 'pool') throw new Error(`--floor-variants: unknown variant ${f}`);
for (const r of RUNTIMES) if (!['node', 'bun', 'deno', 'binary'].includes(r)) throw new Error(`--runtimes: unknown runtime ${r}`);
for (const m of MODES) if (!(m in BENCH_HOSTS)) throw new Error(`--modes: unknown mode ${m}`);
if (CONCURRENCY.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--concurrency: expected whole numbers >= 1');

installCleanup('roundtrip', 20 * 60 * 1000);

const work = mkdtempSync(join(tmpdir(), 'wsgate-roundtrip-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const PHP_EXE = phpExe(PHP);

export interface Row extends Partial<Window> {
  server: string;
  runtime: string;
  mode: HookMode | 'bare';
  cap?: number;
  sockets: number;
  openMs?: number;
  error?: string;
}

interface Floor {
  runtime: string;
  variant: string;
  /** Run on one CPU (taskset -c 0), PHP included. */
  pinned: boolean;
  jobs: number;
  ms: number;
  perSecond: number;
  p50: number;
  p99: number;
  selfCpuUsPerJob: number;
  phpCpuUsPerJob: number;
  error?: string;
}

// ---------------------------------------------------------------- floors

/** One pipe-floor.ts run; `pinned` runs it (and so its PHP child) on CPU 0 only, with taskset. */
async function floor(runtime: 'node' | 'bun' | 'deno', variant: 'raw' | 'pool', pinned: boolean): Promise<Floor> {
  const command = scriptCommand(runtime, `floor-${runtime}-${variant}`, 'pipe-floor.ts', [
    '--variant', variant, '--duration', String(FLOOR_MS / 1000), '--warmup', String(WARMUP_MS / 1000), '--size', String(SIZE), '--php', PHP,
  ]);
  const argv = pinned ? ['taskset', '-c', '0', ...command.argv] : command.argv;
  const child = track(spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  try {
    const code = await withTimeout(new Promise<number | null>((resolve) => child.once('exit', resolve)), FLOOR_MS + WARMUP_MS + 60_000, command.name);
    if (code !== 0) throw new Error(`exited with ${code}`);
    const result = { ...(JSON.parse(out.trim().split('\n').pop()!) as Floor), pinned };
    console.error(`  pipe floor ${runtime} ${variant}${pinned ? ' (one CPU)' : ''}: p50 ${fmt(result.p50, 3)} ms, ${fmt(result.perSecond, 0)} jobs/s`);
    return result;
  } catch (error) {
    child.kill('SIGKILL');
    return { runtime, variant, pinned, error: (error as Error).message } as Floor;
  }
}

// ---------------------------------------------------------------- cells

async function cell(server: Server, base: Omit<Row, 'sockets'>, host: string | undefined, sockets: number, wsgate: boolean): Promise<Row> {
  const label = `${base.server} ${base.mode}${base.cap ? ` cap ${base.cap}` : ''} ×${sockets}`;
  return { ...base, sockets, ...(await loopCell(server, { label, host, sockets, size: SIZE, php: wsgate ? PHP_EXE : undefined, wsgate, warmupMs: WARMUP_MS, durationMs: DURATION_MS })) };
}

// ---------------------------------------------------------------- run

const started = Date.now();
const floors: Floor[] = [];
const rows: Row[] = [];
const binary = RUNTIMES.includes('binary') ? compiledBinary(flags.get('binary')) : undefined;

if (!flags.has('no-floor')) {
  console.error(`- pipe floors: ${FLOOR_RUNS} unpinned run(s)${PINNED_FLOOR ? ' and one on a single CPU' : ''}, per runtime and variant (${FLOOR_VARIANTS.join(', ')})`);
  const floorRuntimes = [...new Set(RUNTIMES.map((r) => (r === 'binary' ? 'bun' : r)))] as Array<'node' | 'bun' | 'deno'>;
  for (const runtime of floorRuntimes) {
    for (const variant of FLOOR_VARIANTS) {
      for (let n = 0; n < FLOOR_RUNS; n++) floors.push(await floor(runtime, variant, false));
      if (PINNED_FLOOR) floors.push(await floor(runtime, variant, true));
    }
  }
}

const servers = { runtimes: RUNTIMES, modes: MODES, caps: CAPS, bare: !flags.has('no-bare'), work, php: PHP, maxJobs: MAX_JOBS, binary: binary?.path };
await eachTarget(servers, async (t) => {
  for (const sockets of CONCURRENCY) {
    rows.push(await cell(t.server, { server: t.name, runtime: t.runtime, mode: t.mode, cap: t.cap }, t.host, sockets, t.wsgate));
  }
});

// ---------------------------------------------------------------- report

const v = versions();
const seconds = Math.round((Date.now() - started) / 1000);
const find = (server: string, mode: Row['mode'], sockets: number, cap?: number) =>
  rows.find((r) => r.server === server && r.mode === mode && r.sockets === sockets && (cap === undefined || r.cap === cap) && !r.error);

function mainTable(): string {
  const lines = [
    '| server | hooks | pool cap | sockets | p50 ms | p99 ms | msg/s | server CPU µs/msg | PHP CPU µs/msg | client CPU µs/msg | replies |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const hooks = r.mode === 'bare' ? 'bare echo' : r.mode === 'module' ? 'module (in-process)' : r.mode;
    if (r.error && !r.count) {
      lines.push(`| ${r.server} | ${hooks} | ${r.cap ?? ''} | ${r.sockets} | failed: ${r.error.replace(/\|/g, '/').slice(0, 100)} | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.server} | ${hooks} | ${r.cap ?? ''} | ${r.sockets} | ${fmt(r.p50, r.p50! < 10 ? 3 : 1)} | ${fmt(r.p99, r.p99! < 10 ? 3 : 1)} | ${fmt(r.perSecond, 0)} | ` +
        `${fmt(r.serverCpuUs, 0)} | ${r.mode === 'bare' || r.mode === 'module' ? '' : fmt(r.phpCpuUs, 0)} | ${fmt(r.clientCpuUs, 0)} | ${r.count}${r.error ? ` (${r.error})` : ''} |`,
    );
  }
  return lines.join('\n');
}

function speedupTable(): string {
  const caps = CAPS.filter(() => MODES.includes('resident'));
  const lines = [
    `| server | sockets | one-shot msg/s | ${caps.map((c) => `resident cap ${c} msg/s`).join(' | ')} | ${caps.map((c) => `throughput ×, cap ${c}`).join(' | ')} | ${caps.map((c) => `p50 ×, cap ${c}`).join(' | ')} |`,
    `|---|---:|---:|${caps.map(() => '---:').join('|')}|${caps.map(() => '---:').join('|')}|${caps.map(() => '---:').join('|')}|`,
  ];
  for (const runtime of RUNTIMES) {
    const server = `wsgate-${runtime}`;
    for (const sockets of CONCURRENCY) {
      const one = find(server, 'oneshot', sockets);
      const res = caps.map((c) => find(server, 'resident', sockets, c));
      if (!one && res.every((r) => !r)) continue;
      const x = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(0)}×` : '');
      lines.push(
        `| ${server} | ${sockets} | ${fmt(one?.perSecond, 0)} | ${res.map((r) => fmt(r?.perSecond, 0)).join(' | ')} | ` +
          `${res.map((r) => x(r?.perSecond, one?.perSecond)).join(' | ')} | ${res.map((r) => x(one?.p50, r?.p50)).join(' | ')} |`,
      );
    }
  }
  return lines.join('\n');
}

const range = (values: number[], digits: number) =>
  values.length > 1 ? `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})` : fmt(values[0], digits);

function floorGroup(runtime: string, variant: string, pinned: boolean): Floor[] {
  return floors.filter((f) => f.runtime === runtime && f.variant === variant && f.pinned === pinned && !f.error);
}

function floorTable(): string {
  const lines = [
    '| floor | runtime | CPUs | runs | p50 ms | p99 ms | jobs/s | driver CPU µs/job | PHP CPU µs/job |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const keys = [...new Set(floors.map((f) => `${f.runtime}|${f.variant}|${f.pinned}`))];
  for (const key of keys) {
    const [runtime, variant, pinned] = key.split('|') as [string, string, string];
    const group = floorGroup(runtime, variant, pinned === 'true');
    const failed = floors.find((f) => `${f.runtime}|${f.variant}|${f.pinned}` === key && f.error);
    if (group.length === 0) {
      lines.push(`| pipe ${variant} | ${runtime} | | | failed: ${failed?.error ?? '?'} | | | | |`);
      continue;
    }
    lines.push(
      `| pipe ${variant} | ${runtime} | ${pinned === 'true' ? 'one (taskset -c 0)' : 'any'} | ${group.length} | ${range(group.map((f) => f.p50), 3)} | ${range(group.map((f) => f.p99), 3)} | ` +
        `${range(group.map((f) => f.perSecond), 0)} | ${fmt(median(group.map((f) => f.selfCpuUsPerJob)), 0)} | ${fmt(median(group.map((f) => f.phpCpuUsPerJob)), 0)} |`,
    );
  }
  return lines.join('\n');
}

const bareFor = (runtime: WsgateRuntime) => (runtime === 'node' ? 'echo-node' : runtime === 'deno' ? 'echo-deno' : 'echo-bun');
const floorFor = (runtime: WsgateRuntime) => (runtime === 'binary' ? 'bun' : runtime);

/** At one socket nothing queues: the p50 of each layer, from the bottom up. Unpinned floors: median of the runs. */
function latencyLayers(): string {
  const lines = [
    '| runtime | pipe raw | pipe raw, one CPU | pipe + wsgate Pool | bare echo server | wsgate module | wsgate resident (cap 1) | wsgate one-shot |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const runtime of RUNTIMES) {
    const f = floorFor(runtime);
    const p50 = (group: Floor[]) => (group.length ? fmt(median(group.map((x) => x.p50)), 3) : '');
    const cell = (mode: Row['mode'], server: string, digits = 3) => fmt(find(server, mode, 1, mode === 'resident' ? CAPS[0] : undefined)?.p50, digits);
    lines.push(
      `| ${runtime}${f !== runtime ? ` (floors: ${f})` : ''} | ${p50(floorGroup(f, 'raw', false))} | ${p50(floorGroup(f, 'raw', true))} | ${p50(floorGroup(f, 'pool', false))} | ` +
        `${cell('bare', bareFor(runtime))} (${bareFor(runtime)}) | ${cell('module', `wsgate-${runtime}`)} | ${cell('resident', `wsgate-${runtime}`)} | ${cell('oneshot', `wsgate-${runtime}`, 1)} |`,
    );
  }
  return lines.join('\n');
}

/** CPU per message where the loops keep every process busy (10 sockets): steadier than 1-socket latency. */
function cpuLayers(sockets: number): string {
  const lines = [
    '| runtime | bare echo server | wsgate module | wsgate resident (cap 1) | resident − module | pipe floor driver, raw / Pool (1 in flight) | PHP worker per job | wsgate one-shot server | one-shot PHP per message |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const runtime of RUNTIMES) {
    const server = `wsgate-${runtime}`;
    const bare = find(bareFor(runtime), 'bare', sockets);
    const module = find(server, 'module', sockets);
    const resident = find(server, 'resident', sockets, CAPS[0]);
    const oneshot = find(server, 'oneshot', sockets);
    const f = floorFor(runtime);
    const driver = (variant: string) => {
      const group = floorGroup(f, variant, false);
      return group.length ? fmt(median(group.map((x) => x.selfCpuUsPerJob)), 0) : 'n/a';
    };
    const diff = resident?.serverCpuUs !== undefined && module?.serverCpuUs !== undefined ? fmt(resident.serverCpuUs - module.serverCpuUs, 0) : '';
    lines.push(
      `| ${runtime} | ${fmt(bare?.serverCpuUs, 0)} (${bareFor(runtime)}) | ${fmt(module?.serverCpuUs, 0)} | ${fmt(resident?.serverCpuUs, 0)} | ${diff} | ${driver('raw')} / ${driver('pool')} | ` +
        `${fmt(resident?.phpCpuUs, 0)} | ${fmt(oneshot?.serverCpuUs, 0)} | ${fmt(oneshot?.phpCpuUs, 0)} |`,
    );
  }
  return lines.join('\n');
}

console.log(`## Receive round trip: ${SIZE}-byte messages, closed loop, ${DURATION_MS / 1000} s per cell after ${WARMUP_MS / 1000} s warm-up\n`);
console.log(
  `Machine: ${machine()}; node ${v.node}, bun ${v.bun}, ${v.deno}, PHP ${v.php}; app: ${ECHO_APP.slice(ROOT.length + 1)}; ` +
    `binary: ${binary?.note ?? 'not used'}; took ${seconds} s.\n`,
);
console.log(mainTable());
if (MODES.includes('oneshot') && MODES.includes('resident')) {
  console.log('\n### Resident against one-shot (same server, same sockets)\n');
  console.log(speedupTable());
}
if (floors.length) {
  console.log('\n### Pipe floor: the PHP worker fed directly, no gateway, no sockets\n');
  console.log(floorTable());
}
console.log('\n### Latency by layer at 1 socket (p50, ms)\n');
console.log(latencyLayers());
const cpuAt = CONCURRENCY.includes(10) ? 10 : CONCURRENCY[CONCURRENCY.length - 1]!;
console.log(`\n### CPU by layer at ${cpuAt} sockets (µs per message)\n`);
console.log(cpuLayers(cpuAt));
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ durationMs: DURATION_MS, warmupMs: WARMUP_MS, size: SIZE, versions: v, binary: binary?.note, floors, rows }, null, 2));
process.exit(rows.some((r) => r.error) || floors.some((f) => f.error) ? 1 : 0);
