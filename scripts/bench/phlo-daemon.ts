/**
 * Resident round trips side by side with the Phlo daemon (issue 17, "Phlo's
 * workers at full speed"): the same PHP worker, one that does not offer
 * pipelining (scripts/bench/php/echo.php with WSGATE_BENCH_PIPELINE=0, whose
 * loop reads one job line at a time as Phlo's phlo_serve does), behind
 * q-ainl/phlo-daemon's phlo-daemon.js and behind wsgate, with the same worker
 * cap (1: the daemon's own on 2 cores, cores - 1). Closed loop, every socket
 * one message in flight; rounds interleave the two servers.
 *
 *   git clone https://github.com/q-ainl/phlo-daemon /tmp/phlo-daemon
 *   node --import tsx scripts/bench/phlo-daemon.ts --daemon /tmp/phlo-daemon/phlo-daemon.js [flags]
 *
 *   --daemon PATH      phlo-daemon.js (required); it needs `ws`, taken from this repo's node_modules
 *   --binary PATH      the compiled wsgate (default dist/wsgate, built by build.ts when missing)
 *   --concurrency a,b  sockets per cell (default 10,100)
 *   --rounds N         interleaved rounds (default 3): daemon then wsgate, then wsgate then daemon, ...
 *   --duration S       measured seconds per cell (default 3), after --warmup S (default 0.5)
 *   --write-ahead      also wsgate with "pool": {"writeAhead": false}, as a third server (one job at a time)
 *   --php BIN          PHP binary (default php)
 *   --json FILE        also write every row as JSON
 *
 * The daemon serves `<tmp>/bench/app.php` (it only runs files named app.php)
 * for the host resident.bench; wsgate serves the same file as that host with
 * `"build": false`. The daemon's cap is os.cpus().length - 1; wsgate's is set
 * to the same number.
 */
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, ROOT, compiledBinary, fmt, freePort, helpFromDoc, installCleanup, machine, median, parseFlags, startServer, versions, wsgateCommand } from './harness.ts';
import type { Command, Server } from './harness.ts';
import { ECHO_APP, loopCell, phpExe } from './loops.ts';
import type { Window } from './loops.ts';

helpFromDoc(import.meta.url);
const flags = parseFlags();
const DAEMON = flags.get('daemon');
if (!DAEMON) throw new Error('--daemon: the path of phlo-daemon.js is required (git clone https://github.com/q-ainl/phlo-daemon)');
const CONCURRENCY = (flags.list('concurrency') ?? ['10', '100']).map(Number);
const ROUNDS = flags.int('rounds', 3);
const DURATION_MS = flags.num('duration', 3, 0.2) * 1000;
const WARMUP_MS = flags.num('warmup', 0.5, 0) * 1000;
const PHP = flags.get('php') ?? 'php';
const JSON_OUT = flags.get('json');
const CAP = Math.max(1, cpus().length - 1);
const BENCH_HOST = 'resident.bench';
const ENV = { WSGATE_BENCH_PIPELINE: '0' };

installCleanup('phlo-daemon', 20 * 60 * 1000);
const work = mkdtempSync(join(tmpdir(), 'wsgate-phlo-daemon-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const PHP_EXE = phpExe(PHP);
const app = join(work, 'bench', 'app.php');
mkdirSync(join(work, 'bench'));
copyFileSync(ECHO_APP, app);

interface Row extends Partial<Window> {
  server: string;
  round: number;
  sockets: number;
  error?: string;
}

function daemonCommand(port: number): Command {
  const runner = join(work, 'daemon-run.cjs');
  writeFileSync(runner, `require(${JSON.stringify(realpathSync(DAEMON!))})(${port}, ${JSON.stringify(PHP_EXE)}, { ${JSON.stringify(BENCH_HOST)}: { app: ${JSON.stringify(app)}, build: false } });\n`);
  const node = realpathSync(process.execPath);
  return { name: 'phlo-daemon', argv: [node, runner], exe: node };
}

function wsgateConfig(writeAhead: boolean): string {
  const file = join(work, `wsgate-${writeAhead}.json`);
  const config = {
    pool: { cap: CAP, writeAhead },
    // The bench's own sockets send as fast as they are answered.
    limits: { messagesPerSecond: 1_000_000, messageBurst: 1_000_000 },
    hosts: { [BENCH_HOST]: { app, build: false } },
    paths: ['/websocket'],
  };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const binary = compiledBinary(flags.get('binary'));
const servers: Array<{ name: string; command: (port: number) => Command; wsgate: boolean }> = [
  { name: 'phlo-daemon', command: daemonCommand, wsgate: false },
  { name: 'wsgate', command: (port) => wsgateCommand('binary', ['serve', '--port', String(port), '--listen', HOST, '--config', wsgateConfig(true), '--log-level', 'warn'], binary.path), wsgate: true },
  ...(flags.has('write-ahead')
    ? [{ name: 'wsgate, writeAhead off', command: (port: number) => wsgateCommand('binary', ['serve', '--port', String(port), '--listen', HOST, '--config', wsgateConfig(false), '--log-level', 'warn'], binary.path), wsgate: true }]
    : []),
];

const started = Date.now();
const rows: Row[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  // Odd rounds in the listed order, even rounds reversed: neither server always goes first.
  const order = round % 2 === 1 ? servers : [...servers].reverse();
  for (const { name, command, wsgate } of order) {
    const port = await freePort();
    console.error(`- round ${round}, ${name}`);
    let server: Server;
    try {
      server = await startServer(command(port), { port, env: { ...ENV, NODE_PATH: join(ROOT, 'node_modules') } });
    } catch (error) {
      console.error(`  ${name} failed to start: ${(error as Error).message}`);
      continue;
    }
    try {
      for (const sockets of CONCURRENCY) rows.push({ server: name, round, sockets, ...(await loopCell(server, { label: `${name} ×${sockets}`, host: BENCH_HOST, sockets, size: 64, php: PHP_EXE, wsgate, warmupMs: WARMUP_MS, durationMs: DURATION_MS })) });
    } finally {
      await server.stop();
    }
  }
}

const v = versions();
console.log(`\nMachine: ${machine()}; node ${v.node}, bun ${v.bun}; worker cap ${CAP} for both; PHP worker without pipelining (WSGATE_BENCH_PIPELINE=0). ${ROUNDS} interleaved rounds of ${DURATION_MS / 1000} s per cell. Took ${Math.round((Date.now() - started) / 1000)} s.\n`);
console.log('| server | round | sockets | msg/s | p50 ms | p99 ms | server CPU µs/msg | PHP CPU µs/msg |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.server} | ${r.round} | ${r.sockets} | ${fmt(r.perSecond, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.serverCpuUs, 0)} | ${fmt(r.phpCpuUs, 0)} |${r.error ? ` ${r.error}` : ''}`);
console.log('\n**Medians over the rounds, and wsgate against the daemon**\n');
console.log('| sockets | daemon msg/s | wsgate msg/s | ratio (target >= 1.3x) | daemon p50 ms | wsgate p50 ms |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const sockets of CONCURRENCY) {
  const of = (server: string, key: 'perSecond' | 'p50') => median(rows.filter((r) => r.server === server && r.sockets === sockets && !r.error).map((r) => r[key] ?? NaN));
  const d = of('phlo-daemon', 'perSecond');
  const w = of('wsgate', 'perSecond');
  console.log(`| ${sockets} | ${fmt(d, 0)} | ${fmt(w, 0)} | ${fmt(w / d, 2)}x | ${fmt(of('phlo-daemon', 'p50'))} | ${fmt(of('wsgate', 'p50'))} |`);
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ cap: CAP, rounds: ROUNDS, durationMs: DURATION_MS, versions: v, rows }, null, 2));
