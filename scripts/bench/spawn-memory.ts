/**
 * What spawning costs in memory, and whether it lasts: RSS of a runtime
 * process that spawns `/bin/true` over and over, as a one-shot hook spawns
 * (stdin ignored, stdout and stderr piped and read to the end with
 * `for await`, exit awaited), `--concurrency` at a time, read after a full
 * collection at each checkpoint. The same with stdout and stderr ignored is
 * the floor: what the pipes add is the difference.
 *
 *   node --import tsx scripts/bench/spawn-memory.ts [--spawns 20000] [--concurrency 64] [--only bun,node,deno]
 *                                                   [--node-api]
 *
 * --node-api: Bun and Deno spawn with node:child_process instead of their own API.
 *
 * A cost that stops growing after the first thousands of spawns is the
 * runtime's capacity for spawning (buffers and pools it keeps), paid once;
 * one that keeps growing would be a cost per spawn. The fan-out bench's
 * memory window opens after 10,000 upgrades of warm-up, that is 20,000
 * one-shot spawns (auth and connect), so a cost paid once is behind it,
 * and what is left of it there is its spread.
 *
 * The driver runs itself with --child under each runtime, one child per mode.
 */
import { execFileSync, spawn as nodeSpawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFlags, realBinary } from './harness.ts';

type Mode = 'pipe' | 'ignore';

const g = globalThis as unknown as {
  Bun?: {
    version: string;
    gc(force: boolean): void;
    spawn(argv: string[], options: Record<string, unknown>): { stdout: ReadableStream<Uint8Array> | undefined; stderr: ReadableStream<Uint8Array> | undefined; exited: Promise<number> };
  };
  Deno?: {
    args: string[];
    Command: new (command: string, options: Record<string, unknown>) => { spawn(): { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array>; status: Promise<{ code: number }> } };
  };
  gc?: () => void;
};

function rssKb(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0);
}

function collect(): void {
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

async function drain(stream: AsyncIterable<Uint8Array> | undefined): Promise<void> {
  if (!stream) return;
  for await (const _chunk of stream) {
    // Read to the end, as a one-shot runner reads a hook's output.
  }
}

async function spawnOnce(mode: Mode): Promise<void> {
  if (g.Bun && !NODE_API) {
    const child = g.Bun.spawn(['/bin/true'], { stdin: 'ignore', stdout: mode, stderr: mode });
    await Promise.all([drain(child.stdout), drain(child.stderr), child.exited]);
  } else if (g.Deno && !NODE_API) {
    const stdio = mode === 'pipe' ? 'piped' : 'null';
    const child = new g.Deno.Command('/bin/true', { stdin: 'null', stdout: stdio, stderr: stdio }).spawn();
    await Promise.all([mode === 'pipe' ? drain(child.stdout) : undefined, mode === 'pipe' ? drain(child.stderr) : undefined, child.status]);
  } else {
    const child = nodeSpawn('/bin/true', [], { stdio: ['ignore', mode, mode] });
    const exited = new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', () => resolve());
    });
    await Promise.all([drain(child.stdout ?? undefined), drain(child.stderr ?? undefined), exited]);
  }
}

/** Child side: spawns in blocks of `concurrency`, and prints the RSS growth (KB) at each checkpoint as one JSON line. */
async function child(mode: Mode, spawns: number, concurrency: number, checkpoints: number[]): Promise<void> {
  for (let i = 0; i < 20; i++) await spawnOnce(mode);
  collect();
  const start = rssKb();
  const grown: Record<number, number> = {};
  let done = 0;
  for (const checkpoint of checkpoints) {
    while (done < checkpoint) {
      const block = Math.min(concurrency, checkpoint - done);
      await Promise.all(Array.from({ length: block }, () => spawnOnce(mode)));
      done += block;
    }
    collect();
    grown[checkpoint] = rssKb() - start;
  }
  console.log(JSON.stringify({ mode, grown }));
}

const flags = parseFlags(g.Deno ? g.Deno.args : process.argv.slice(2));
const SPAWNS = flags.int('spawns', 20000, 100);
const CONCURRENCY = flags.int('concurrency', 64, 1);
const NODE_API = flags.has('node-api');
const CHECKPOINTS = [1000, 2000, 5000, 10000, 15000, 20000, 40000].filter((n) => n < SPAWNS).concat(SPAWNS);

if (flags.has('child')) {
  await child(flags.get('mode') as Mode, SPAWNS, CONCURRENCY, CHECKPOINTS);
} else {
  const self = fileURLToPath(import.meta.url);
  const only = flags.list('only') ?? ['bun', 'node', 'deno'];
  const childArgs = (mode: Mode) => ['--child', '--mode', mode, '--spawns', String(SPAWNS), '--concurrency', String(CONCURRENCY), ...(NODE_API ? ['--node-api'] : [])];
  const commands: Record<string, (mode: Mode) => string[]> = {
    bun: (mode) => [realBinary('bun'), self, ...childArgs(mode)],
    node: (mode) => [process.execPath, '--expose-gc', '--import', 'tsx', self, ...childArgs(mode)],
    deno: (mode) => [realBinary('deno'), 'run', '--allow-all', '--quiet', '--v8-flags=--expose-gc', self, ...childArgs(mode)],
  };
  console.log(`spawn-memory: /bin/true${NODE_API ? ' with node:child_process' : ''}, ${SPAWNS} spawns, ${CONCURRENCY} at a time; RSS growth in MB after a full collection, from after 20 warm-up spawns\n`);
  console.log(`| runtime | stdout, stderr | ${CHECKPOINTS.map((n) => `${n} spawns`).join(' | ')} |`);
  console.log(`|---|---|${CHECKPOINTS.map(() => '---:').join('|')}|`);
  for (const runtime of only) {
    for (const mode of ['pipe', 'ignore'] as const) {
      const [file, ...rest] = commands[runtime]!(mode);
      const out = execFileSync(file!, rest, { encoding: 'utf8', maxBuffer: 1 << 20 });
      const { grown } = JSON.parse(out.trim().split('\n').pop()!) as { grown: Record<number, number> };
      console.log(`| ${runtime} | ${mode === 'pipe' ? 'piped, read' : 'ignored'} | ${CHECKPOINTS.map((n) => (grown[n]! / 1024).toFixed(1)).join(' | ')} |`);
    }
  }
}
