/**
 * Cluster mode (issue 8): what a `target: "all"` cast costs and how fast it
 * goes when it crosses Redis, in one run on this machine.
 *
 *   node --import tsx scripts/bench/cluster.ts [flags]      (npm run bench:cluster)
 *
 *   --sockets N        sockets in every setup (default 300; 100 per node with three nodes)
 *   --paced N          casts in the paced window (default 1000), at --rate R casts/s (default 100)
 *   --loop N           casts in the closed-loop window (default 3000), --lanes L in flight (default 4)
 *   --warmup N         unmeasured casts per setup before the windows (default 300, closed loop)
 *   --workers W        client processes holding the sockets (default 2)
 *   --passes P         1: off, on1, three; 2 (default): then three, on1, off again (A B C C B A);
 *                      more go on alternating (A B C C B A A B C ...), for means with less spread
 *   --binary PATH      use this compiled wsgate; without it, build.ts compiles the current src/ once
 *                      to /tmp/wsgate-bench-cluster first (`node --import tsx build.ts --outfile ...`)
 *   --json FILE        also write every row as JSON
 *
 * Setups, each with fresh servers and fresh client workers, all against one
 * redis-server (`--save '' --appendonly no`) started by this script:
 *
 *   off    one node, cluster mode off (no Redis in the path), all N sockets;
 *   on1    one node, cluster mode on (`"cluster": {"redis": ..., "node": "n1",
 *          "heartbeat": 1, "ttl": 5, "deadline": 1}`), all N sockets: every
 *          cast goes to Redis and back before it is applied and answered;
 *   three  three nodes, cluster mode on, N/3 sockets each (socket i on node i % 3);
 *          POSTs go round-robin to the three nodes, as a load balancer would.
 *
 * Every node: `wsgate serve` of the compiled binary, keepalive pings off, log
 * level warn, host "*" with an empty in-process hook module (no hook runs).
 * Each setup uses its own key prefix, and waits until every node's
 * GET /health lists every node as live before anything is cast.
 *
 * A cast is `POST /message {"host":"127.0.0.1","target":"all","data":{"p":<window>,"c":<n>,"t":<ms>}}`,
 * t taken just before the request is written, from CLOCK_MONOTONIC
 * (process.hrtime), which is one clock for every process on the machine.
 * A client stamps each frame on arrival with the same clock: delivery latency
 * = arrival - t, over every (socket, cast) pair; "first" and "last frame":
 * per cast, when its earliest and its latest frame arrived (p50/p99 over the
 * casts). Answer latency = the POST's round trip. Clients share the machine's
 * two CPUs with the servers: each worker reads its sockets' frames one after
 * another, so delivery latency includes the clients' own work. Windows per setup:
 *
 *   paced:  --paced casts at --rate/s (cast k is due at k / rate s; at most 8 in flight), so every
 *           setup sees the same arrival pattern: latency without queueing, and server CPU per cast;
 *   loop:   --loop casts, --lanes lanes, each sending its next cast when the last is answered:
 *           the most casts per second this machine gets through, and latency under that load.
 *
 * Checks (each window): every answer is 200 with `sent` = N and, in cluster
 * mode, `nodes.answered` = every node and `nodes.missing` empty; every socket
 * received every cast of the window exactly once (missing, duplicate and
 * stray frames are counted and reported, never hidden).
 *
 * CPU per cast = utime+stime (10 ms ticks) over the window / casts, for the
 * wsgate nodes (summed) and the client workers; Redis's from schedstat (finer).
 * "steal / irq / other %": shares of the machine's CPU during the window that
 * the hypervisor took, that went to interrupts (loopback packets are softirq
 * work, charged to no process), and that went to processes outside this run. Loopback only; every child is killed on exit; every
 * wait is bounded.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import {
  getJson,
  HOST,
  ROOT,
  fmt,
  freePort,
  helpFromDoc,
  installCleanup,
  machine,
  pacedLanes,
  parseFlags,
  postMessage,
  quantileSorted,
  sleep,
  startServer,
  track,
  versions,
  waitIdle,
  withFdLimit,
  workerMailbox,
  wsgateCommand,
} from './harness.ts';
import type { Server } from './harness.ts';
import { CLK_TCK, cpu, statusKb, ticksToMicros } from './proc.ts';

/** The machine's CPU from the first line of /proc/stat, in ticks over all CPUs, with the parts processes are not charged for. */
function machineTicks(): { busy: number; total: number; steal: number; irq: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy, total: busy + idle! + iowait!, steal: steal ?? 0, irq: irq! + softirq! };
}

const SELF = fileURLToPath(import.meta.url);

/** Milliseconds on CLOCK_MONOTONIC: the same clock in every process of this machine (performance.now() is per process). */
function mono(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

// ---------------------------------------------------------------- client worker (this file, run with --client-worker)

type ToWorker = { cmd: 'open'; urls: Array<[number, string]> } | { cmd: 'reset'; window: number; casts: number } | { cmd: 'count' } | { cmd: 'report' } | { cmd: 'close' };

type FromWorker =
  | { type: 'opened'; open: number; failed: number; errors: string[] }
  | { type: 'reset' }
  | { type: 'count'; frames: number }
  | { type: 'report'; frames: number; missing: number; duplicates: number; stray: number; latencies: Float64Array; first: Float64Array; last: Float64Array }
  | { type: 'closed'; index: number; code: number }
  | { type: 'done' };

function clientWorker(): void {
  const send = (message: FromWorker) => {
    if (process.connected) process.send!(message);
  };
  const sockets: WebSocket[] = [];
  let closing = false;
  // The window being counted: per socket and cast, how many frames arrived.
  let window = -1;
  let casts = 0;
  let counts = new Uint16Array(0);
  let frames = 0;
  let stray = 0;
  let latencies = new Float64Array(1 << 16);
  let nLat = 0;
  // Per cast: the earliest and the latest arrival at this worker's sockets.
  let first = new Float64Array(0);
  let last = new Float64Array(0);

  const onFrame = (slot: number, data: WebSocket.RawData) => {
    const at = mono();
    let frame: { p?: unknown; c?: unknown; t?: unknown };
    try {
      frame = JSON.parse(data.toString());
    } catch {
      stray++;
      return;
    }
    if (frame.p !== window || typeof frame.c !== 'number' || typeof frame.t !== 'number' || frame.c < 0 || frame.c >= casts) {
      stray++;
      return;
    }
    frames++;
    counts[slot * casts + frame.c]!++;
    if (nLat === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    const latency = at - frame.t;
    latencies[nLat++] = latency;
    if (latency < first[frame.c]!) first[frame.c] = latency;
    if (latency > last[frame.c]!) last[frame.c] = latency;
  };

  const openOne = (index: number, url: string) =>
    new Promise<string | undefined>((resolve) => {
      const ws = new WebSocket(url, { headers: { cookie: `token=c-${index}` }, perMessageDeflate: false, handshakeTimeout: 30_000 });
      let opened = false;
      ws.on('open', () => {
        opened = true;
        const slot = sockets.push(ws) - 1;
        ws.on('message', (data) => onFrame(slot, data));
        resolve(undefined);
      });
      ws.on('error', (error) => resolve(error.message));
      ws.on('close', (code) => {
        if (!opened) resolve(`closed ${code} before it opened`);
        else if (!closing) send({ type: 'closed', index, code });
      });
    });

  process.on('message', (message: ToWorker) => {
    switch (message.cmd) {
      case 'open': {
        void (async () => {
          let next = 0;
          let failed = 0;
          const errors = new Set<string>();
          const lane = async () => {
            while (next < message.urls.length) {
              const [index, url] = message.urls[next++]!;
              const error = await openOne(index, url);
              if (error) {
                failed++;
                if (errors.size < 5) errors.add(error);
              }
            }
          };
          await Promise.all(Array.from({ length: 16 }, lane));
          send({ type: 'opened', open: sockets.length, failed, errors: [...errors] });
        })();
        break;
      }
      case 'reset':
        window = message.window;
        casts = message.casts;
        counts = new Uint16Array(sockets.length * casts);
        first = new Float64Array(casts).fill(Number.POSITIVE_INFINITY);
        last = new Float64Array(casts).fill(Number.NEGATIVE_INFINITY);
        frames = 0;
        stray = 0;
        nLat = 0;
        send({ type: 'reset' });
        break;
      case 'count':
        send({ type: 'count', frames });
        break;
      case 'report': {
        let missing = 0;
        let duplicates = 0;
        for (const n of counts) {
          if (n === 0) missing++;
          else if (n > 1) duplicates += n - 1;
        }
        send({ type: 'report', frames, missing, duplicates, stray, latencies: latencies.slice(0, nLat), first, last });
        break;
      }
      case 'close':
        closing = true;
        for (const ws of sockets) ws.terminate();
        send({ type: 'done' });
        setTimeout(() => process.exit(0), 50);
        break;
    }
  });
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(3), 15 * 60 * 1000).unref();
}

if (process.argv.includes('--client-worker')) {
  clientWorker();
} else {
  await main();
}

// ---------------------------------------------------------------- driver

async function main(): Promise<void> {
  helpFromDoc(import.meta.url);
  const flags = parseFlags();
  const SOCKETS = flags.int('sockets', 300, 3);
  const PACED = flags.int('paced', 1000);
  const RATE = flags.num('rate', 100, 1);
  const LOOP = flags.int('loop', 3000);
  const LANES = flags.int('lanes', 4);
  const WARMUP = flags.int('warmup', 300, 0);
  const WORKERS = flags.int('workers', 2);
  const PASSES = flags.int('passes', 2);
  const JSON_OUT = flags.get('json');
  const PACED_IN_FLIGHT = 8;
  if (PASSES < 1) throw new Error('--passes: at least 1');

  // A pass of the three setups takes about 1.5 min here; the cap stops a run that hangs, not a long one.
  installCleanup('cluster bench', (4 + 3 * PASSES) * 60 * 1000);
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'wsgate-cluster-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));

  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ` (uncommitted changes under src/: ${dirty.split('\n').map((l) => l.slice(3)).join(', ')})`;
  } catch {
    // not a git checkout
  }

  // ---- the binary, built once, so edits to src/ during the run change nothing measured

  let binary = flags.get('binary');
  let binaryNote: string;
  if (binary) {
    binary = realpathSync(binary);
    binaryNote = `${binary} (given)`;
  } else {
    binary = '/tmp/wsgate-bench-cluster';
    console.error(`building ${binary} (node --import tsx build.ts --outfile ${binary}) ...`);
    execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'build.ts'), '--outfile', binary], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    binaryNote = `${binary} (built at the start of this run by build.ts)`;
  }
  // ---- Redis

  const redisPort = await freePort();
  // redis-server is a link to redis-check-rdb, which looks at argv[0]: start it by its own name, measure the real file.
  const redisPath = execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim();
  const redisExe = realpathSync(redisPath);
  const redis = await startServer(
    { name: 'redis-server', argv: [redisPath, '--port', String(redisPort), '--bind', HOST, '--save', '', '--appendonly', 'no'], exe: redisExe },
    { port: redisPort, timeoutMs: 10_000 },
  );
  const redisVersion = execFileSync(redisPath, ['--version'], { encoding: 'utf8' }).trim().split(' ').find((w) => w.startsWith('v='))?.slice(2) ?? '?';

  const hooks = join(work, 'no-hooks.mjs');
  writeFileSync(hooks, '// No hooks: every socket is accepted, nothing runs per event.\nexport {};\n');

  // ---- client workers

  interface Worker {
    child: ChildProcess;
    next<T extends FromWorker['type']>(type: T, ms: number): Promise<Extract<FromWorker, { type: T }>>;
  }
  let unexpectedCloses = 0;

  function startWorker(): Worker {
    const command = withFdLimit([process.execPath, '--import', 'tsx', SELF, '--client-worker'], SOCKETS + 1024);
    const child = track(spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' }));
    return { child, next: workerMailbox<FromWorker>(child, () => unexpectedCloses++) };
  }

  const ask = <T extends FromWorker['type']>(workers: Worker[], message: ToWorker, reply: T, ms = 30_000) =>
    Promise.all(
      workers.map((w) => {
        w.child.send(message);
        return w.next(reply, ms);
      }),
    );

  async function stopWorkers(workers: Worker[]): Promise<void> {
    await Promise.all(
      workers.map(async (w) => {
        if (w.child.exitCode !== null) return;
        w.child.send({ cmd: 'close' } satisfies ToWorker);
        await w.next('done', 10_000).catch(() => {});
        await sleep(100);
        w.child.kill('SIGKILL');
      }),
    );
  }

  // ---- HTTP helpers


  // ---- one window of casts

  interface Sent {
    answerMs: number[];
    wallMs: number;
    answers: number;
    badAnswers: number;
    badSample?: string;
  }

  /** `count` casts of window `windowId`; lanes in flight; paced at `rate`/s when rate > 0, else closed loop. */
  async function castWindow(ports: number[], cluster: boolean, windowId: number, count: number, lanes: number, rate: number): Promise<Sent> {
    const agents = ports.map(() => new Agent({ keepAlive: true, maxSockets: lanes }));
    const answerMs: number[] = [];
    let badAnswers = 0;
    let badSample: string | undefined;
    const t0 = performance.now();
    const castOne = async (k: number) => {
      const n = k % ports.length;
      const t = mono();
      const body = JSON.stringify({ host: HOST, target: 'all', data: { p: windowId, c: k, t } });
      const answer = await postMessage(agents[n]!, ports[n]!, body, 30_000).catch((error: Error) => ({ status: 0, text: error.message }));
      answerMs.push(mono() - t);
      let ok = answer.status === 200;
      if (ok) {
        const parsed = JSON.parse(answer.text) as { sent?: number; nodes?: { answered?: string[]; missing?: string[]; degraded?: string } };
        ok = parsed.sent === SOCKETS;
        if (cluster) ok &&= parsed.nodes?.answered?.length === ports.length && parsed.nodes.missing?.length === 0 && !parsed.nodes.degraded;
        else ok &&= parsed.nodes === undefined;
      }
      if (!ok) {
        badAnswers++;
        badSample ??= `${answer.status} ${answer.text.slice(0, 200)}`;
      }
    };
    try {
      await pacedLanes(count, lanes, rate, castOne);
    } finally {
      for (const agent of agents) agent.destroy();
    }
    return { answerMs, wallMs: performance.now() - t0, answers: answerMs.length, badAnswers, ...(badSample ? { badSample } : {}) };
  }

  // ---- a setup

  type SetupName = 'off' | 'on1' | 'three';
  interface WindowRow {
    setup: SetupName;
    pass: number;
    window: 'paced' | 'loop';
    nodes: number;
    sockets: number;
    casts: number;
    castsPerSecond: number;
    answerP50: number;
    answerP99: number;
    deliveryP50: number;
    deliveryP99: number;
    deliveryMax: number;
    /** Per cast, when its first and its last frame arrived (ms after the POST was sent): p50 and p99 over the casts. */
    firstP50: number;
    firstP99: number;
    lastP50: number;
    lastP99: number;
    deliveries: number;
    missing: number;
    duplicates: number;
    stray: number;
    badAnswers: number;
    badSample?: string;
    serverUs: number;
    serverUserUs: number;
    serverSysUs: number;
    serverSchedUs: number;
    redisUs: number;
    clientUs: number;
    /** Shares of the machine's CPU during the window: stolen by the host, interrupts (loopback packets are softirq work, not charged to any process), and processes outside this run. */
    stealPct: number;
    irqPct: number;
    otherPct: number;
    rssMb: number;
  }

  let windowSeq = 0;
  let prefixSeq = 0;

  async function runSetup(setup: SetupName, pass: number): Promise<WindowRow[]> {
    const nodes = setup === 'three' ? 3 : 1;
    const cluster = setup !== 'off';
    const prefix = `wsgate-bench-${process.pid}-${prefixSeq++}:`;
    const servers: Server[] = [];
    const workers: Worker[] = [];
    const rows: WindowRow[] = [];
    unexpectedCloses = 0;
    console.error(`- pass ${pass}, ${setup}: ${nodes} node(s), cluster ${cluster ? 'on' : 'off'}, ${SOCKETS} sockets`);
    try {
      const ports = await Promise.all(Array.from({ length: nodes }, freePort));
      servers.push(
        ...(await Promise.all(
          ports.map((port, i) => {
            const config = join(work, `${setup}-${pass}-n${i + 1}.json`);
            writeFileSync(
              config,
              JSON.stringify({
                listen: HOST,
                port,
                keepalive: 0,
                hosts: { '*': { module: hooks } },
                ...(cluster ? { cluster: { redis: `redis://${HOST}:${redisPort}`, node: `n${i + 1}`, prefix, heartbeat: 1, ttl: 5, deadline: 1 } } : {}),
              }),
            );
            const command = wsgateCommand('binary', ['serve', '--port', String(port), '--listen', HOST, '--config', config, '--log-level', 'warn'], binary);
            return startServer({ ...command, name: `wsgate n${i + 1}` }, { port, fdNeed: SOCKETS + 1024 });
          }),
        )),
      );
      if (cluster) {
        // Every node must know every other before a cast: a taker waits only for the nodes it knows of.
        const want = ports.map((_, i) => `n${i + 1}`).join(',');
        const deadline = Date.now() + 20_000;
        for (;;) {
          const seen = await Promise.all(ports.map((port) => getJson(port, '/health').then((h) => ((h.cluster?.live ?? []) as string[]).join(','))));
          if (seen.every((s) => s === want)) break;
          if (Date.now() > deadline) throw new Error(`nodes do not all see each other after 20 s: ${seen.join(' | ')}`);
          await sleep(200);
        }
      }
      for (let w = 0; w < WORKERS; w++) workers.push(startWorker());
      // Socket i goes to node i % nodes, and is held by worker i % workers.
      const urls: Array<Array<[number, string]>> = workers.map(() => []);
      for (let i = 0; i < SOCKETS; i++) urls[i % WORKERS]!.push([i, `ws://${HOST}:${ports[i % nodes]}/websocket`]);
      const opened = await Promise.all(
        workers.map((w, i) => {
          w.child.send({ cmd: 'open', urls: urls[i]! } satisfies ToWorker);
          return w.next('opened', 120_000);
        }),
      );
      const open = opened.reduce((n, m) => n + m.open, 0);
      if (open !== SOCKETS) throw new Error(`opened ${open} of ${SOCKETS} sockets: ${opened.flatMap((m) => m.errors).join('; ')}`);
      const health = await getJson(ports[0]!, '/health');
      const total = Object.values((health.sockets ?? {}) as Record<string, { sockets: number }>).reduce((n, h) => n + h.sockets, 0);
      if (total !== SOCKETS) throw new Error(`GET /health counts ${total} sockets, expected ${SOCKETS}: ${JSON.stringify(health).slice(0, 300)}`);
      const perNode = cluster ? Object.entries(health.cluster.nodes as Record<string, { sockets: number }>).map(([n, s]) => `${n}=${s.sockets}`).join(' ') : `n1=${total}`;
      console.error(`  ${SOCKETS} sockets open (${perNode})`);

      const pids = servers.map((s) => s.pid);
      const workerPids = workers.map((w) => w.child.pid!);
      const window = async (kind: WindowRow['window'], count: number, lanes: number, rate: number, measured: boolean): Promise<WindowRow | undefined> => {
        const id = windowSeq++;
        await ask(workers, { cmd: 'reset', window: id, casts: count }, 'reset');
        if (measured) await Promise.all(pids.map((pid) => waitIdle(pid, 10_000)));
        const s0 = pids.map(cpu);
        const r0 = cpu(redis.pid);
        const c0 = workerPids.map(cpu);
        const m0 = machineTicks();
        const self0 = process.cpuUsage();
        const sent = await castWindow(ports, cluster, id, count, lanes, rate);
        const s1 = pids.map(cpu);
        const r1 = cpu(redis.pid);
        const c1 = workerPids.map(cpu);
        const m1 = machineTicks();
        const self1 = process.cpuUsage(self0);
        // Bounded wait for the last frames.
        const want = count * SOCKETS;
        for (let waited = 0; waited < 10_000; waited += 50) {
          const got = (await ask(workers, { cmd: 'count' }, 'count')).reduce((n, c) => n + c.frames, 0);
          if (got >= want) break;
          await sleep(50);
        }
        const reports = await ask(workers, { cmd: 'report' }, 'report', 60_000);
        if (!measured) {
          const bad = reports.reduce((n, r) => n + r.missing + r.duplicates + r.stray, 0) + sent.badAnswers;
          if (bad) console.error(`  warm-up: ${sent.badAnswers} bad answers (${sent.badSample}), ${bad - sent.badAnswers} frames missing/duplicate/stray`);
          return undefined;
        }
        const total = reports.reduce((n, r) => n + r.latencies.length, 0);
        const all = new Float64Array(total);
        let at = 0;
        for (const r of reports) {
          all.set(r.latencies, at);
          at += r.latencies.length;
        }
        all.sort();
        const sorted = Array.from(all);
        const answers = [...sent.answerMs].sort((a, b) => a - b);
        const firsts = Array.from({ length: count }, (_, c) => Math.min(...reports.map((r) => r.first[c]!))).sort((a, b) => a - b);
        const lasts = Array.from({ length: count }, (_, c) => Math.max(...reports.map((r) => r.last[c]!))).sort((a, b) => a - b);
        const sum = (a: ReturnType<typeof cpu>[], b: ReturnType<typeof cpu>[], pick: (c: ReturnType<typeof cpu>) => number) => a.reduce((n, x, i) => n + pick(b[i]!) - pick(x), 0);
        const ourTicks = sum(s0, s1, (c) => c.ticks) + (r1.ticks - r0.ticks) + sum(c0, c1, (c) => c.ticks) + ((self1.user + self1.system) / 1e6) * CLK_TCK;
        const row: WindowRow = {
          setup,
          pass,
          window: kind,
          nodes,
          sockets: SOCKETS,
          casts: count,
          castsPerSecond: (count * 1000) / sent.wallMs,
          answerP50: quantileSorted(answers, 0.5),
          answerP99: quantileSorted(answers, 0.99),
          deliveryP50: quantileSorted(sorted, 0.5),
          deliveryP99: quantileSorted(sorted, 0.99),
          deliveryMax: sorted[sorted.length - 1] ?? Number.NaN,
          firstP50: quantileSorted(firsts, 0.5),
          firstP99: quantileSorted(firsts, 0.99),
          lastP50: quantileSorted(lasts, 0.5),
          lastP99: quantileSorted(lasts, 0.99),
          deliveries: total,
          missing: reports.reduce((n, r) => n + r.missing, 0),
          duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
          stray: reports.reduce((n, r) => n + r.stray, 0),
          badAnswers: sent.badAnswers,
          ...(sent.badSample ? { badSample: sent.badSample } : {}),
          serverUs: ticksToMicros(sum(s0, s1, (c) => c.ticks)) / count,
          serverUserUs: ticksToMicros(sum(s0, s1, (c) => c.userTicks)) / count,
          serverSysUs: ticksToMicros(sum(s0, s1, (c) => c.sysTicks)) / count,
          serverSchedUs: sum(s0, s1, (c) => c.schedNs) / 1000 / count,
          // Redis by schedstat: a few ticks per window, too coarse (its threads live as long as it does, so none is missed).
          redisUs: (r1.schedNs - r0.schedNs) / 1000 / count,
          clientUs: ticksToMicros(sum(c0, c1, (c) => c.ticks)) / count,
          stealPct: (100 * (m1.steal - m0.steal)) / Math.max(1, m1.total - m0.total),
          irqPct: (100 * (m1.irq - m0.irq)) / Math.max(1, m1.total - m0.total),
          otherPct: (100 * Math.max(0, m1.busy - m0.busy - (m1.steal - m0.steal) - (m1.irq - m0.irq) - ourTicks)) / Math.max(1, m1.total - m0.total),
          rssMb: pids.reduce((n, pid) => n + statusKb(pid, 'VmRSS'), 0) / 1024,
        };
        const checks = row.badAnswers + row.missing + row.duplicates + row.stray;
        console.error(
          `  ${kind}: ${fmt(row.castsPerSecond, 0)} casts/s; answer p50 ${fmt(row.answerP50, 2)} / p99 ${fmt(row.answerP99, 2)} ms; ` +
            `delivery p50 ${fmt(row.deliveryP50, 2)} / p99 ${fmt(row.deliveryP99, 2)} ms (${row.deliveries} frames), first p50 ${fmt(row.firstP50, 2)}, last p50 ${fmt(row.lastP50, 2)} ms; ` +
            `server ${fmt(row.serverUs, 0)} µs/cast, redis ${fmt(row.redisUs, 0)}, clients ${fmt(row.clientUs, 0)}; steal ${fmt(row.stealPct, 1)} %, irq ${fmt(row.irqPct, 1)} %, other ${fmt(row.otherPct, 1)} %` +
            (checks ? `; CHECKS FAILED: ${row.badAnswers} bad answers (${row.badSample}), ${row.missing} missing, ${row.duplicates} duplicate, ${row.stray} stray frames` : '; exact'),
        );
        return row;
      };
      if (WARMUP) await window('loop', WARMUP, LANES, 0, false);
      rows.push((await window('paced', PACED, PACED_IN_FLIGHT, RATE, true))!);
      rows.push((await window('loop', LOOP, LANES, 0, true))!);
      if (unexpectedCloses) throw new Error(`${unexpectedCloses} sockets closed unexpectedly`);
      for (const server of servers) if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`a node exited during the run:\n    ${server.logTail.slice(-5).join('\n    ')}`);
    } catch (error) {
      console.error(`  ${setup} failed: ${(error as Error).message}`);
      for (const s of servers) if (s.logTail.length) console.error(`    log: ${s.logTail.slice(-5).join('\n    log: ')}`);
      throw error;
    } finally {
      await stopWorkers(workers);
      await Promise.all(servers.map((s) => s.stop()));
    }
    const warnings = servers.flatMap((s, i) => s.logTail.filter((l) => /\b(WARN|ERROR)\b/.test(l)).map((l) => `n${i + 1}: ${l}`));
    if (warnings.length) console.error(`  server log (warn and up):\n    ${warnings.slice(-8).join('\n    ')}`);
    return rows;
  }

  // ---- the run

  const forward: SetupName[] = ['off', 'on1', 'three'];
  const order: SetupName[] = Array.from({ length: PASSES }, (_, pass) => (pass % 2 === 0 ? forward : [...forward].reverse())).flat();
  console.error(
    `cluster bench: ${SOCKETS} sockets; paced ${PACED} casts at ${RATE}/s; closed loop ${LOOP} casts, ${LANES} lanes; warm-up ${WARMUP}; order ${order.join(', ')}; redis on ${redisPort}`,
  );
  const rows: WindowRow[] = [];
  for (const [i, setup] of order.entries()) rows.push(...(await runSetup(setup, Math.floor(i / forward.length) + 1)));
  await redis.stop();
  const seconds = Math.round((Date.now() - started) / 1000);

  // ---- report

  const v = versions();
  let kernel = '?';
  try {
    kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  } catch {
    // no uname
  }
  const label = (r: WindowRow) => (r.setup === 'off' ? '1 node, cluster off' : r.setup === 'on1' ? '1 node, cluster on' : '3 nodes, cluster on');
  const layout = (r: WindowRow) => (r.nodes === 3 ? `3 × ${SOCKETS / 3}` : `1 × ${SOCKETS}`);
  const exact = (r: WindowRow) =>
    r.badAnswers + r.missing + r.duplicates + r.stray === 0
      ? `yes (${r.casts}/${r.casts} answers sent=${SOCKETS}, ${r.deliveries} frames)`
      : `NO: ${r.badAnswers} bad answers${r.badSample ? ` (${r.badSample.replace(/\|/g, '/').slice(0, 80)})` : ''}, ${r.missing} missing, ${r.duplicates} dup, ${r.stray} stray`;

  console.log(`### Run\n`);
  console.log(`Machine: ${machine()} (nproc ${execFileSync('nproc', { encoding: 'utf8' }).trim()}), kernel ${kernel}; node ${v.node}, bun ${v.bun}, redis ${redisVersion}. Commit ${commit}. Binary: ${binaryNote}. Took ${Math.floor(seconds / 60)} min ${seconds % 60} s.\n`);
  console.log(`${SOCKETS} sockets in every setup, ${WORKERS} client processes; paced window ${PACED} casts at ${RATE}/s (at most ${PACED_IN_FLIGHT} in flight); closed loop ${LOOP} casts over ${LANES} lanes; ${WARMUP} warm-up casts per setup. Order: ${order.join(', ')}.\n`);
  for (const kind of ['paced', 'loop'] as const) {
    console.log(kind === 'paced' ? `**Paced, ${RATE} casts/s offered** (latency without queueing; CPU per cast)\n` : `**Closed loop, ${LANES} lanes** (throughput; latency under that load)\n`);
    console.log('| setup | pass | nodes × sockets | casts/s | answer p50 / p99 ms | delivery p50 / p99 / max ms | first frame p50 / p99 ms | last frame p50 / p99 ms | wsgate CPU µs/cast (user / kernel) | Redis µs/cast | clients µs/cast | steal / irq / other % | exact |');
    console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const r of rows.filter((r) => r.window === kind)) {
      console.log(
        `| ${label(r)} | ${r.pass} | ${layout(r)} | ${fmt(r.castsPerSecond, 0)} | ${fmt(r.answerP50, 2)} / ${fmt(r.answerP99, 2)} | ${fmt(r.deliveryP50, 2)} / ${fmt(r.deliveryP99, 2)} / ${fmt(r.deliveryMax, 1)} | ` +
          `${fmt(r.firstP50, 2)} / ${fmt(r.firstP99, 2)} | ${fmt(r.lastP50, 2)} / ${fmt(r.lastP99, 2)} | ` +
          `${fmt(r.serverUs, 0)} (${fmt(r.serverUserUs, 0)} / ${fmt(r.serverSysUs, 0)}) | ${fmt(r.redisUs, 0)} | ${fmt(r.clientUs, 0)} | ${fmt(r.stealPct, 1)} / ${fmt(r.irqPct, 1)} / ${fmt(r.otherPct, 1)} | ${exact(r)} |`,
      );
    }
    console.log('');
  }

  // Means over the passes, and the comparisons the issue asks for.
  const mean = (setup: SetupName, kind: WindowRow['window'], pick: (r: WindowRow) => number) => {
    const picked = rows.filter((r) => r.setup === setup && r.window === kind).map(pick);
    return picked.reduce((a, b) => a + b, 0) / picked.length;
  };
  const range = (setup: SetupName, kind: WindowRow['window'], pick: (r: WindowRow) => number, digits: number) => {
    const picked = rows.filter((r) => r.setup === setup && r.window === kind).map(pick);
    return picked.length > 1 ? ` (${picked.map((x) => fmt(x, digits)).join(', ')})` : '';
  };
  const figures: Array<[string, WindowRow['window'], (r: WindowRow) => number, number]> = [
    ['casts/s, closed loop', 'loop', (r) => r.castsPerSecond, 0],
    ['answer p50 ms, paced', 'paced', (r) => r.answerP50, 2],
    ['answer p99 ms, paced', 'paced', (r) => r.answerP99, 2],
    ['delivery p50 ms, paced', 'paced', (r) => r.deliveryP50, 2],
    ['delivery p99 ms, paced', 'paced', (r) => r.deliveryP99, 2],
    ['first frame p50 ms, paced', 'paced', (r) => r.firstP50, 2],
    ['last frame p50 ms, paced', 'paced', (r) => r.lastP50, 2],
    ['last frame p99 ms, paced', 'paced', (r) => r.lastP99, 2],
    ['wsgate CPU µs/cast, paced (all nodes)', 'paced', (r) => r.serverUs, 0],
    ['Redis CPU µs/cast, paced', 'paced', (r) => r.redisUs, 0],
    ['answer p50 ms, closed loop', 'loop', (r) => r.answerP50, 2],
    ['delivery p50 ms, closed loop', 'loop', (r) => r.deliveryP50, 2],
    ['delivery p99 ms, closed loop', 'loop', (r) => r.deliveryP99, 2],
    ['wsgate CPU µs/cast, closed loop (all nodes)', 'loop', (r) => r.serverUs, 0],
  ];
  console.log(`**Means of the ${PASSES} passes** (each pass in brackets); "on1 − off" is what the Redis hop costs one node, "three / off" compares the same ${SOCKETS} sockets on three nodes with one node alone.\n`);
  console.log('| figure | 1 node, off | 1 node, on | 3 nodes, on | on1 − off | three / off |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, kind, pick, digits] of figures) {
    const off = mean('off', kind, pick);
    const on1 = mean('on1', kind, pick);
    const three = mean('three', kind, pick);
    console.log(
      `| ${name} | ${fmt(off, digits)}${range('off', kind, pick, digits)} | ${fmt(on1, digits)}${range('on1', kind, pick, digits)} | ${fmt(three, digits)}${range('three', kind, pick, digits)} | ` +
        `${on1 - off >= 0 ? '+' : ''}${fmt(on1 - off, digits)} | ${fmt(three / off, 2)}x |`,
    );
  }
  console.log('');

  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ sockets: SOCKETS, paced: PACED, rate: RATE, loop: LOOP, lanes: LANES, warmup: WARMUP, workers: WORKERS, order, versions: v, redis: redisVersion, commit, binary: binaryNote, kernel, clkTck: CLK_TCK, seconds, rows }, null, 2));
  const failed = rows.some((r) => r.badAnswers + r.missing + r.duplicates + r.stray > 0);
  process.exit(failed ? 1 : 0);
}
