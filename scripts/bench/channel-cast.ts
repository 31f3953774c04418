/**
 * Channel casts (issue 7): what one `channel:<name>` cast that reaches a
 * channel of 100 sockets costs the SERVER when its host holds few and when it
 * holds many sockets, and what the channel's history adds, in one run.
 *
 *   node --import tsx scripts/bench/channel-cast.ts [flags]
 *
 *   --runtimes a,b    wsgate runtimes: binary,node,bun,deno (default binary,node)
 *   --members N       sockets in each channel (default 100)
 *   --large N         sockets on the measured host at the large scale (default 10000): its channels'
 *                     sockets plus sockets at /websocket, in no channel
 *   --casts N         measured casts per cell (default 500), after --warmup-casts W (default 60; and
 *                     16 W per channel once, unpaced, before the first phase that casts to it, so that
 *                     the JIT has settled: with fewer, Node's first cell came out up to 25% dearer)
 *   --rate R          casts per second offered, paced (default 200; 0: as fast as the lanes go)
 *   --concurrency C   casts in flight at most, one keep-alive connection each (default 4)
 *   --workers W       client processes holding the sockets (default 2)
 *   --no-aware        skip the phase with opted-in (?wsgate=1) clients
 *   --binary PATH     the compiled wsgate (default dist/wsgate, built by build.ts when missing; when it
 *                     is older than src/, the current src/ is compiled to a temporary file instead)
 *   --json FILE       also write every cell, pooled figure and ratio as JSON
 *
 * Per runtime, one server (`wsgate serve`, keepalive pings off, log level
 * warn), one host entry "*" with an empty in-process hook module (no hook
 * runs) and `"channels": {"hist:*": {"history": {"size": 100, "ttl": 300}}}`.
 * Sockets join channels by their path: `/ws/rooms/{room}` -> `room:{room}`
 * (no history), `/ws/hist/{room}` -> `hist:{room}` (history), `/websocket`
 * -> none; each has its own token. Two hosts are served side by side: the
 * measured host 127.0.0.1 and a control host small.test (Host header), each
 * with --members plain sockets in room:a and --members in hist:a. Phases:
 *
 *   1. small:       127.0.0.1 holds 2 × --members sockets;
 *   2. large:       plus sockets at /websocket until 127.0.0.1 holds --large;
 *   3. small-again: those closed again;
 *   4. opted-in:    plus --members sockets in room:b and --members in hist:b on 127.0.0.1 that opted in
 *                   with ?wsgate=1 (they get {"wsgate":"pub",...} envelopes, with epoch and offset on hist:b).
 *
 * Phases 1-3 cast to 127.0.0.1 room:a, 127.0.0.1 hist:a, small.test room:a,
 * small.test hist:a, then the same backwards (A B C D D C B A); phase 4 to
 * room:b, hist:b, hist:b, room:b. The palindrome gives every cell of a
 * phase the same mean time, so a drift linear in time cancels from every
 * comparison. Before each phase: each channel's membership is checked with
 * GET /presence and each host's socket count with GET /health, then the
 * server is left until idle.
 *
 * A cell: --warmup-casts unmeasured casts, then --casts casts, each a
 * `POST /message {"host":H,"target":"channel:<c>","data":{"c":n,"ch":"<c>"}}`
 * at a fixed offered rate (cast k is sent at k / --rate s by the first free
 * lane), so the server sees the same arrival pattern in every cell. Every
 * answer must say `sent: <members>`; by the end every member must have
 * received exactly one frame per cast and every other socket none (the same
 * channel name on the other host included), each frame the cast's data
 * (plain) or its envelope for that channel, with offsets one up from the last
 * on history channels (opted-in). Server CPU per cast = utime+stime of the
 * server over the cells / their casts (10 ms ticks), with schedstat ns as a
 * cross-check. "other %": the share of the machine's CPU that went to
 * processes outside this run during the cells (noise).
 *
 * Ratios (1.00x: no effect):
 *   host size over time     = 127.0.0.1 at --large / 127.0.0.1 in small and small-again (mean), A-B-A in time;
 *   host size side by side  = (127.0.0.1 / small.test in the large phase) / (the same in the small phases):
 *                             interleaved cells, so slow drift in the machine's load cancels;
 *   history                 = the history channel / the channel without, same host and phase.
 *
 * Loopback only; every child is killed on exit; every wait is bounded.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import {
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
  pacedLanes,
  parseFlags,
  postMessage,
  sleep,
  startServer,
  track,
  versions,
  waitIdle,
  withFdLimit,
  withTimeout,
  wsgateCommand,
} from './harness.ts';
import type { Server, WsgateRuntime } from './harness.ts';
import { CLK_TCK, cpu, machineTicks, statusKb, ticksToMicros } from './proc.ts';

const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------- client worker (this file, run with --client-worker)

/** A group of sockets that joined the same channel by their path (or none: "others"). */
interface GroupCount {
  sockets: number;
  /** Frames counted since the last reset, over the group and per socket. */
  total: number;
  min: number;
  max: number;
  /** Frames that were not what the group should get, and the first of them. */
  bad: number;
  badSample?: string;
}

type ToWorker =
  | { cmd: 'open'; url: string; hostHeader?: string; group: string; channel: string | null; aware: boolean; history: boolean; first: number; count: number }
  | { cmd: 'reset' }
  | { cmd: 'count' }
  | { cmd: 'shrink'; group: string }
  | { cmd: 'close' };

type FromWorker =
  | { type: 'opened'; open: number; failed: number; errors: string[] }
  | { type: 'reset' }
  | { type: 'count'; groups: Record<string, GroupCount> }
  | { type: 'shrunk'; open: number }
  | { type: 'closed'; group: string; code: number }
  | { type: 'done' };

function clientWorker(): void {
  interface Held {
    ws: WebSocket;
    group: string;
    frames: number;
    /** Opted-in history channel: the stream's epoch and last offset seen. */
    epoch?: string;
    offset?: number;
  }
  const held = new Set<Held>();
  const bad = new Map<string, { n: number; sample?: string }>();
  let closing = false;
  const send = (message: FromWorker) => {
    if (process.connected) process.send!(message);
  };
  const badFrame = (group: string, why: string) => {
    const b = bad.get(group) ?? { n: 0 };
    b.n++;
    b.sample ??= why.slice(0, 200);
    bad.set(group, b);
  };

  /** Resolves with undefined once the socket is in (opted-in: its `ready` frame came), else with why not. */
  const openOne = (m: Extract<ToWorker, { cmd: 'open' }>, index: number) =>
    new Promise<string | undefined>((resolve) => {
      const headers: Record<string, string> = { cookie: `token=cc-${index}` };
      if (m.hostHeader) headers.host = m.hostHeader;
      const ws = new WebSocket(m.url, { headers, perMessageDeflate: false, handshakeTimeout: 60_000 });
      const socket: Held = { ws, group: m.group, frames: 0 };
      let ready = false;
      const timer = setTimeout(() => settle(`not ready within 60 s`), 60_000);
      const settle = (error?: string) => {
        if (ready) return;
        ready = true;
        clearTimeout(timer);
        if (error === undefined) held.add(socket);
        else ws.terminate();
        resolve(error);
      };
      ws.on('open', () => {
        if (!m.aware) settle();
      });
      ws.on('message', (data) => {
        const text = data.toString();
        let frame: { c?: unknown; ch?: unknown; wsgate?: unknown; channel?: unknown; epoch?: unknown; offset?: unknown; data?: { c?: unknown; ch?: unknown } };
        try {
          frame = JSON.parse(text);
        } catch {
          return badFrame(m.group, `not JSON: ${text}`);
        }
        if (!ready) {
          // Opted in: {"wsgate":"joined","channel":C,"epoch"?,"offset"?} then {"wsgate":"ready"}.
          if (frame.wsgate === 'joined' && frame.channel === m.channel && m.history) {
            if (typeof frame.epoch !== 'string' || typeof frame.offset !== 'number') return settle(`joined without a position: ${text}`);
            socket.epoch = frame.epoch;
            socket.offset = frame.offset;
          } else if (frame.wsgate === 'ready') {
            if (m.history && socket.epoch === undefined) return settle('ready before joined');
            settle();
          } else if (frame.wsgate !== 'joined') badFrame(m.group, `before ready: ${text}`);
          return;
        }
        socket.frames++;
        if (!m.aware) {
          if (frame.wsgate !== undefined || typeof frame.c !== 'number' || frame.ch !== m.channel) badFrame(m.group, text);
          return;
        }
        if (frame.wsgate !== 'pub' || frame.channel !== m.channel || typeof frame.data?.c !== 'number' || frame.data.ch !== m.channel) return badFrame(m.group, text);
        if (!m.history) {
          if (frame.offset !== undefined || frame.epoch !== undefined) badFrame(m.group, `a position on a channel without history: ${text}`);
          return;
        }
        if (frame.epoch !== socket.epoch || frame.offset !== socket.offset! + 1) badFrame(m.group, `expected epoch ${socket.epoch} offset ${socket.offset! + 1}: ${text}`);
        if (typeof frame.offset === 'number') socket.offset = frame.offset;
      });
      ws.on('error', (error) => settle(error.message));
      ws.on('close', (code) => {
        settle(`closed ${code} before it was ready`);
        if (held.delete(socket) && !closing) send({ type: 'closed', group: m.group, code });
      });
    });

  const open = async (m: Extract<ToWorker, { cmd: 'open' }>) => {
    let next = 0;
    let failed = 0;
    const errors = new Set<string>();
    const lane = async () => {
      while (next < m.count) {
        const error = await openOne(m, m.first + next++);
        if (error === undefined) continue;
        failed++;
        if (errors.size < 5) errors.add(error);
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, m.count) }, lane));
    send({ type: 'opened', open: held.size, failed, errors: [...errors] });
  };

  const shrink = async (group: string) => {
    const dropped = [...held].filter((s) => s.group === group);
    await Promise.all(
      dropped.map(
        (s) =>
          new Promise<void>((resolve) => {
            held.delete(s);
            const timer = setTimeout(() => {
              s.ws.terminate();
              resolve();
            }, 15_000);
            s.ws.removeAllListeners('message');
            s.ws.removeAllListeners('close');
            s.ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            s.ws.close(1000);
          }),
      ),
    );
    send({ type: 'shrunk', open: held.size });
  };

  process.on('message', (m: ToWorker) => {
    switch (m.cmd) {
      case 'open':
        void open(m);
        break;
      case 'reset':
        for (const s of held) s.frames = 0;
        bad.clear();
        send({ type: 'reset' });
        break;
      case 'count': {
        const groups: Record<string, GroupCount> = {};
        for (const s of held) {
          const g = (groups[s.group] ??= { sockets: 0, total: 0, min: Number.POSITIVE_INFINITY, max: 0, bad: 0 });
          g.sockets++;
          g.total += s.frames;
          g.min = Math.min(g.min, s.frames);
          g.max = Math.max(g.max, s.frames);
        }
        for (const [group, b] of bad) {
          const g = (groups[group] ??= { sockets: 0, total: 0, min: 0, max: 0, bad: 0 });
          g.bad = b.n;
          g.badSample = b.sample;
        }
        send({ type: 'count', groups });
        break;
      }
      case 'shrink':
        void shrink(m.group);
        break;
      case 'close':
        closing = true;
        for (const s of held) s.ws.terminate();
        send({ type: 'done' });
        setTimeout(() => process.exit(0), 50);
        break;
    }
  });
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(3), 20 * 60 * 1000).unref();
}

if (process.argv.includes('--client-worker')) clientWorker();
else await main();

// ---------------------------------------------------------------- driver

async function main(): Promise<void> {
  helpFromDoc(import.meta.url);
  const flags = parseFlags();
  const RUNTIMES = (flags.list('runtimes') ?? ['binary', 'node']) as WsgateRuntime[];
  const MEMBERS = flags.int('members', 100);
  const LARGE = flags.int('large', 10_000);
  const CASTS = flags.int('casts', 500);
  const WARMUP = flags.int('warmup-casts', 60, 0);
  const RATE = flags.num('rate', 200, 0);
  const CONCURRENCY = flags.int('concurrency', 4);
  const WORKERS = flags.int('workers', 2);
  const AWARE = !flags.has('no-aware');
  const JSON_OUT = flags.get('json');
  for (const r of RUNTIMES) if (!['node', 'bun', 'deno', 'binary'].includes(r)) throw new Error(`--runtimes: unknown runtime ${r}`);
  const SMALL = 2 * MEMBERS;
  if (LARGE <= SMALL) throw new Error(`--large must be more than the ${SMALL} sockets of the two plain channels`);
  /** The measured host (its sockets upgrade with Host: 127.0.0.1) and the control host beside it. */
  const BIG = HOST;
  const CONTROL = 'small.test';

  installCleanup('channel-cast', 15 * 60 * 1000);
  const work = mkdtempSync(join(tmpdir(), 'wsgate-channel-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));

  const HISTORY = { size: 100, ttl: 300 };
  const hooks = join(work, 'no-hooks.mjs');
  writeFileSync(hooks, '// No hooks: every socket is accepted, nothing runs per event.\nexport {};\n');
  const configFile = join(work, 'wsgate.json');
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        listen: HOST,
        port: 0,
        keepalive: 0,
        paths: { '/websocket': { channels: [] }, '/ws/rooms/{room}': { channels: ['room:{room}'] }, '/ws/hist/{room}': { channels: ['hist:{room}'] } },
        hosts: { '*': { module: hooks, channels: { 'hist:*': { history: HISTORY } } } },
      },
      null,
      2,
    ),
  );

  // ------------------------------------------------------------ workers

  interface Worker {
    child: ChildProcess;
    ask<T extends FromWorker['type']>(message: ToWorker, type: T, ms: number): Promise<Extract<FromWorker, { type: T }>>;
  }
  let unexpectedCloses = 0;

  const startWorker = (): Worker => {
    const command = withFdLimit([process.execPath, '--import', 'tsx', SELF, '--client-worker'], LARGE + 1024);
    const child = track(spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const waiting: Array<{ type: string; resolve: (m: FromWorker) => void; reject: (error: Error) => void }> = [];
    child.on('message', (m: FromWorker) => {
      if (m.type === 'closed') return void unexpectedCloses++;
      const i = waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
    });
    child.once('exit', (code) => {
      for (const w of waiting.splice(0)) w.reject(new Error(`client worker exited (${code})`));
    });
    // One command at a time per worker: each answer goes to the one asking for its type.
    return {
      child,
      ask: (message, type, ms) => {
        if (child.exitCode !== null || !child.connected) return Promise.reject(new Error(`client worker exited (${child.exitCode})`));
        const waiter = { type, resolve: (_: FromWorker) => {}, reject: (_: Error) => {} };
        const answered = new Promise<never>((resolve, reject) => {
          waiter.resolve = resolve as unknown as (m: FromWorker) => void;
          waiter.reject = reject;
          waiting.push(waiter);
        });
        child.send(message);
        return withTimeout(answered, ms, `client worker ${type}`).finally(() => {
          const i = waiting.indexOf(waiter);
          if (i >= 0) waiting.splice(i, 1);
        });
      },
    };
  };

  interface Group {
    /** Unique: the host's label and the channel ("big room:a", "control hist:a", "big others"). */
    name: string;
    host: string;
    path: string;
    channel: string | null;
    history: boolean;
    aware: boolean;
    size: number;
  }
  let nextIndex = 0;

  /** Opens a group's sockets, spread over the workers. */
  const openGroup = async (workers: Worker[], port: number, group: Group) => {
    const url = `ws://${HOST}:${port}${group.path}${group.aware ? '?wsgate=1' : ''}`;
    const asked: Array<Promise<Extract<FromWorker, { type: 'opened' }>>> = [];
    for (const [w, worker] of workers.entries()) {
      const share = Math.floor(group.size / workers.length) + (w < group.size % workers.length ? 1 : 0);
      if (share === 0) continue;
      const hostHeader = group.host === HOST ? undefined : group.host;
      asked.push(worker.ask({ cmd: 'open', url, hostHeader, group: group.name, channel: group.channel, aware: group.aware, history: group.history, first: nextIndex, count: share }, 'opened', 300_000));
      nextIndex += share;
    }
    const opened = await Promise.all(asked);
    const failed = opened.reduce((n, m) => n + m.failed, 0);
    if (failed) throw new Error(`${group.name}: ${failed} of ${group.size} sockets failed to open (${opened.flatMap((m) => m.errors).join('; ')})`);
  };

  const counts = async (workers: Worker[]): Promise<Record<string, GroupCount>> => {
    const out: Record<string, GroupCount> = {};
    for (const { groups } of await Promise.all(workers.map((w) => w.ask({ cmd: 'count' }, 'count', 10_000)))) {
      for (const [name, g] of Object.entries(groups)) {
        const o = out[name];
        if (!o) out[name] = { ...g };
        else {
          o.sockets += g.sockets;
          o.total += g.total;
          o.min = Math.min(o.min, g.min);
          o.max = Math.max(o.max, g.max);
          o.bad += g.bad;
          o.badSample ??= g.badSample;
        }
      }
    }
    return out;
  };

  const reset = (workers: Worker[]) => Promise.all(workers.map((w) => w.ask({ cmd: 'reset' }, 'reset', 10_000)));

  /** Waits (bounded) until `group` has counted `frames` frames in all; returns the counts. */
  const landed = async (workers: Worker[], group: Group, frames: number) => {
    let c = await counts(workers);
    for (let waited = 0; (c[group.name]?.total ?? 0) < frames && waited < 10_000; waited += 50) {
      await sleep(50);
      c = await counts(workers);
    }
    return c;
  };

  const stopWorkers = (workers: Worker[]) =>
    Promise.all(
      workers.map(async (w) => {
        if (w.child.exitCode !== null) return;
        await w.ask({ cmd: 'close' }, 'done', 10_000).catch(() => {});
        await sleep(100);
        w.child.kill('SIGKILL');
      }),
    );


  /** The server's own view: each channel's members (GET /presence) and each host's sockets (GET /health). */
  const checkServer = async (port: number, groups: Group[]) => {
    const perHost = new Map<string, number>();
    for (const g of groups) {
      perHost.set(g.host, (perHost.get(g.host) ?? 0) + g.size);
      if (!g.channel) continue;
      const p = await getJson(port, `/presence?host=${g.host}&channel=${encodeURIComponent(g.channel)}`);
      if (p.sockets !== g.size) throw new Error(`GET /presence: ${g.channel} of ${g.host} has ${String(p.sockets)} members, expected ${g.size}`);
    }
    const h = (await getJson(port, '/health')) as { hosts?: Record<string, { sockets: number }> };
    for (const [host, want] of perHost) {
      const held = h.hosts?.[host]?.sockets;
      if (held !== want) throw new Error(`GET /health: host ${host} holds ${held} sockets, expected ${want}`);
    }
  };

  // ------------------------------------------------------------ casting

  /** `count` casts to a group's channel, paced at `rate`/s (0: unpaced), at most CONCURRENCY in flight; returns the POST answer times (ms). */
  const cast = async (port: number, group: Group, count: number, rate = RATE): Promise<number[]> => {
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const channel = group.channel!;
    const times: number[] = [];
    try {
      await pacedLanes(count, CONCURRENCY, rate, async (k) => {
        const body = JSON.stringify({ host: group.host, target: `channel:${channel}`, data: { c: k, ch: channel } });
        const t0 = performance.now();
        const answer = await postMessage(agent, port, body, 30_000);
        times.push(performance.now() - t0);
        if (answer.status !== 200) throw new Error(`POST /message answered ${answer.status}: ${answer.text.slice(0, 200)}`);
        const sent = (JSON.parse(answer.text) as { sent?: number }).sent;
        if (sent !== group.size) throw new Error(`${group.name}: the server says it sent ${sent}, expected ${group.size}`);
      });
    } finally {
      agent.destroy();
    }
    return times;
  };

  // ------------------------------------------------------------ measuring

  type Phase = 'small' | 'large' | 'small-again' | 'opted-in';
  type HostLabel = 'big' | 'control';
  /** One cell: CASTS casts to one channel. */
  interface Row {
    server: string;
    runtime: WsgateRuntime;
    phase: Phase;
    host: HostLabel;
    channel: string;
    history: boolean;
    clients: 'plain' | 'opted-in';
    hostSockets: number;
    casts: number;
    ticks: number;
    userTicks: number;
    sysTicks: number;
    schedNs: number;
    cpuUsPerCast: number;
    castsPerSecond: number;
    postP50Ms: number;
    /** Share of the machine's CPU used by processes outside this run during the cell, in %. */
    otherPct: number;
    rssKb: number;
    error?: string;
  }

  /** CPU ticks of the server, the client workers and this driver. */
  const runTicks = (pids: number[]) => {
    let ticks = 0;
    for (const pid of pids) {
      try {
        ticks += cpu(pid).ticks;
      } catch {
        // gone
      }
    }
    const own = process.cpuUsage();
    return ticks + ((own.user + own.system) / 1e6) * CLK_TCK;
  };

  const measure = async (server: Server, runtime: WsgateRuntime, workers: Worker[], open: Group[], phase: Phase, group: Group): Promise<Row> => {
    const name = `wsgate-${runtime}`;
    const pids = [server.pid, ...workers.map((w) => w.child.pid!)];
    await reset(workers);
    if (WARMUP > 0) {
      await cast(server.port, group, WARMUP);
      await landed(workers, group, WARMUP * group.size);
    }
    await reset(workers);
    const m0 = machineTicks();
    const t0 = runTicks(pids);
    const a = cpu(server.pid);
    const started = performance.now();
    const times = await cast(server.port, group, CASTS);
    const ms = performance.now() - started;
    const b = cpu(server.pid);
    const t1 = runTicks(pids);
    const m1 = machineTicks();
    const c = await landed(workers, group, CASTS * group.size);
    const row: Row = {
      server: name,
      runtime,
      phase,
      host: group.host === BIG ? 'big' : 'control',
      channel: group.channel!,
      history: group.history,
      clients: group.aware ? 'opted-in' : 'plain',
      hostSockets: open.filter((g) => g.host === group.host).reduce((n, g) => n + g.size, 0),
      casts: CASTS,
      ticks: b.ticks - a.ticks,
      userTicks: b.userTicks - a.userTicks,
      sysTicks: b.sysTicks - a.sysTicks,
      schedNs: b.schedNs - a.schedNs,
      cpuUsPerCast: ticksToMicros(b.ticks - a.ticks) / CASTS,
      castsPerSecond: (CASTS * 1000) / ms,
      postP50Ms: median(times),
      otherPct: (100 * Math.max(0, m1.busy - m0.busy - (t1 - t0))) / Math.max(1, m1.total - m0.total),
      rssKb: statusKb(server.pid, 'VmRSS'),
    };
    // Exactly one frame per cast on every member, nothing on any other socket (same channel name on the other host included), nothing malformed.
    const problems: string[] = [];
    for (const g of open) {
      const got = c[g.name];
      if (!got) {
        problems.push(`${g.name}: no socket open`);
        continue;
      }
      const want = g === group ? CASTS : 0;
      if (got.sockets !== g.size) problems.push(`${g.name}: ${got.sockets} sockets open, expected ${g.size}`);
      if (got.min !== want || got.max !== want) problems.push(`${g.name}: each socket got ${got.min}–${got.max} frames, expected ${want}`);
      if (got.bad) problems.push(`${g.name}: ${got.bad} unexpected frames, e.g. ${got.badSample}`);
    }
    if (problems.length) row.error = problems.join('; ');
    console.error(
      `  ${name} ${phase} ${group.name} (${row.clients}${group.history ? ', history' : ''}; host holds ${row.hostSockets}): ${fmt(row.cpuUsPerCast, 1)} µs/cast server CPU ` +
        `(${row.ticks} ticks; schedstat ${fmt(row.schedNs / 1000 / CASTS, 1)}), ${fmt(row.castsPerSecond, 0)} casts/s, other load ${fmt(row.otherPct, 1)} %${row.error ? `; ${row.error}` : ''}`,
    );
    return row;
  };

  const runRuntime = async (runtime: WsgateRuntime, binary: string | undefined): Promise<Row[]> => {
    const rows: Row[] = [];
    const port = await freePort();
    const command = wsgateCommand(runtime, ['serve', '--port', String(port), '--listen', HOST, '--config', configFile, '--log-level', 'warn'], binary);
    console.error(`- ${command.name}: starting`);
    const failed = (message: string, phase: Phase): Row => ({ server: command.name, runtime, phase, error: message }) as Row;
    let server: Server;
    try {
      server = await startServer(command, { port, fdNeed: LARGE + 4 * MEMBERS + 1024 });
    } catch (error) {
      console.error(`  ${command.name} failed to start: ${(error as Error).message}`);
      return [failed((error as Error).message, 'small')];
    }
    const workers = Array.from({ length: Math.min(WORKERS, MEMBERS) }, startWorker);
    unexpectedCloses = 0;
    nextIndex = 0;
    const group = (host: string, path: string, channel: string | null, aware = false, size = MEMBERS): Group => ({
      name: `${host === BIG ? 'big' : 'control'} ${channel ?? 'others'}`,
      host,
      path,
      channel,
      history: channel?.startsWith('hist:') === true,
      aware,
      size,
    });
    const room = group(BIG, '/ws/rooms/a', 'room:a');
    const hist = group(BIG, '/ws/hist/a', 'hist:a');
    const controlRoom = group(CONTROL, '/ws/rooms/a', 'room:a');
    const controlHist = group(CONTROL, '/ws/hist/a', 'hist:a');
    const others = group(BIG, '/websocket', null, false, LARGE - SMALL);
    const awareRoom = group(BIG, '/ws/rooms/b', 'room:b', true);
    const awareHist = group(BIG, '/ws/hist/b', 'hist:b', true);
    let phase: Phase = 'small';
    // Unpaced, so it takes little time; waited for until every frame landed, so none arrives after the next reset.
    const warmUp = async (groups: Group[]) => {
      for (const g of groups) {
        await reset(workers);
        await cast(server.port, g, 16 * WARMUP, 0);
        await landed(workers, g, 16 * WARMUP * g.size);
      }
    };
    const run = async (name: Phase, open: Group[], cells: Group[]) => {
      phase = name;
      await checkServer(server.port, open);
      const idleMs = await waitIdle(server.pid);
      console.error(`  ${phase}: ${open.filter((g) => g.host === BIG).reduce((n, g) => n + g.size, 0)} sockets on ${BIG}, ${open.filter((g) => g.host === CONTROL).reduce((n, g) => n + g.size, 0)} on ${CONTROL} (idle after ${idleMs} ms)`);
      for (const g of cells) rows.push(await measure(server, runtime, workers, open, name, g));
    };
    // Palindromic order (A B C D D C B A): a drift linear in time weighs every cell alike.
    const palindrome = (order: Group[]) => [...order, ...[...order].reverse()];
    try {
      const plain = [room, hist, controlRoom, controlHist];
      for (const g of plain) await openGroup(workers, server.port, g);
      // A longer warm-up once, so the JIT has settled before anything is measured.
      await warmUp(plain);
      await run('small', plain, palindrome(plain));
      await openGroup(workers, server.port, others);
      await run('large', [...plain, others], palindrome(plain));
      await Promise.all(workers.map((w) => w.ask({ cmd: 'shrink', group: others.name }, 'shrunk', 120_000)));
      await run('small-again', plain, palindrome(plain));
      if (AWARE) {
        await openGroup(workers, server.port, awareRoom);
        await openGroup(workers, server.port, awareHist);
        await warmUp([awareRoom, awareHist]);
        await run('opted-in', [...plain, awareRoom, awareHist], palindrome([awareRoom, awareHist]));
      }
      if (unexpectedCloses) throw new Error(`${unexpectedCloses} sockets closed unexpectedly`);
    } catch (error) {
      console.error(`  ${command.name} failed: ${(error as Error).message}\n    ${server.logTail.slice(-5).join('\n    ')}`);
      rows.push(failed((error as Error).message, phase));
    } finally {
      await stopWorkers(workers);
      await server.stop();
    }
    return rows;
  };

  // ------------------------------------------------------------ run

  const started = Date.now();
  let binary: { path: string; note: string } | undefined;
  if (RUNTIMES.includes('binary')) {
    binary = compiledBinary(flags.get('binary'));
    if (!flags.get('binary') && binary.note.includes('OLDER')) {
      // An old dist/wsgate may lack what is measured here (channel history): compile the current src/ instead.
      binary = { path: buildBinary(join(work, 'wsgate')), note: `the current src/ compiled to a temporary file (dist/wsgate is older than src/)` };
    }
  }
  console.error(
    `channel-cast: channels of ${MEMBERS}; ${BIG} holds ${SMALL} -> ${LARGE} -> ${SMALL}${AWARE ? ` -> ${SMALL + 2 * MEMBERS} (opted-in)` : ''} sockets, ${CONTROL} ${SMALL}; ` +
      `${CASTS} casts (+${WARMUP} warm-up) per cell, ${RATE ? `${RATE}/s offered, ` : ''}at most ${CONCURRENCY} in flight; CLK_TCK=${CLK_TCK}`,
  );
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) rows.push(...(await runRuntime(runtime, binary?.path)));

  // ------------------------------------------------------------ pooling and ratios

  /** The cells of one (runtime, phase, host, channel), pooled: CPU summed over them / casts summed. */
  interface Pooled extends Pick<Row, 'server' | 'runtime' | 'phase' | 'host' | 'channel' | 'history' | 'clients' | 'hostSockets' | 'casts' | 'ticks' | 'cpuUsPerCast'> {
    cells: number;
    userUsPerCast: number;
    sysUsPerCast: number;
    schedUsPerCast: number;
    cellUs: number[];
    postP50Ms: number;
    otherPct: number;
    rssKb: number;
  }
  const pooled: Pooled[] = [];
  for (const r of rows) {
    if (r.error || !r.casts) continue;
    let p = pooled.find((q) => q.runtime === r.runtime && q.phase === r.phase && q.host === r.host && q.channel === r.channel);
    if (!p) {
      p = { ...r, cells: 0, casts: 0, ticks: 0, cpuUsPerCast: 0, userUsPerCast: 0, sysUsPerCast: 0, schedUsPerCast: 0, cellUs: [], postP50Ms: 0, otherPct: 0, rssKb: 0 };
      pooled.push(p);
    }
    p.cells++;
    p.casts += r.casts;
    p.ticks += r.ticks;
    p.userUsPerCast += ticksToMicros(r.userTicks);
    p.sysUsPerCast += ticksToMicros(r.sysTicks);
    p.schedUsPerCast += r.schedNs / 1000;
    p.cellUs.push(r.cpuUsPerCast);
    p.postP50Ms += r.postP50Ms;
    p.otherPct += r.otherPct;
    p.rssKb = Math.max(p.rssKb, r.rssKb);
  }
  for (const p of pooled) {
    p.cpuUsPerCast = ticksToMicros(p.ticks) / p.casts;
    p.userUsPerCast /= p.casts;
    p.sysUsPerCast /= p.casts;
    p.schedUsPerCast /= p.casts;
    p.postP50Ms /= p.cells;
    p.otherPct /= p.cells;
  }
  const at = (runtime: WsgateRuntime, phase: Phase, host: HostLabel, channel: string) =>
    pooled.find((p) => p.runtime === runtime && p.phase === phase && p.host === host && p.channel === channel);
  const mean = (values: number[]) => values.reduce((x, y) => x + y, 0) / values.length;

  interface SizeSummary {
    server: string;
    channel: string;
    /** Over time: the big host at LARGE / the big host at SMALL (mean of small and small-again). */
    smallUs: number;
    largeUs: number;
    ratio: number;
    schedRatio: number;
    /** Side by side: big / control in the large phase, over big / control in the small phases. */
    sideBySide: number;
    sideBySideSmall: number;
    ratioSideBySide: number;
  }
  interface HistorySummary {
    server: string;
    phase: Phase;
    host: HostLabel;
    clients: 'plain' | 'opted-in';
    hostSockets: number;
    offUs: number;
    onUs: number;
    ratio: number;
    diffUs: number;
    schedRatio: number;
  }
  const sizes: SizeSummary[] = [];
  const histories: HistorySummary[] = [];
  for (const runtime of RUNTIMES) {
    for (const channel of ['room:a', 'hist:a']) {
      const small = (['small', 'small-again'] as const).map((phase) => ({ big: at(runtime, phase, 'big', channel), control: at(runtime, phase, 'control', channel) }));
      const large = { big: at(runtime, 'large', 'big', channel), control: at(runtime, 'large', 'control', channel) };
      if (!large.big || !large.control || small.some((s) => !s.big || !s.control)) continue;
      const smallUs = mean(small.map((s) => s.big!.cpuUsPerCast));
      const sideBySideSmall = mean(small.map((s) => s.big!.cpuUsPerCast / s.control!.cpuUsPerCast));
      const sideBySide = large.big.cpuUsPerCast / large.control.cpuUsPerCast;
      sizes.push({
        server: `wsgate-${runtime}`,
        channel,
        smallUs,
        largeUs: large.big.cpuUsPerCast,
        ratio: large.big.cpuUsPerCast / smallUs,
        schedRatio: large.big.schedUsPerCast / mean(small.map((s) => s.big!.schedUsPerCast)),
        sideBySide,
        sideBySideSmall,
        ratioSideBySide: sideBySide / sideBySideSmall,
      });
    }
    for (const phase of ['small', 'large', 'small-again', 'opted-in'] as const) {
      for (const host of ['big', 'control'] as const) {
        const [offName, onName] = phase === 'opted-in' ? ['room:b', 'hist:b'] : ['room:a', 'hist:a'];
        const off = at(runtime, phase, host, offName);
        const on = at(runtime, phase, host, onName);
        if (!off || !on) continue;
        histories.push({
          server: `wsgate-${runtime}`,
          phase,
          host,
          clients: on.clients,
          hostSockets: on.hostSockets,
          offUs: off.cpuUsPerCast,
          onUs: on.cpuUsPerCast,
          ratio: on.cpuUsPerCast / off.cpuUsPerCast,
          diffUs: on.cpuUsPerCast - off.cpuUsPerCast,
          schedRatio: on.schedUsPerCast / off.schedUsPerCast,
        });
      }
    }
  }

  // ------------------------------------------------------------ report

  const v = versions();
  const hostName = (h: HostLabel) => (h === 'big' ? BIG : CONTROL);
  console.log(`## Channel casts: ${MEMBERS} members per cast; ${BIG} at ${SMALL} -> ${LARGE} -> ${SMALL} sockets beside ${CONTROL} at ${SMALL}; history on and off\n`);
  console.log(
    `Machine: ${machine()}; node ${v.node}, bun ${v.bun}; binary: ${binary?.note ?? 'not used'}; ${CASTS} casts per cell (+${WARMUP} warm-up), ` +
      `${RATE ? `${RATE} casts/s offered, ` : ''}at most ${CONCURRENCY} in flight; took ${Math.round((Date.now() - started) / 1000)} s.\n`,
  );
  console.log('| server | phase | host (sockets) | channel | clients | history | server CPU µs/cast | cells | user / kernel µs | schedstat µs | ticks | POST p50 ms | other % | RSS MB |');
  console.log('|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of pooled) {
    console.log(
      `| ${p.server} | ${p.phase} | ${hostName(p.host)} (${p.hostSockets}) | ${p.channel} | ${p.clients} | ${p.history ? 'on' : 'off'} | ${fmt(p.cpuUsPerCast, 1)} | ` +
        `${p.cellUs.map((u) => fmt(u, 0)).join(', ')} | ${fmt(p.userUsPerCast, 0)} / ${fmt(p.sysUsPerCast, 0)} | ${fmt(p.schedUsPerCast, 1)} | ${p.ticks} | ${fmt(p.postP50Ms, 3)} | ${fmt(p.otherPct, 1)} | ${fmt(p.rssKb / 1024, 1)} |`,
    );
  }
  for (const r of rows.filter((r) => r.error)) console.log(`\nFAILED: ${r.server} ${r.phase}${r.channel ? ` ${r.host} ${r.channel}` : ''}: ${r.error}`);
  console.log(`\nHost size: does a cast to a channel of ${MEMBERS} cost more when its host holds ${LARGE} sockets instead of ${SMALL}?\n`);
  console.log(`| server | channel | ${BIG} at ${SMALL}, µs/cast (mean of small, small-again) | at ${LARGE} | ratio over time | schedstat | ${BIG} / ${CONTROL}, small phases | same, large phase | ratio side by side |`);
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of sizes) {
    console.log(
      `| ${s.server} | ${s.channel} | ${fmt(s.smallUs, 1)} | ${fmt(s.largeUs, 1)} | ${fmt(s.ratio, 2)}x | ${fmt(s.schedRatio, 2)}x | ${fmt(s.sideBySideSmall, 2)} | ${fmt(s.sideBySide, 2)} | ${fmt(s.ratioSideBySide, 2)}x |`,
    );
  }
  console.log('\nHistory: µs/cast on the channel with history (size 100, ttl 300) / on the one without, same host, same phase, cells interleaved.\n');
  console.log('| server | phase | host (sockets) | clients | no history µs/cast | history µs/cast | ratio | difference µs | schedstat ratio |');
  console.log('|---|---|---|---|---:|---:|---:|---:|---:|');
  for (const h of histories) {
    console.log(
      `| ${h.server} | ${h.phase} | ${hostName(h.host)} (${h.hostSockets}) | ${h.clients} | ${fmt(h.offUs, 1)} | ${fmt(h.onUs, 1)} | ${fmt(h.ratio, 2)}x | ${h.diffUs >= 0 ? '+' : ''}${fmt(h.diffUs, 1)} | ${fmt(h.schedRatio, 2)}x |`,
    );
  }
  console.log(`\nCPU per cast includes the whole POST /message (HTTP parse, JSON, validation, answer) and the ${MEMBERS} frames written.`);
  if (JSON_OUT) {
    writeFileSync(
      JSON_OUT,
      JSON.stringify(
        { members: MEMBERS, small: SMALL, large: LARGE, casts: CASTS, warmup: WARMUP, rate: RATE, concurrency: CONCURRENCY, history: HISTORY, clkTck: CLK_TCK, versions: v, binary: binary?.note, rows, pooled, sizes, histories },
        null,
        2,
      ),
    );
  }
  process.exit(rows.some((r) => r.error) ? 1 : 0);
}
