/**
 * Upgrades per second with a PHP auth hook: N concurrent connectors, each in
 * a closed loop (connect with Cookie: token=..., wait for open, close, wait
 * for the close, again). For wsgate on each runtime with one-shot PHP (auth,
 * connect and close: a process each), resident PHP (the same three hooks as
 * jobs on the pool; cap 1, the default on 2 cores) and an in-process module
 * (wsgate without PHP), next to bare WebSocket servers (echo-node.mjs,
 * echo-bun.ts: no auth at all) driven by the same client.
 *
 *   node --import tsx scripts/bench/upgrades.ts [flags]
 *
 *   --duration S       measured seconds per cell (default 3), after --warmup S (default 0.5)
 *   --runtimes a,b     wsgate runtimes: node,bun,deno,binary (default all four)
 *   --concurrency a,b  connectors per cell (default 1,10)
 *   --modes a,b        oneshot,resident,module (default all three)
 *   --caps a,b         resident pool caps (default 1; one-shot and module run on the first cap's server)
 *   --php BIN          PHP binary (default php)
 *   --max-jobs N       the pool's maxJobs (jobs before a worker is replaced; default: wsgate's, 10000)
 *   --binary PATH      the compiled wsgate (default dist/wsgate, built by build.ts when missing)
 *   --no-bare          skip the bare servers
 *   --json FILE        also write every row as JSON
 *
 * Upgrade latency = new WebSocket() -> 'open' in the client (TCP connect, the
 * HTTP upgrade, the auth hook). upgrades/s = opens inside the window / its
 * length. CPU per upgrade covers the whole cycle: auth, connect and close
 * hooks, for the server, the client and PHP. Each cell ends by waiting until
 * the server has no hook work left.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, compiledBinary, fmt, helpFromDoc, installCleanup, machine, parseFlags, versions } from './harness.ts';
import type { Server, WsgateRuntime } from './harness.ts';
import { BENCH_HOSTS, eachTarget, measureWindow, phpExe, startLoopClient, waitDrain } from './loops.ts';
import type { HookMode, Window } from './loops.ts';

helpFromDoc(import.meta.url);
const flags = parseFlags();
const DURATION_MS = flags.num('duration', 3, 0.2) * 1000;
const WARMUP_MS = flags.num('warmup', 0.5, 0) * 1000;
const RUNTIMES = (flags.list('runtimes') ?? ['node', 'bun', 'deno', 'binary']) as WsgateRuntime[];
const CONCURRENCY = (flags.list('concurrency') ?? ['1', '10']).map(Number);
const MODES = (flags.list('modes') ?? ['oneshot', 'resident', 'module']) as HookMode[];
const CAPS = (flags.list('caps') ?? ['1']).map(Number);
const PHP = flags.get('php') ?? 'php';
const MAX_JOBS = flags.get('max-jobs') === undefined ? undefined : flags.int('max-jobs', 10_000);
const JSON_OUT = flags.get('json');
for (const r of RUNTIMES) if (!['node', 'bun', 'deno', 'binary'].includes(r)) throw new Error(`--runtimes: unknown runtime ${r}`);
for (const m of MODES) if (!(m in BENCH_HOSTS)) throw new Error(`--modes: unknown mode ${m}`);

installCleanup('upgrades', 15 * 60 * 1000);
const work = mkdtempSync(join(tmpdir(), 'wsgate-upgrades-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const PHP_EXE = phpExe(PHP);

interface Row extends Partial<Window> {
  server: string;
  runtime: string;
  mode: HookMode | 'bare';
  cap?: number;
  connectors: number;
  error?: string;
}

async function cell(server: Server, base: Omit<Row, 'connectors'>, host: string | undefined, connectors: number, wsgate: boolean): Promise<Row> {
  const label = `${base.server} ${base.mode}${base.cap ? ` cap ${base.cap}` : ''} ×${connectors}`;
  const client = startLoopClient();
  try {
    client.send({ cmd: 'upgrades', url: `ws://${HOST}:${server.port}/websocket`, host, lanes: connectors });
    await client.next('started', 10_000);
    const window = await measureWindow(client, server, wsgate ? PHP_EXE : undefined, WARMUP_MS, DURATION_MS);
    client.send({ cmd: 'close' });
    await client.next('closed', 60_000);
    await waitDrain(server, wsgate);
    const row: Row = { ...base, connectors, ...window };
    if (window.count === 0) row.error = `no upgrades in ${DURATION_MS} ms (${window.errors.join('; ')})`;
    else if (window.refused) row.error = `${window.refused} upgrades refused (${window.errors.join('; ')})`;
    console.error(
      `  ${label}: ${fmt(window.perSecond, 0)} upgrades/s, p50 ${fmt(window.p50)} ms, p99 ${fmt(window.p99)} ms; ` +
        `CPU µs/upgrade server ${fmt(window.serverCpuUs, 0)}, php ${fmt(window.phpCpuUs, 0)}, client ${fmt(window.clientCpuUs, 0)}`,
    );
    return row;
  } catch (error) {
    console.error(`  ${label} failed: ${(error as Error).message}\n    ${server.logTail.slice(-5).join('\n    ')}`);
    return { ...base, connectors, error: (error as Error).message };
  } finally {
    client.kill();
  }
}

const started = Date.now();
const rows: Row[] = [];
const binary = RUNTIMES.includes('binary') ? compiledBinary(flags.get('binary')) : undefined;

const servers = { runtimes: RUNTIMES, modes: MODES, caps: CAPS, bare: !flags.has('no-bare'), work, php: PHP, maxJobs: MAX_JOBS, binary: binary?.path };
await eachTarget(servers, async (t) => {
  for (const n of CONCURRENCY) rows.push(await cell(t.server, { server: t.name, runtime: t.runtime, mode: t.mode, cap: t.cap }, t.host, n, t.wsgate));
});

const v = versions();
const find = (server: string, mode: Row['mode'], n: number) => rows.find((r) => r.server === server && r.mode === mode && r.connectors === n && !r.error);
console.log(`## Upgrades: connect, wait for open, close, again; ${DURATION_MS / 1000} s per cell after ${WARMUP_MS / 1000} s warm-up\n`);
console.log(`Machine: ${machine()}; node ${v.node}, bun ${v.bun}, ${v.deno}, PHP ${v.php}; binary: ${binary?.note ?? 'not used'}; took ${Math.round((Date.now() - started) / 1000)} s.\n`);
const lines = [
  '| server | hooks | pool cap | connectors | upgrades/s | p50 ms | p99 ms | server CPU µs/upgrade | PHP CPU µs/upgrade | client CPU µs/upgrade | upgrades |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const r of rows) {
  const hooks = r.mode === 'bare' ? 'bare (no auth)' : r.mode === 'module' ? 'module (in-process)' : r.mode;
  if (r.error && !r.count) {
    lines.push(`| ${r.server} | ${hooks} | ${r.cap ?? ''} | ${r.connectors} | failed: ${r.error.replace(/\|/g, '/').slice(0, 100)} | | | | | | |`);
    continue;
  }
  lines.push(
    `| ${r.server} | ${hooks} | ${r.cap ?? ''} | ${r.connectors} | ${fmt(r.perSecond, 0)} | ${fmt(r.p50, r.p50! < 10 ? 2 : 1)} | ${fmt(r.p99, r.p99! < 10 ? 2 : 1)} | ` +
      `${fmt(r.serverCpuUs, 0)} | ${r.mode === 'bare' || r.mode === 'module' ? '' : fmt(r.phpCpuUs, 0)} | ${fmt(r.clientCpuUs, 0)} | ${r.count}${r.error ? ` (${r.error})` : ''} |`,
  );
}
console.log(lines.join('\n'));
if (MODES.includes('oneshot') && MODES.includes('resident')) {
  console.log(`\n### Resident (cap ${CAPS[0]}) against one-shot\n`);
  console.log('| server | connectors | one-shot upgrades/s | resident upgrades/s | throughput × | one-shot p50 ms | resident p50 ms | p50 × |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const runtime of RUNTIMES) {
    for (const n of CONCURRENCY) {
      const one = find(`wsgate-${runtime}`, 'oneshot', n);
      const res = find(`wsgate-${runtime}`, 'resident', n);
      if (!one || !res) continue;
      console.log(
        `| wsgate-${runtime} | ${n} | ${fmt(one.perSecond, 0)} | ${fmt(res.perSecond, 0)} | ${(res.perSecond! / one.perSecond!).toFixed(0)}× | ` +
          `${fmt(one.p50, 1)} | ${fmt(res.p50, 2)} | ${(one.p50! / res.p50!).toFixed(0)}× |`,
      );
    }
  }
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ durationMs: DURATION_MS, warmupMs: WARMUP_MS, versions: v, binary: binary?.note, rows }, null, 2));
process.exit(rows.some((r) => r.error) ? 1 : 0);
