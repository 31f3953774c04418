/**
 * Scale (issue 17): as many idle sockets as the gateway's open-files limit
 * allows, from several loopback source addresses; memory and connect CPU per
 * socket; casts to all of them; and a reconnect storm: the gateway restarts
 * and every socket comes back at once, as browsers do after a deploy.
 *
 *   node --import tsx scripts/bench/scale.ts [flags]      (npm run bench:scale)
 *
 *   --sockets N        sockets (default: 90 % of the hard open-files limit, less 500 for the rest)
 *   --quick            2,000 sockets, 3 casts (under 2 minutes)
 *   --modes a,b        the auth the sockets pass: module (an in-process hook) and/or resident
 *                      (a PHP auth hook on the resident pool, cap 1) (default both)
 *   --workers W        client processes holding the sockets (default 4)
 *   --addresses K      loopback source addresses 127.0.0.2 ... (default 4)
 *   --casts C          casts to all in the cast window (default 5)
 *   --delay MS         a client's first reconnect delay, as wsgate.js's (default 333; then x3 per failed try, at most 10 s, ±25 %)
 *   --binary PATH      the compiled wsgate (default dist/wsgate, built by build.ts when missing)
 *   --json FILE        also write every row as JSON
 *
 * Per mode: the binary on a fresh port; RSS when idle; the sockets opened
 * (32 handshakes in flight per worker); RSS and CPU when idle again, so memory
 * per socket = (RSS with N - RSS with 0) / N. Then `--casts` casts to all, each
 * after the last has reached every socket: deliveries per second and gateway
 * CPU per delivery. Then the storm: the gateway is stopped (SIGTERM) and
 * started again on the same port; every client reconnects when its socket
 * closes and retries whenever it is refused, on wsgate.js's schedule; the time from the restarted
 * gateway accepting connections until every socket is open again, the
 * refusals meanwhile, and the most jobs the auth pool had waiting
 * (/health pools, polled every 100 ms).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { BENCH_DIR, HOST, ROOT, compiledBinary, fmt, freePort, getJson, helpFromDoc, installCleanup, machine, parseFlags, postMessage, sleep, startServer, track, versions, waitIdle, workerMailbox, wsgateCommand } from './harness.ts';
import type { Server } from './harness.ts';
import { cpu, fdLimits, statusKb, ticksToMicros } from './proc.ts';
import { BENCH_HOSTS, writeBenchConfig } from './loops.ts';

helpFromDoc(import.meta.url);
const flags = parseFlags();
const QUICK = flags.has('quick');
const HARD = fdLimits().hard;
const SOCKETS = flags.int('sockets', QUICK ? 2000 : Math.floor(HARD * 0.9) - 500);
const MODES = (flags.list('modes') ?? ['module', 'resident']) as Array<'module' | 'resident'>;
const WORKERS = flags.int('workers', 4);
const ADDRESSES = Array.from({ length: flags.int('addresses', 4) }, (_, i) => `127.0.0.${i + 2}`);
const CASTS = flags.int('casts', QUICK ? 3 : 5);
const DELAY_MS = flags.num('delay', 333, 0);
const JSON_OUT = flags.get('json');
for (const m of MODES) if (m !== 'module' && m !== 'resident') throw new Error(`--modes: module or resident, not ${m}`);
if (SOCKETS + 500 > HARD) throw new Error(`--sockets ${SOCKETS}: the gateway needs about ${SOCKETS + 500} open files; the hard limit is ${HARD}`);
// The client workers inherit this process's soft limit (fork cannot raise it): each holds its share of the sockets.
const SOFT = fdLimits().soft;
if (Math.ceil(SOCKETS / WORKERS) + 200 > SOFT) throw new Error(`each client worker holds ${Math.ceil(SOCKETS / WORKERS)} sockets but the open-files limit is ${SOFT}: run under \`ulimit -n ${HARD}\`, or give more --workers`);

installCleanup('scale', 30 * 60 * 1000);
const work = mkdtempSync(join(tmpdir(), 'wsgate-scale-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const binary = compiledBinary(flags.get('binary'));
const config = writeBenchConfig(work, 1, 'php', undefined, true);

type Stats = { type: 'stats'; open: number; frames: number; refused: number; reconnects: number };
type WorkerMessage = { type: 'opened'; open: number; failed: number; errors: string[] } | Stats | { type: 'done' };

interface Row {
  mode: string;
  sockets: number;
  openSeconds?: number;
  kbPerSocket?: number;
  connectCpuUs?: number;
  deliveriesPerSecond?: number;
  cpuPerDeliveryUs?: number;
  stormSeconds?: number;
  stormRefused?: number;
  stormQueuePeak?: number;
  error?: string;
}

function startWorkers(): Array<{ child: ChildProcess; next: ReturnType<typeof workerMailbox<WorkerMessage>> }> {
  return Array.from({ length: WORKERS }, () => {
    const child = track(fork(join(BENCH_DIR, 'scale-client.mjs'), [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    return { child, next: workerMailbox<WorkerMessage>(child, () => {}) };
  });
}

async function stats(workers: ReturnType<typeof startWorkers>): Promise<{ open: number; frames: number; refused: number }> {
  const all = await Promise.all(workers.map(async (w) => {
    w.child.send({ cmd: 'stats' });
    return (await w.next('stats', 60_000)) as Stats;
  }));
  return all.reduce((sum, s) => ({ open: sum.open + s.open, frames: sum.frames + s.frames, refused: sum.refused + s.refused }), { open: 0, frames: 0, refused: 0 });
}

async function until(what: string, check: () => Promise<boolean>, maxMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${maxMs / 1000} s`);
    await sleep(everyMs);
  }
}

async function runMode(mode: 'module' | 'resident'): Promise<Row> {
  const row: Row = { mode, sockets: SOCKETS };
  const port = await freePort();
  const start = () => startServer(wsgateCommand('binary', ['serve', '--port', String(port), '--listen', HOST, '--config', config, '--log-level', 'warn'], binary.path), { port, fdNeed: SOCKETS + 500 });
  let server: Server = await start();
  const workers = startWorkers();
  const agent = new Agent({ keepAlive: true });
  try {
    await waitIdle(server.pid);
    const rss0 = statusKb(server.pid, 'VmRSS');
    const cpu0 = cpu(server.pid).ticks;
    const opening = Date.now();
    const share = Math.ceil(SOCKETS / WORKERS);
    const url = `ws://${HOST}:${port}/websocket`;
    workers.forEach((w, i) => w.child.send({ cmd: 'open', url, host: BENCH_HOSTS[mode], first: i * share, count: Math.max(0, Math.min(share, SOCKETS - i * share)), addresses: ADDRESSES, concurrency: 32, reconnect: true, delayMs: DELAY_MS }));
    const opened = await Promise.all(workers.map((w) => w.next('opened', 600_000)));
    row.openSeconds = (Date.now() - opening) / 1000;
    const open = opened.reduce((sum, o) => sum + (o.type === 'opened' ? o.open : 0), 0);
    if (open !== SOCKETS) throw new Error(`opened ${open} of ${SOCKETS}: ${opened.flatMap((o) => (o.type === 'opened' ? o.errors : [])).slice(0, 3).join('; ')}`);
    await waitIdle(server.pid, 60_000);
    row.kbPerSocket = (statusKb(server.pid, 'VmRSS') - rss0) / SOCKETS;
    row.connectCpuUs = ticksToMicros(cpu(server.pid).ticks - cpu0) / SOCKETS;
    console.error(`  ${mode}: ${SOCKETS} sockets open in ${fmt(row.openSeconds, 1)} s; ${fmt(row.kbPerSocket)} KB and ${fmt(row.connectCpuUs, 0)} µs CPU per socket`);

    // Casts to all, one after another, each once every socket has it.
    const before = cpu(server.pid).ticks;
    const castStart = Date.now();
    const framesBefore = (await stats(workers)).frames;
    for (let k = 1; k <= CASTS; k++) {
      const answer = await postMessage(agent, port, JSON.stringify({ host: BENCH_HOSTS[mode], target: 'all', data: { k, p: 'x'.repeat(64) } }), 60_000);
      const sent = (JSON.parse(answer.text) as { sent?: number }).sent;
      if (sent !== SOCKETS) throw new Error(`cast ${k}: sent ${sent}, not ${SOCKETS}`);
      await until(`cast ${k} at every socket`, async () => (await stats(workers)).frames - framesBefore >= k * SOCKETS, 120_000, 20);
    }
    const castSeconds = (Date.now() - castStart) / 1000;
    row.deliveriesPerSecond = (CASTS * SOCKETS) / castSeconds;
    row.cpuPerDeliveryUs = ticksToMicros(cpu(server.pid).ticks - before) / (CASTS * SOCKETS);
    console.error(`  ${mode}: ${CASTS} casts to all: ${fmt(row.deliveriesPerSecond, 0)} deliveries/s, ${fmt(row.cpuPerDeliveryUs)} µs CPU each`);

    // The storm: a restart, and every socket back at once.
    const refusedBefore = (await stats(workers)).refused;
    await server.stop();
    server = await start();
    const back = Date.now();
    let peak = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        try {
          const health = (await getJson(port, '/health')) as { pools?: Record<string, { queued: number; pipelined?: number }> };
          for (const pool of Object.values(health.pools ?? {})) peak = Math.max(peak, pool.queued + (pool.pipelined ?? 0));
        } catch {
          // Busy or not yet up: the next poll.
        }
        await sleep(100);
      }
    })();
    await until('every socket back', async () => (await stats(workers)).open === SOCKETS, 600_000, 100);
    row.stormSeconds = (Date.now() - back) / 1000;
    polling = false;
    await poll;
    row.stormRefused = (await stats(workers)).refused - refusedBefore;
    row.stormQueuePeak = peak;
    console.error(`  ${mode}: storm: all ${SOCKETS} back in ${fmt(row.stormSeconds, 1)} s; ${row.stormRefused} refusals meanwhile; auth queue peak ${peak}`);
  } catch (error) {
    row.error = (error as Error).message;
    console.error(`  ${mode} failed: ${row.error}\n    ${server.logTail.slice(-5).join('\n    ')}`);
  } finally {
    for (const w of workers) w.child.send({ cmd: 'close' });
    await Promise.all(workers.map((w) => w.next('done', 30_000).catch(() => undefined)));
    agent.destroy();
    await server.stop();
  }
  return row;
}

const started = Date.now();
const rows: Row[] = [];
for (const mode of MODES) {
  console.error(`- ${mode}: ${SOCKETS} sockets from ${ADDRESSES.join(', ')} over ${WORKERS} client processes`);
  rows.push(await runMode(mode));
}
const v = versions();
console.log(`\nMachine: ${machine()}; hard open-files limit ${HARD}; bun ${v.bun}, php ${v.php}. Binary: ${binary.note}. Reconnects on wsgate.js's schedule from ${DELAY_MS} ms. Took ${Math.round((Date.now() - started) / 1000)} s.\n`);
console.log('| auth hook | sockets | open s | KB / socket | connect CPU µs / socket | casts: deliveries/s | CPU µs / delivery | storm: all back s | refusals | auth queue peak |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.mode} | ${r.sockets} | ${fmt(r.openSeconds, 1)} | ${fmt(r.kbPerSocket)} | ${fmt(r.connectCpuUs, 0)} | ${fmt(r.deliveriesPerSecond, 0)} | ${fmt(r.cpuPerDeliveryUs)} | ${fmt(r.stormSeconds, 1)} | ${r.stormRefused ?? ''} | ${r.stormQueuePeak ?? ''} |${r.error ? ` ${r.error}` : ''}`);
}
if (JSON_OUT) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(JSON_OUT, JSON.stringify({ sockets: SOCKETS, addresses: ADDRESSES, workers: WORKERS, versions: v, rows }, null, 2));
}
