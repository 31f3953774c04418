/**
 * The resident floor: feeds `php echo.php phlo_serve` over its pipes directly,
 * no gateway and no sockets, one job in flight, and prints one JSON line with
 * the latencies' p50/p99, jobs/s and CPU per job (this process and the PHP
 * worker). Run by scripts/bench/roundtrip.ts under Node (+ tsx), Bun and Deno;
 * the child is spawned with wsgate's own runtime adapter (src/runtime/*.ts),
 * so the pipe API is the one wsgate uses on that runtime.
 *
 *   node --import tsx scripts/bench/pipe-floor.ts --variant raw|pool [--duration 3] [--warmup 0.5] [--size 64] [--php php]
 *   bun scripts/bench/pipe-floor.ts ...      deno run --allow-all scripts/bench/pipe-floor.ts ...
 *
 * Variants:
 *   raw   the job frame written to stdin as wsgate writes it; stdout scanned
 *         for the done frame with indexOf, nothing parsed: pipes + PHP's loop
 *         (fgets, json_decode, json_encode, fwrite) and little else.
 *   pool  wsgate's own Pool (cap 1) and Worker from src/hooks/pool/: its job frame,
 *         LineSplitter, JSON.parse + valibot frame check, timers, the queue.
 *         Everything below the gateway, without the gateway.
 */
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpu, ticksToMicros } from './proc.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const APP = join(HERE, 'php', 'echo.php');

// Loosely typed on purpose: src/ is edited by others, and this script should not pin its types.
interface Child {
  pid: number | undefined;
  stdin?: { write(text: string): void; end(): void };
  stdout: AsyncIterable<Uint8Array>;
  exited: Promise<number | null>;
  kill(): void;
}
type Spawn = (argv: string[], options?: { stdin?: boolean }) => Child;
interface PoolLike {
  run(job: { target: string; args: unknown[]; stream: boolean }, onLine?: (line: string) => void, timeoutMs?: number): Promise<{ ok: boolean; error?: string }>;
  stats(): { workers: number };
  stop(): Promise<void>;
}

const g = globalThis as unknown as { Bun?: unknown; Deno?: { args: string[]; exit(code: number): never } };
const runtimeName = g.Bun ? 'bun' : g.Deno ? 'deno' : 'node';
const args = g.Deno ? g.Deno.args : process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
};
const VARIANT = flag('variant', 'raw');
const DURATION_MS = Number(flag('duration', '3')) * 1000;
const WARMUP_MS = Number(flag('warmup', '0.5')) * 1000;
const SIZE = Number(flag('size', '64'));
const PHP = flag('php', 'php');
const argv = [PHP, realpathSync(APP), 'phlo_serve'];

const now = () => performance.now();
const message = (n: number) => {
  const head = `{"s":0,"n":${n},"p":"`;
  return `${head}${'x'.repeat(Math.max(0, SIZE - head.length - 2))}"}`;
};
const job = (n: number) => ({ target: 'websocket::receive', args: ['bench.local', 'bench-0', '0123456789abcdef', message(n)], stream: true });

const adapter = `../../src/runtime/${runtimeName}.ts`;
const factories = (await import(adapter)) as Record<string, () => { spawn: Spawn }>;
const runtime = factories[`create${runtimeName[0]!.toUpperCase()}${runtimeName.slice(1)}Runtime`]!();
const spawn = runtime.spawn;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Runs `one()` back to back: warm-up, then the measured window; returns latencies and CPU. */
async function loop(one: (n: number) => Promise<void>, phpPid: () => number | undefined) {
  let n = 0;
  const warmEnd = now() + WARMUP_MS;
  while (now() < warmEnd) await one(n++);
  const pid = phpPid();
  const self0 = cpu(process.pid);
  const php0 = pid ? cpu(pid) : undefined;
  const latencies: number[] = [];
  const start = now();
  const end = start + DURATION_MS;
  for (;;) {
    const t0 = now();
    await one(n++);
    const t1 = now();
    latencies.push(t1 - t0);
    if (t1 >= end) break;
  }
  const ms = now() - start;
  const self1 = cpu(process.pid);
  const php1 = pid ? cpu(pid) : undefined;
  latencies.sort((a, b) => a - b);
  const jobs = latencies.length;
  return {
    runtime: runtimeName,
    variant: VARIANT,
    jobs,
    ms,
    perSecond: (jobs * 1000) / ms,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    selfCpuUsPerJob: ticksToMicros(self1.ticks - self0.ticks) / jobs,
    selfSchedUsPerJob: (self1.schedNs - self0.schedNs) / 1000 / jobs,
    phpCpuUsPerJob: php0 && php1 ? ticksToMicros(php1.ticks - php0.ticks) / jobs : Number.NaN,
    phpSchedUsPerJob: php0 && php1 ? (php1.schedNs - php0.schedNs) / 1000 / jobs : Number.NaN,
  };
}

async function raw() {
  const child = spawn(argv, { stdin: true });
  const decoder = new TextDecoder();
  let text = '';
  let waiting: (() => void) | undefined;
  let ready = () => {};
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  void (async () => {
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      if (text.indexOf('"t":"ready"') >= 0) {
        text = '';
        ready();
      }
      // A job is over when its done frame has arrived whole.
      const done = text.indexOf('"t":"done"');
      if (done >= 0 && text.indexOf('\n', done) >= 0) {
        text = '';
        const resolve = waiting;
        waiting = undefined;
        resolve?.();
      }
    }
  })();
  await isReady;
  let id = 0;
  const one = (n: number) =>
    new Promise<void>((resolve) => {
      waiting = resolve;
      const j = job(n);
      child.stdin!.write(`${JSON.stringify({ id: `1.${++id}`, target: j.target, args: j.args, stream: j.stream })}\n`);
    });
  const result = await loop(one, () => child.pid);
  child.stdin!.end();
  child.kill();
  return result;
}

async function pool() {
  const { Pool, Capacity } = (await import('../../src/hooks/pool/pool.ts')) as unknown as {
    Pool: new (app: string, argv: string[], settings: object, capacity: object, spawn: Spawn, log: object) => PoolLike;
    Capacity: new (cap: number) => object;
  };
  const { createLogger } = (await import('../../src/ops/log.ts')) as unknown as { createLogger(write: (line: string) => void, level: string): object };
  const log = createLogger((line) => console.error(line), 'warn');
  const pids: number[] = [];
  const tracking: Spawn = (a, o) => {
    const child = spawn(a, o);
    if (child.pid) pids.push(child.pid);
    return child;
  };
  const settings = { idleMs: 60_000, maxJobs: 1_000_000, maxQueue: 1000, timeoutMs: 30_000, bootTimeoutMs: 30_000 };
  const p = new Pool(argv[1]!, argv, settings, new Capacity(1), tracking, log);
  let failed = '';
  const one = async (n: number) => {
    const j = job(n);
    let lines = 0;
    const outcome = await p.run(j, () => lines++, 30_000);
    if (!outcome.ok || lines !== 1) failed ||= outcome.error ?? `expected 1 line, got ${lines}`;
  };
  await one(0); // boots the worker
  const result = await loop(one, () => pids[pids.length - 1]);
  await p.stop();
  if (failed) throw new Error(`pool job failed: ${failed}`);
  return result;
}

const result = VARIANT === 'pool' ? await pool() : await raw();
console.log(JSON.stringify(result));
// Bun and Deno keep running while a child's pipes are referenced.
if (g.Deno) g.Deno.exit(0);
else process.exit(0);
void ROOT;
