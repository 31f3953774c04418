/**
 * Pusher fan-out: what one cast to a channel of N sockets costs the SERVER
 * when the sockets speak Pusher's protocol 7, beside the same cast to plain
 * sockets and to bare Bun.serve, in one run; and what the Pusher HTTP API
 * (POST /apps/{id}/events, signed as the SDKs sign) manages, beside the
 * bridge's POST /message at the same concurrency.
 *
 *   node --import tsx scripts/bench/pusher-fanout.ts [flags]      (npm run bench:pusher)
 *
 *   --part a,b        fanout, api (default both)
 *   --sockets N       sockets per server in the fan-out (default 2000)
 *   --rounds K        measured casts per fan-out pass (default 30), after --warmup W (default 5)
 *   --repeat R        fan-out passes; each runs every target, in alternating order (default 3)
 *   --only a,b        fan-out targets: baseline-bun, wsgate-plain, wsgate-pusher (the default), and
 *                     wsgate-mixed: half the sockets plain, half Pusher, in the one channel
 *   --workers C       client processes holding the sockets (default 2)
 *   --size B          bytes of the cast's data as JSON (default 100)
 *   --plain-size B    the same for the casts to baseline-bun and wsgate-plain (default --size); the size
 *                     of a Pusher socket's frame (printed) makes their frames as long as the Pusher ones,
 *                     which takes the longer frame out of the comparison and leaves the protocol's work
 *   --subscribers S   Pusher subscribers of the channel in the API part (default 100)
 *   --callers a,b     concurrent callers in the API part (default 1,4,16)
 *   --events E        measured events per API cell (default 2000), after --api-warmup W (default 200)
 *   --api-repeat A    times the API part's cell order (bridge, api, api, bridge) runs per caller count (default 2)
 *   --runtime R       what runs wsgate: binary (default), or bun, node, deno on src/main.ts (bun from
 *                     source keeps function names readable in a profile: BUN_OPTIONS="--cpu-prof ...")
 *   --binary PATH     the compiled wsgate (default dist/wsgate, built by build.ts when missing; when it
 *                     is older than src/, the current src/ is compiled to a temporary file instead)
 *   --json FILE       also write every pass and cell as JSON
 *
 * Fan-out targets, each a fresh server per pass, all cast to by the same
 * `POST /message {"host":"127.0.0.1","target":"channel:room","data":{"r":n,"p":"xx.."}}`
 * (data SIZE bytes as JSON):
 *
 *   baseline-bun   scripts/bench/baseline-bun.ts: sockets at /websocket on one topic, one native publish
 *                  (it ignores host and target);
 *   wsgate-plain   the binary, sockets at /ws/room, in channel "room" by their path (as channel-cast.ts);
 *                  each gets the data as it is;
 *   wsgate-pusher  the binary, sockets at /app/bench-key?protocol=7, each subscribed to "room" with
 *                  pusher:subscribe; each gets {"event":"message","channel":"room","data":"<the data as text>"};
 *   wsgate-mixed   (only when asked for) the binary, the first worker's sockets plain, the second's Pusher:
 *                  a cast is then two native publishes of two frames (the plain topic and the Pusher one).
 *
 * Both wsgate targets run with one config: a host "*" with an empty hook module
 * (nothing runs per event), `keepalive` 0, log level warn, and a Pusher app
 * (id 1, key bench-key) whose channels are host 127.0.0.1's. Per pass and
 * target: start, wait for idle, read RSS and CPU; open the sockets (32
 * handshakes in flight per worker) and, on wsgate, check with GET /presence
 * that the channel holds them all; wait for idle, read again (memory per idle
 * socket, connect CPU per socket); W + K casts, each waited for until every
 * socket has it; every socket must then have exactly W + K frames, each of
 * the right shape. CPU per delivery = server utime+stime over the K casts
 * (their HTTP requests included) / (K × N). "other %": the machine's CPU that
 * went to processes outside this run during the casts.
 *
 * API part (its api cells skipped, with the reason, when the binary does not
 * answer /apps/1/events; the bridge's still run): one server, S Pusher
 * subscribers of "room". The driver's signer is first checked against the
 * pusher SDK's own signing (createSignedQueryString), and one event goes
 * through the SDK's trigger(). First 8 W events through each of the two
 * paths, unmeasured, once. Then per
 * caller count K, cells in the order bridge, api, api, bridge (A times): W
 * unmeasured events, then E events over K keep-alive connections, each caller
 * sending its next as soon as its last is answered. api: `POST /apps/1/events?
 * auth_key=..&auth_timestamp=..&auth_version=1.0&body_md5=..&auth_signature=..`
 * with `{"name":"bench","channels":["room"],"data":"<data as text>"}`; bridge:
 * the fan-out's POST /message. Figures: events/s, answer p50/p99, last
 * subscriber's receipt p50/p99 (CLOCK_MONOTONIC, from just before the request
 * is written), server CPU per event; every subscriber must get every event once.
 *
 * The tables are pusher-report.ts's. Loopback only; every child is killed on
 * exit; every wait is bounded.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BENCH_DIR,
  HOST,
  ROOT,
  buildBinary,
  compiledBinary,
  fmt,
  freePort,
  getJson,
  helpFromDoc,
  installCleanup,
  machine,
  median,
  parseFlags,
  postJson,
  quantile,
  scriptCommand,
  sleep,
  startServer,
  track,
  versions,
  waitIdle,
  withFdLimit,
  withTimeout,
  wsgateCommand,
} from './harness.ts';
import type { Command, WsgateRuntime } from './harness.ts';
import { apiReport, fanoutReport, TARGETS } from './pusher-report.ts';
import type { ApiCell, ApiPart, FanoutPass, TargetName } from './pusher-report.ts';
import { CLK_TCK, cpu, statusKb, ticksToMicros } from './proc.ts';
import type { CpuSample } from './proc.ts';

helpFromDoc(import.meta.url);
const flags = parseFlags();
const PARTS = flags.list('part') ?? ['fanout', 'api'];
const SOCKETS = flags.int('sockets', 2000);
const ROUNDS = flags.int('rounds', 30);
const WARMUP = flags.int('warmup', 5, 0);
const REPEAT = flags.int('repeat', 3);
const WORKERS = Math.min(flags.int('workers', 2), SOCKETS);
const SIZE = flags.int('size', 100, 24);
const PLAIN_SIZE = flags.int('plain-size', SIZE, 24);
const SUBSCRIBERS = flags.int('subscribers', 100);
const CALLERS = (flags.list('callers') ?? ['1', '4', '16']).map(Number);
const EVENTS = flags.int('events', 2000);
const API_WARMUP = flags.int('api-warmup', 200, 0);
const API_REPEAT = flags.int('api-repeat', 2);
const JSON_OUT = flags.get('json');
const RUNTIME = (flags.get('runtime') ?? 'binary') as WsgateRuntime;
if (!['binary', 'bun', 'node', 'deno'].includes(RUNTIME)) throw new Error(`--runtime: unknown runtime ${RUNTIME}`);
const ONLY = (flags.list('only') ?? ['baseline-bun', 'wsgate-plain', 'wsgate-pusher']) as TargetName[];
for (const name of ONLY) if (!TARGETS.includes(name)) throw new Error(`--only: unknown target ${name}; expected ${TARGETS.join(', ')}`);
for (const k of CALLERS) if (!Number.isInteger(k) || k < 1) throw new Error(`--callers: ${k} is not a whole number >= 1`);

const CHANNEL = 'room';
const APP = { id: '1', key: 'bench-key', secret: 'a-secret-of-16-or-more-chars' };
const OPEN_TIMEOUT_MS = 180_000;
const CAST_TIMEOUT_MS = 30_000;

installCleanup('pusher-fanout', 40 * 60 * 1000);
const work = mkdtempSync(join(tmpdir(), 'wsgate-pusher-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const hooks = join(work, 'no-hooks.mjs');
writeFileSync(hooks, '// No hooks: every socket is accepted, nothing runs per event.\nexport {};\n');
const configFile = join(work, 'wsgate.json');
writeFileSync(
  configFile,
  JSON.stringify({
    listen: HOST,
    port: 0,
    keepalive: 0,
    paths: { '/websocket': { channels: [] }, '/ws/{room}': { channels: ['{room}'] } },
    hosts: { '*': { module: hooks } },
    pusher: { apps: [{ ...APP, host: HOST }] },
  }),
);

// ---------------------------------------------------------------- casts and their frames

/** The cast's data, sized so that JSON.stringify(data) is exactly SIZE bytes. */
function castData(r: number, size = SIZE): { r: number; p: string } {
  const shell = JSON.stringify({ r, p: '' }).length;
  return { r, p: 'x'.repeat(Math.max(0, size - shell)) };
}
const bridgeBody = (r: number, size = SIZE) => JSON.stringify({ host: HOST, target: `channel:${CHANNEL}`, data: castData(r, size) });
/** Bytes of the frame each kind of socket gets for a cast of round 100 (what a Pusher socket gets is the data as text in an event). */
const frameBytes = {
  plain: PLAIN_SIZE,
  pusher: Buffer.byteLength(JSON.stringify({ event: 'message', channel: CHANNEL, data: JSON.stringify(castData(100)) })),
};

// ---------------------------------------------------------------- HTTP

const post = (agent: Agent, port: number, path: string, body: string) => postJson(agent, port, path, body, CAST_TIMEOUT_MS);

/** The query Pusher's SDKs add to an API request: sorted params, then the HMAC-SHA256 of method, path and them. */
function signedQuery(path: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const params: Record<string, string> = { auth_key: APP.key, auth_timestamp: String(timestamp), auth_version: '1.0', body_md5: createHash('md5').update(body).digest('hex') };
  const query = Object.keys(params)
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
  return `${query}&auth_signature=${createHmac('sha256', APP.secret).update(`POST\n${path}\n${query}`).digest('hex')}`;
}

const EVENTS_PATH = `/apps/${APP.id}/events`;
const apiBody = (r: number) => JSON.stringify({ name: 'bench', channels: [CHANNEL], data: JSON.stringify(castData(r)) });

/** Fails unless signedQuery gives what the pusher SDK's own signing gives for the same request and second. */
function checkSigner(): string {
  const require = createRequire(join(ROOT, 'package.json'));
  const { createSignedQueryString } = require('pusher/lib/requests.js') as { createSignedQueryString(token: unknown, request: { method: string; path: string; body: string }): string };
  const Token = require('pusher/lib/token.js') as new (key: string, secret: string) => unknown;
  const body = apiBody(1);
  const theirs = createSignedQueryString(new Token(APP.key, APP.secret), { method: 'POST', path: EVENTS_PATH, body });
  const timestamp = Number(new URLSearchParams(theirs).get('auth_timestamp'));
  const ours = signedQuery(EVENTS_PATH, body, timestamp);
  if (ours !== theirs) throw new Error(`the driver's signature differs from the pusher SDK's:\n  ours   ${ours}\n  theirs ${theirs}`);
  return 'the same query and signature as the pusher SDK (createSignedQueryString)';
}

// ---------------------------------------------------------------- client workers

type FromWorker =
  | { type: 'opened'; open: number; failed: number; errors: string[] }
  | { type: 'round'; r: number; at: string }
  | { type: 'count'; frames: number; min: number; max: number; bad: number; badSample?: string; pings: number; open: number }
  | { type: 'reset' }
  | { type: 'closed'; code: number }
  | { type: 'done' };

interface Worker {
  child: ChildProcess;
  ask<T extends FromWorker['type']>(message: Record<string, unknown>, type: T, ms: number): Promise<Extract<FromWorker, { type: T }>>;
}

/** Round -> called with each worker's last receipt of it. */
const roundWaiters = new Map<number, (at: bigint) => void>();
let unexpectedCloses = 0;

function startWorker(count: number): Worker {
  const command = withFdLimit([process.execPath, join(BENCH_DIR, 'pusher-client.mjs')], count + 256);
  const child = track(spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  child.on('message', (m: FromWorker) => {
    if (m.type === 'round') roundWaiters.get(m.r)?.(BigInt(m.at));
    else if (m.type === 'closed') unexpectedCloses++;
  });
  const ask: Worker['ask'] = (message, type, ms) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`client worker exited (${code})`));
        const onMessage = (m: FromWorker) => {
          if (m.type !== type) return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(m as never);
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send(message);
      }),
      ms,
      `client worker ${type}`,
    );
  return { child, ask };
}

type Mode = 'plain' | 'pusher';
const PUSHER_PATH = `/app/${APP.key}?protocol=7`;

/** Opens `total` sockets over the workers; worker w opens its share as `kinds[w % kinds.length]`. */
async function openSockets(port: number, kinds: Array<{ mode: Mode; path: string }>, total: number): Promise<Worker[]> {
  const workers: Worker[] = [];
  const asks: Array<Promise<Extract<FromWorker, { type: 'opened' }>>> = [];
  let first = 0;
  const n = Math.min(WORKERS, total);
  for (let w = 0; w < n; w++) {
    const count = Math.floor(total / n) + (w < total % n ? 1 : 0);
    const worker = startWorker(count);
    workers.push(worker);
    const { mode, path } = kinds[w % kinds.length]!;
    asks.push(worker.ask({ cmd: 'open', url: `ws://${HOST}:${port}${path}`, mode, channel: CHANNEL, first, count, concurrency: 32 }, 'opened', OPEN_TIMEOUT_MS));
    first += count;
  }
  const opened = await Promise.all(asks);
  const open = opened.reduce((sum, m) => sum + m.open, 0);
  if (open !== total) throw new Error(`opened ${open} of ${total} sockets: ${opened.flatMap((m) => m.errors).join('; ')}`);
  return workers;
}

async function stopWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode !== null) return;
      await w.ask({ cmd: 'close' }, 'done', 10_000).catch(() => {});
      await sleep(100);
      w.child.kill('SIGKILL');
    }),
  );
}

/** Every socket got exactly `want` frames, none malformed. */
async function checkFrames(workers: Worker[], want: number): Promise<{ problems: string[]; pings: number }> {
  const counts = await Promise.all(workers.map((w) => w.ask({ cmd: 'count' }, 'count', 10_000)));
  const problems: string[] = [];
  for (const c of counts) {
    if (c.min !== want || c.max !== want) problems.push(`each socket got ${c.min}-${c.max} frames, expected ${want}`);
    if (c.bad) problems.push(`${c.bad} malformed frames, e.g. ${c.badSample}`);
  }
  return { problems, pings: counts.reduce((sum, c) => sum + c.pings, 0) };
}

/** A promise for the last receipt of round r over all workers. */
function awaitRound(r: number, workers: number): Promise<bigint> {
  let pending = workers;
  let last = 0n;
  return new Promise((resolve) => {
    roundWaiters.set(r, (at) => {
      if (at > last) last = at;
      if (--pending === 0) {
        roundWaiters.delete(r);
        resolve(last);
      }
    });
  });
}

const pidsTicks = (pids: number[]) =>
  pids.reduce((sum, pid) => {
    try {
      return sum + cpu(pid).ticks;
    } catch {
      return sum;
    }
  }, 0);
const selfTicks = () => {
  const u = process.cpuUsage();
  return ((u.user + u.system) / 1e6) * CLK_TCK;
};

interface MachineTicks {
  /** user, nice and system: what processes ran. */
  tasks: number;
  /** irq, softirq and steal: charged to no process (loopback packets are softirq work). */
  rest: number;
  total: number;
}

/** The first line of /proc/stat, split into process time and the time no process is charged for. */
function machineTicks(): MachineTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const tasks = user + nice + system;
  const rest = irq + softirq + steal;
  return { tasks, rest, total: tasks + rest + idle + iowait };
}

/** Processes outside the server, the workers and this driver, as a share of the machine's CPU. */
function otherLoad(start: { m: MachineTicks; ours: number }, end: { m: MachineTicks; ours: number }): number {
  return (100 * Math.max(0, end.m.tasks - start.m.tasks - (end.ours - start.ours))) / Math.max(1, end.m.total - start.m.total);
}

// ---------------------------------------------------------------- fan-out

function fanoutCommand(target: TargetName, binary: string, port: number): Command {
  if (target === 'baseline-bun') return scriptCommand('bun', target, 'baseline-bun.ts', ['--port', String(port), '--listen', HOST]);
  return { ...wsgateCommand(RUNTIME, ['serve', '--port', String(port), '--listen', HOST, '--config', configFile, '--log-level', 'warn'], binary), name: target };
}

async function fanoutPass(target: TargetName, binary: string, pass: number, order: number): Promise<FanoutPass> {
  console.error(`- ${target} (pass ${pass}): starting`);
  const port = await freePort();
  const server = await startServer(fanoutCommand(target, binary, port), { port, fdNeed: SOCKETS + 1024 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let workers: Worker[] = [];
  try {
    const { pid } = server;
    await sleep(1000);
    await waitIdle(pid);
    const rss0Kb = statusKb(pid, 'VmRSS');
    const cpu0 = cpu(pid);
    unexpectedCloses = 0;
    const plain = { mode: 'plain' as const, path: target === 'baseline-bun' ? '/websocket' : `/ws/${CHANNEL}` };
    const pusher = { mode: 'pusher' as const, path: PUSHER_PATH };
    const kinds = target === 'wsgate-pusher' ? [pusher] : target === 'wsgate-mixed' ? [plain, pusher] : [plain];
    if (target === 'wsgate-mixed' && WORKERS < 2) throw new Error('wsgate-mixed needs --workers 2 or more');
    const mode: Mode = target === 'baseline-bun' || target === 'wsgate-plain' ? 'plain' : 'pusher';
    workers = await openSockets(port, kinds, SOCKETS);
    if (target !== 'baseline-bun') {
      const presence = await getJson(port, `/presence?host=${HOST}&channel=${CHANNEL}`);
      if (presence.sockets !== SOCKETS) throw new Error(`GET /presence counts ${String(presence.sockets)} sockets in ${CHANNEL}, expected ${SOCKETS}`);
    }
    await waitIdle(pid);
    const rssIdleKb = statusKb(pid, 'VmRSS');
    const cpuIdle = cpu(pid);
    console.error(`  ${SOCKETS} sockets ready (${fmt((rssIdleKb - rss0Kb) / SOCKETS, 1)} KB each)`);

    const latencies: number[] = [];
    const posts: number[] = [];
    const workerPids = workers.map((w) => w.child.pid!);
    let start: { cpu: CpuSample; clients: number; m: ReturnType<typeof machineTicks>; ours: number } | undefined;
    for (let r = 1; r <= WARMUP + ROUNDS; r++) {
      if (r === WARMUP + 1) {
        const c = cpu(pid);
        const clients = pidsTicks(workerPids);
        start = { cpu: c, clients, m: machineTicks(), ours: c.ticks + clients + selfTicks() };
      }
      const delivered = awaitRound(r, workers.length);
      const t0 = process.hrtime.bigint();
      const answer = await post(agent, port, '/message', bridgeBody(r, mode === 'pusher' ? SIZE : PLAIN_SIZE));
      const tPost = process.hrtime.bigint();
      if (answer.status !== 200) throw new Error(`POST /message answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      const sent = (JSON.parse(answer.text) as { sent?: number }).sent;
      if (sent !== SOCKETS) throw new Error(`cast ${r}: the server says it sent ${sent}, expected ${SOCKETS}`);
      const last = await withTimeout(delivered, CAST_TIMEOUT_MS, `cast ${r} delivery (${unexpectedCloses} sockets closed)`);
      if (r > WARMUP) {
        latencies.push(Number(last - t0) / 1e6);
        posts.push(Number(tPost - t0) / 1e6);
      }
    }
    const end = cpu(pid);
    const clientsEnd = pidsTicks(workerPids);
    const otherPct = otherLoad({ m: start!.m, ours: start!.ours }, { m: machineTicks(), ours: end.ticks + clientsEnd + selfTicks() });
    const { problems, pings } = await checkFrames(workers, WARMUP + ROUNDS);
    if (unexpectedCloses) problems.push(`${unexpectedCloses} sockets closed`);
    if (problems.length) throw new Error(problems.join('; '));
    const deliveries = ROUNDS * SOCKETS;
    const castTicks = end.ticks - start!.cpu.ticks;
    const result: FanoutPass = {
      target,
      pass,
      order,
      rss0Kb,
      rssIdleKb,
      memPerSocketKb: (rssIdleKb - rss0Kb) / SOCKETS,
      connectCpuUs: ticksToMicros(cpuIdle.ticks - cpu0.ticks) / SOCKETS,
      castTicks,
      cpuPerDeliveryUs: ticksToMicros(castTicks) / deliveries,
      userPerDeliveryUs: ticksToMicros(end.userTicks - start!.cpu.userTicks) / deliveries,
      sysPerDeliveryUs: ticksToMicros(end.sysTicks - start!.cpu.sysTicks) / deliveries,
      schedPerDeliveryUs: (end.schedNs - start!.cpu.schedNs) / 1000 / deliveries,
      clientPerDeliveryUs: ticksToMicros(clientsEnd - start!.clients) / deliveries,
      latencyP50Ms: median(latencies),
      postP50Ms: median(posts),
      otherPct,
      frameBytes: target === 'wsgate-mixed' ? `${frameBytes.plain} / ${frameBytes.pusher}` : mode === 'pusher' ? String(frameBytes.pusher) : String(frameBytes.plain),
      pings,
    };
    console.error(
      `  ${fmt(result.cpuPerDeliveryUs)} µs/delivery (${castTicks} ticks; user ${fmt(result.userPerDeliveryUs)}), ${fmt(result.memPerSocketKb, 2)} KB/socket, ` +
        `connect ${fmt(result.connectCpuUs, 0)} µs/socket, last receipt p50 ${fmt(result.latencyP50Ms)} ms, other load ${fmt(otherPct, 1)} %`,
    );
    return result;
  } catch (error) {
    console.error(`  ${target} failed: ${(error as Error).message}\n    ${server.logTail.slice(-5).join('\n    ')}`);
    return { target, pass, order, error: (error as Error).message } as FanoutPass;
  } finally {
    await stopWorkers(workers);
    await server.stop();
    agent.destroy();
    roundWaiters.clear();
  }
}

// ---------------------------------------------------------------- API

let nextRound = 1;

/** `count` events over `lanes` closed-loop callers; the answers' and last receipts' times. */
async function drive(port: number, via: 'bridge' | 'api', agent: Agent, count: number, lanes: number, workers: number): Promise<{ answers: number[]; receipts: number[] }> {
  const answers: number[] = [];
  const receipts: Array<Promise<number>> = [];
  const one = async (r: number) => {
    const delivered = awaitRound(r, workers);
    const body = via === 'api' ? apiBody(r) : bridgeBody(r);
    const path = via === 'api' ? `${EVENTS_PATH}?${signedQuery(EVENTS_PATH, body)}` : '/message';
    const t0 = process.hrtime.bigint();
    const answer = await post(agent, port, path, body);
    answers.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (answer.status !== 200) throw new Error(`${via} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
    if (via === 'bridge' && (JSON.parse(answer.text) as { sent?: number }).sent !== SUBSCRIBERS) throw new Error(`bridge: sent is not ${SUBSCRIBERS}: ${answer.text}`);
    receipts.push(withTimeout(delivered, CAST_TIMEOUT_MS, `event ${r} delivery`).then((at) => Number(at - t0) / 1e6));
  };
  let left = count;
  const lane = async () => {
    while (left > 0) {
      left--;
      try {
        await one(nextRound++);
      } catch (error) {
        // The other callers stop too, so nothing of this cell is still sending when the next one starts.
        left = 0;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return { answers, receipts: await Promise.all(receipts) };
}

async function apiPart(binary: string): Promise<ApiPart> {
  const signer = checkSigner();
  console.error(`- API: signer checked (${signer}); starting the binary`);
  const port = await freePort();
  const server = await startServer({ ...wsgateCommand(RUNTIME, ['serve', '--port', String(port), '--listen', HOST, '--config', configFile, '--log-level', 'warn'], binary), name: 'wsgate-api' }, { port });
  let workers: Worker[] = [];
  const cells: ApiCell[] = [];
  try {
    // Before any subscriber: the probe's event reaches nobody.
    const probeBody = apiBody(0);
    const probe = await post(new Agent(), port, `${EVENTS_PATH}?${signedQuery(EVENTS_PATH, probeBody)}`, probeBody);
    // Without the API, the bridge's cells still run: the peer's figures, and a check of this part's driving.
    const skipped = probe.status === 200 ? undefined : `POST ${EVENTS_PATH} answered ${probe.status} (${probe.text.slice(0, 120)}): the HTTP API is not in this binary`;
    let sdkTrigger: string | undefined;
    if (!skipped) {
      const require = createRequire(join(ROOT, 'package.json'));
      const Pusher = require('pusher') as new (options: Record<string, unknown>) => { trigger(channel: string, event: string, data: unknown): Promise<{ status: number }> };
      const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: HOST, port: String(port), useTLS: false });
      sdkTrigger = `pusher SDK trigger() answered ${(await sdk.trigger(CHANNEL, 'bench-probe', { r: 0 })).status}`;
    }
    unexpectedCloses = 0;
    workers = await openSockets(port, [{ mode: 'pusher', path: PUSHER_PATH }], SUBSCRIBERS);
    // A longer warm-up once, through every path a cell takes, so the JIT has settled before the first cell
    // (without it, server CPU per event fell by half over the first cells).
    const warm = new Agent({ keepAlive: true, maxSockets: 4 });
    for (const via of skipped ? (['bridge'] as const) : (['bridge', 'api'] as const)) await drive(port, via, warm, 8 * API_WARMUP, 4, workers.length);
    warm.destroy();
    for (const callers of CALLERS) {
      const agent = new Agent({ keepAlive: true, maxSockets: callers });
      let cell = 0;
      const order = skipped ? (['bridge', 'bridge'] as const) : (['bridge', 'api', 'api', 'bridge'] as const);
      for (const via of Array.from({ length: API_REPEAT }, () => order).flat()) {
        cell++;
        await Promise.all(workers.map((w) => w.ask({ cmd: 'reset' }, 'reset', 10_000)));
        await drive(port, via, agent, API_WARMUP, callers, workers.length);
        await waitIdle(server.pid, 5000);
        const pids = workers.map((w) => w.child.pid!);
        const c0 = cpu(server.pid);
        const k0 = pidsTicks(pids);
        const m0 = machineTicks();
        const ours0 = c0.ticks + k0 + selfTicks();
        const t0 = performance.now();
        try {
          const { answers, receipts } = await drive(port, via, agent, EVENTS, callers, workers.length);
          const seconds = (performance.now() - t0) / 1000;
          const c1 = cpu(server.pid);
          const k1 = pidsTicks(pids);
          const otherPct = otherLoad({ m: m0, ours: ours0 }, { m: machineTicks(), ours: c1.ticks + k1 + selfTicks() });
          const { problems, pings } = await checkFrames(workers, API_WARMUP + EVENTS);
          if (unexpectedCloses) problems.push(`${unexpectedCloses} sockets closed`);
          const row: ApiCell = {
            via,
            callers,
            cell,
            events: EVENTS,
            seconds,
            eventsPerSecond: EVENTS / seconds,
            answerP50Ms: quantile(answers, 0.5),
            answerP99Ms: quantile(answers, 0.99),
            receiptP50Ms: quantile(receipts, 0.5),
            receiptP99Ms: quantile(receipts, 0.99),
            cpuPerEventUs: ticksToMicros(c1.ticks - c0.ticks) / EVENTS,
            userPerEventUs: ticksToMicros(c1.userTicks - c0.userTicks) / EVENTS,
            sysPerEventUs: ticksToMicros(c1.sysTicks - c0.sysTicks) / EVENTS,
            clientCpuPerEventUs: ticksToMicros(k1 - k0) / EVENTS,
            otherPct,
            pings,
            ...(problems.length ? { error: problems.join('; ') } : {}),
          };
          cells.push(row);
          console.error(
            `  ${via}, ${callers} caller(s), cell ${cell}: ${fmt(row.eventsPerSecond, 0)} events/s, answer p50/p99 ${fmt(row.answerP50Ms, 3)}/${fmt(row.answerP99Ms, 3)} ms, ` +
              `receipt p50 ${fmt(row.receiptP50Ms, 3)} ms, server ${fmt(row.cpuPerEventUs, 0)} µs/event, other load ${fmt(otherPct, 1)} %${row.error ? `; ${row.error}` : ''}`,
          );
        } catch (error) {
          cells.push({ via, callers, cell, error: (error as Error).message } as ApiCell);
          console.error(`  ${via}, ${callers} caller(s) failed: ${(error as Error).message}`);
        }
      }
      agent.destroy();
    }
    return { skipped, signer, sdkTrigger, cells };
  } finally {
    await stopWorkers(workers);
    await server.stop();
    roundWaiters.clear();
  }
}

// ---------------------------------------------------------------- main

const started = Date.now();
let binary = RUNTIME === 'binary' ? compiledBinary(flags.get('binary')) : { path: '', note: `none: wsgate runs as ${RUNTIME} src/main.ts` };
if (RUNTIME === 'binary' && !flags.get('binary') && binary.note.includes('OLDER')) {
  // An old dist/wsgate may lack the Pusher front: compile the current src/ instead.
  binary = { path: buildBinary(join(work, 'wsgate')), note: 'the current src/ compiled to a temporary file (dist/wsgate is older than src/)' };
}
console.error(
  `pusher-fanout: parts ${PARTS.join(', ')}; fan-out ${SOCKETS} sockets × ${ROUNDS} casts (+${WARMUP}) × ${REPEAT} passes of ${ONLY.join(', ')}; ` +
    `API ${SUBSCRIBERS} subscribers, callers ${CALLERS.join(', ')}, ${EVENTS} events (+${API_WARMUP}) per cell; binary: ${binary.note}; CLK_TCK=${CLK_TCK}`,
);
const passes: FanoutPass[] = [];
if (PARTS.includes('fanout')) {
  for (let pass = 1; pass <= REPEAT; pass++) {
    // Alternating order (A B C, C B A, ...): a drift in the machine's load weighs the targets alike.
    const order = pass % 2 === 1 ? ONLY : [...ONLY].reverse();
    for (const [i, target] of order.entries()) passes.push(await fanoutPass(target, binary.path, pass, i + 1));
  }
}
let api: ApiPart | undefined;
if (PARTS.includes('api')) {
  try {
    api = await apiPart(binary.path);
  } catch (error) {
    api = { skipped: `failed: ${(error as Error).message}`, cells: [] };
  }
}

const v = versions();
console.log(`## Pusher fan-out: one channel cast to ${SOCKETS} sockets; Pusher HTTP API against the bridge\n`);
console.log(
  `Machine: ${machine()}; node ${v.node}, bun ${v.bun}; wsgate: ${RUNTIME}; binary: ${binary.note}; ${WORKERS} client worker process(es); ` +
    `took ${Math.round((Date.now() - started) / 1000)} s; CLK_TCK ${CLK_TCK}.\n`,
);
if (passes.length) {
  console.log(`### Fan-out: ${SOCKETS} sockets in one channel, ${ROUNDS} measured casts (+${WARMUP} warm-up) of ${SIZE}-byte data${PLAIN_SIZE === SIZE ? '' : ` to Pusher sockets and ${PLAIN_SIZE}-byte data to the others`}, median of ${REPEAT} passes\n`);
  console.log(fanoutReport(passes, ONLY));
  console.log(
    `\nData: ${SIZE} bytes as JSON to Pusher sockets, ${PLAIN_SIZE} to the others (frame bytes: what each socket gets). CPU per delivery = the server's utime+stime over the measured casts (their POST /message included) / (casts × ${SOCKETS}). ` +
      'KB / idle socket = (VmRSS with the sockets − VmRSS before) / sockets, both after the server went idle. ' +
      'Connect CPU covers the upgrade and, for Pusher sockets, connection_established, pusher:subscribe and subscription_succeeded. ' +
      '"other %": the machine\'s CPU used by processes outside this run during the casts.\n',
  );
}
if (api) {
  console.log(`### Pusher HTTP API: events to a channel of ${SUBSCRIBERS} Pusher subscribers, against the bridge's channel cast\n`);
  console.log(apiReport(api, CALLERS));
  console.log(`\nPer caller count, cells ran bridge, api, api, bridge, ${API_REPEAT} time(s) (figures are their means, each cell's events/s in brackets); ${EVENTS} events per cell after ${API_WARMUP} unmeasured ones.`);
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ sockets: SOCKETS, rounds: ROUNDS, warmup: WARMUP, repeat: REPEAT, size: SIZE, frameBytes, subscribers: SUBSCRIBERS, callers: CALLERS, events: EVENTS, apiWarmup: API_WARMUP, apiRepeat: API_REPEAT, plainSize: PLAIN_SIZE, runtime: RUNTIME, clkTck: CLK_TCK, versions: v, binary: binary.note, passes, api }, null, 2));
process.exit(passes.some((p) => p.error) || api?.cells.some((c) => c.error) ? 1 : 0);
