/**
 * Process-spawn benchmark: each runtime's own spawn API against
 * node:child_process under the same runtime, spawning what a one-shot hook
 * spawns (a PHP process) and reading its output the way wsgate's runners do
 * (stdin ignored, stdout and stderr piped and read to the end with `for await`,
 * exit awaited).
 *
 *   node --import tsx scripts/bench/spawn.ts [--count 200] [--concurrency 8] [--only node,bun,deno]
 *                                            [--programs php,echo] [--echo-count 1000] [--php BINARY] [--json FILE]
 *
 * Programs: `php -r 'echo "x\n";'` (what a one-shot hook costs, PHP start-up
 * included) and `/bin/echo x` (a tiny program, so the API's own overhead shows).
 *
 * The driver runs itself with --child under Node (node:child_process), Bun
 * (Bun.spawn vs node:child_process) and Deno (Deno.Command vs
 * node:child_process), and prints one table. Per API and mode, `count` spawns
 * run in four blocks in A B B A order (so drift and warm-up hit both APIs
 * alike), after 10 unmeasured warm-up spawns per API.
 *
 *   wall ms / spawn     elapsed time of the block / spawns (for concurrency 8: the inverse of throughput)
 *   latency ms          mean time from spawn() to exit + both pipes drained, per spawn
 *   parent CPU ms       the runtime process's own utime+stime per spawn (children not included)
 */
import { execFileSync, spawn as nodeSpawn } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const EXPECTED = 'x\n';

type Api = 'node:child_process' | 'Bun.spawn' | 'Deno.Command';
type Mode = 'sequential' | 'concurrent';
type RuntimeName = 'node' | 'bun' | 'deno';

interface Row {
  runtime: RuntimeName;
  version: string;
  api: Api;
  mode: Mode;
  concurrency: number;
  spawns: number;
  wallMsPerSpawn: number;
  latencyMs: number;
  parentCpuMsPerSpawn: number;
}

// The globals of whichever runtime runs this, typed loosely on purpose.
const g = globalThis as unknown as {
  Bun?: {
    version: string;
    spawn(argv: string[], options: Record<string, unknown>): { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array>; exited: Promise<number> };
  };
  Deno?: {
    version: { deno: string };
    args: string[];
    Command: new (
      command: string,
      options: Record<string, unknown>,
    ) => { spawn(): { stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array>; status: Promise<{ code: number }> } };
  };
};

const runtimeName: RuntimeName = g.Bun ? 'bun' : g.Deno ? 'deno' : 'node';
const args = g.Deno ? g.Deno.args : process.argv.slice(2);
function flag(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
}
const COUNT = Math.max(4, Number(flag('count', '200')));
const CONCURRENCY = Math.max(1, Number(flag('concurrency', '8')));
const PHP = flag('php', 'php');
/** /bin/echo spawns take ~1 ms, so they get more of them for the same clock-tick resolution. */
const ECHO_COUNT = Math.max(4, Number(flag('echo-count', '1000')));
/** What each spawn runs: PHP (what a one-shot hook costs) or /bin/echo (the API's own overhead, with a tiny program). */
const PROGRAMS: Record<string, string[]> = {
  php: [PHP, '-r', 'echo "x\\n";'],
  echo: ['/bin/echo', 'x'],
};
const PROGRAM = flag('program', 'php');
const [FILE, ...FILE_ARGS] = PROGRAMS[PROGRAM] ?? PROGRAMS.php!;

// ---------------------------------------------------------------- one spawn per API

const decoder = new TextDecoder();

async function drain(stream: AsyncIterable<Uint8Array | string>): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
  return text;
}

async function viaNode(): Promise<string> {
  const child = nodeSpawn(FILE!, FILE_ARGS, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  const [out, , code] = await Promise.all([drain(child.stdout!), drain(child.stderr!), exited]);
  if (code !== 0) throw new Error(`${FILE} exited ${code}`);
  return out;
}

async function viaBun(): Promise<string> {
  const child = g.Bun!.spawn([FILE!, ...FILE_ARGS], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [out, , code] = await Promise.all([
    drain(child.stdout as unknown as AsyncIterable<Uint8Array>),
    drain(child.stderr as unknown as AsyncIterable<Uint8Array>),
    child.exited,
  ]);
  if (code !== 0) throw new Error(`${FILE} exited ${code}`);
  return out;
}

async function viaDeno(): Promise<string> {
  const child = new g.Deno!.Command(FILE!, { args: FILE_ARGS, stdin: 'null', stdout: 'piped', stderr: 'piped' }).spawn();
  const [out, , status] = await Promise.all([
    drain(child.stdout as unknown as AsyncIterable<Uint8Array>),
    drain(child.stderr as unknown as AsyncIterable<Uint8Array>),
    child.status,
  ]);
  if (status.code !== 0) throw new Error(`${FILE} exited ${status.code}`);
  return out;
}

const IMPLEMENTATIONS: Record<Api, () => Promise<string>> = {
  'node:child_process': viaNode,
  'Bun.spawn': viaBun,
  'Deno.Command': viaDeno,
};

// ---------------------------------------------------------------- measuring (child side)

let clkTck = 0;
function ownCpuMs(): number {
  if (!clkTck) clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clkTck; // utime + stime
}

interface Block {
  wallMs: number;
  latencySumMs: number;
  cpuMs: number;
  spawns: number;
}

async function block(api: Api, spawns: number, concurrency: number): Promise<Block> {
  const run = IMPLEMENTATIONS[api];
  let next = 0;
  let latencySumMs = 0;
  const cpu0 = ownCpuMs();
  const t0 = performance.now();
  const lane = async () => {
    while (next < spawns) {
      next++;
      const started = performance.now();
      const out = await run();
      latencySumMs += performance.now() - started;
      if (out !== EXPECTED) throw new Error(`${api}: unexpected output ${JSON.stringify(out)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, spawns) }, lane));
  return { wallMs: performance.now() - t0, latencySumMs, cpuMs: ownCpuMs() - cpu0, spawns };
}

async function child(): Promise<void> {
  const apis: Api[] = runtimeName === 'bun' ? ['Bun.spawn', 'node:child_process'] : runtimeName === 'deno' ? ['Deno.Command', 'node:child_process'] : ['node:child_process'];
  const version = g.Bun ? g.Bun.version : g.Deno ? g.Deno.version.deno : process.version.slice(1);
  for (const api of apis) await block(api, 10, 1); // warm-up
  const rows: Row[] = [];
  for (const [mode, concurrency] of [['sequential', 1], ['concurrent', CONCURRENCY]] as Array<[Mode, number]>) {
    const totals = new Map<Api, Block>(apis.map((api) => [api, { wallMs: 0, latencySumMs: 0, cpuMs: 0, spawns: 0 }]));
    // A B B A, each block COUNT / 2 spawns, so every API gets COUNT spawns per mode.
    const order = apis.length === 2 ? [apis[0]!, apis[1]!, apis[1]!, apis[0]!] : [apis[0]!, apis[0]!];
    const per = Math.ceil(COUNT / 2);
    for (const api of order) {
      const b = await block(api, per, concurrency);
      const t = totals.get(api)!;
      t.wallMs += b.wallMs;
      t.latencySumMs += b.latencySumMs;
      t.cpuMs += b.cpuMs;
      t.spawns += b.spawns;
    }
    for (const api of apis) {
      const t = totals.get(api)!;
      rows.push({
        runtime: runtimeName,
        version,
        api,
        mode,
        concurrency,
        spawns: t.spawns,
        wallMsPerSpawn: t.wallMs / t.spawns,
        latencyMs: t.latencySumMs / t.spawns,
        parentCpuMsPerSpawn: t.cpuMs / t.spawns,
      });
    }
  }
  // One JSON line on stdout for the driver.
  console.log(JSON.stringify(rows));
}

// ---------------------------------------------------------------- driver

function runChild(argv: string[], timeoutMs: number): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const proc = nodeSpawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => (out += chunk));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')}: no result after ${timeoutMs} ms`));
    }, timeoutMs);
    proc.once('error', reject);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('[')) reject(new Error(`${argv[0]} exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line) as Row[]);
    });
  });
}

async function driver(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const bin = (name: string) => realpathSync(join(ROOT, 'node_modules', '.bin', name));
  const only = flag('only', 'node,bun,deno').split(',') as RuntimeName[];
  const programs = flag('programs', 'php,echo').split(',').filter((p) => PROGRAMS[p]);
  const all: Array<Row & { program: string }> = [];
  for (const program of programs) {
    const count = program === 'echo' ? ECHO_COUNT : COUNT;
    const pass = ['--child', '--count', String(count), '--concurrency', String(CONCURRENCY), '--php', PHP, '--program', program];
    const runs: Record<RuntimeName, string[]> = {
      node: [process.execPath, '--import', 'tsx', self, ...pass],
      bun: [bin('bun'), self, ...pass],
      deno: [bin('deno'), 'run', '--allow-all', '--quiet', self, ...pass],
    };
    const rows: Row[] = [];
    for (const name of only) {
      console.error(`spawn: ${program} under ${name} ...`);
      rows.push(...(await runChild(runs[name], 10 * 60 * 1000)));
    }
    all.push(...rows.map((r) => ({ ...r, program })));
    const shown = PROGRAMS[program]!.map((a) => (/^[\w/.-]+$/.test(a) ? a : `'${a}'`)).join(' ');
    console.log(`\n## Spawn \`${shown}\`: ${count} spawns per API and mode (sequential, and concurrency ${CONCURRENCY})\n`);
    console.log('| runtime | API | mode | wall ms / spawn | vs node:child_process | latency ms / spawn | parent CPU ms / spawn | vs node:child_process |');
    console.log('|---|---|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      const same = rows.find((o) => o.runtime === r.runtime && o.mode === r.mode && o.api === 'node:child_process');
      const other = same && r.api !== 'node:child_process';
      const ratio = (a: number, b: number) => (other && b > 0 ? `${(a / b).toFixed(2)}x` : '');
      const mode = r.mode === 'sequential' ? 'sequential' : `concurrency ${r.concurrency}`;
      console.log(
        `| ${r.runtime} ${r.version} | ${r.api} | ${mode} | ${r.wallMsPerSpawn.toFixed(2)} | ${ratio(r.wallMsPerSpawn, same?.wallMsPerSpawn ?? 0)} | ` +
          `${r.latencyMs.toFixed(2)} | ${r.parentCpuMsPerSpawn.toFixed(2)} | ${ratio(r.parentCpuMsPerSpawn, same?.parentCpuMsPerSpawn ?? 0)} |`,
      );
    }
  }
  const json = flag('json', '');
  if (json) writeFileSync(json, JSON.stringify(all, null, 2));
}

if (args.includes('--child')) await child();
else await driver();
