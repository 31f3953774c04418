/**
 * Where a cast's CPU goes when it crosses Redis: one node of the compiled
 * wsgate, cluster off or on, 300 idle sockets, bridge casts to all of them in
 * a closed loop. Besides casts/s and the node's CPU per cast, it counts what
 * the cast bench (cluster.ts) does not: TCP segments the machine sent per
 * cast (/proc/net/snmp OutSegs: frames, ACKs, Redis) and casts per PUBLISH
 * (Redis's own command count). The sockets are held by a child process, as
 * the cast bench's workers hold theirs. Loopback only; a redis-server of its own.
 *
 *   node --import tsx scripts/bench/cluster-hop.ts --binary PATH --mode off|on [--casts 3000] [--lanes 4]
 *
 * Without --binary it uses dist/wsgate (built when missing). Prints one JSON
 * line. Run off and on interleaved, several times: one run moves by 10-20 %
 * on this machine. The gateway is stopped with SIGTERM, so a profiler given
 * through BUN_OPTIONS (`--cpu-prof --cpu-prof-dir=DIR`) writes its file.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { HOST, compiledBinary, freePort, getJson, helpFromDoc, installCleanup, parseFlags, postMessage, sleep, startServer, track, wsgateCommand } from './harness.ts';
import { cpu, ticksToMicros } from './proc.ts';

const SOCKETS = 300;

/** The child's part: open the sockets, say so, and hold them until the parent goes. */
async function holdSockets(port: string): Promise<void> {
  const opened = Array.from({ length: SOCKETS }, (_, i) => {
    const ws = new WebSocket(`ws://${HOST}:${port}/websocket`, { headers: { cookie: `token=hop-${i}` }, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  });
  await Promise.all(opened).then(
    () => process.send!('open'),
    (error: Error) => process.send!(error.message),
  );
  process.on('disconnect', () => process.exit(0));
}

const tcpOutSegs = (): number => {
  const [head, values] = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('Tcp:'))
    .map((line) => line.split(' '));
  return Number(values![head!.indexOf('OutSegs')]);
};

async function main(): Promise<void> {
  helpFromDoc(import.meta.url);
  const flags = parseFlags();
  const mode = flags.get('mode') ?? 'on';
  if (mode !== 'on' && mode !== 'off') throw new Error('--mode: on or off');
  const casts = flags.int('casts', 3000);
  const lanes = flags.int('lanes', 4);
  const binary = compiledBinary(flags.get('binary')).path;
  installCleanup('cluster-hop', 5 * 60 * 1000);
  const work = mkdtempSync(join(tmpdir(), 'wsgate-hop-'));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));

  // redis-server is a link to redis-check-rdb, which looks at argv[0]: start it by its own name, measure the real file.
  const redisPath = execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim();
  const redisPort = await freePort();
  const redis = await startServer(
    { name: 'redis-server', argv: [redisPath, '--port', String(redisPort), '--bind', HOST, '--save', '', '--appendonly', 'no'], exe: realpathSync(redisPath) },
    { port: redisPort, timeoutMs: 10_000 },
  );
  const publishes = () => Number(/cmdstat_publish:calls=(\d+)/.exec(execFileSync('redis-cli', ['-p', String(redisPort), 'info', 'commandstats'], { encoding: 'utf8' }))?.[1] ?? 0);

  const port = await freePort();
  const config = join(work, 'config.json');
  writeFileSync(join(work, 'hooks.mjs'), 'export {};\n');
  const cluster = { redis: `redis://${HOST}:${redisPort}`, node: 'n1', prefix: 'hop:', heartbeat: 1, ttl: 5, deadline: 1 };
  writeFileSync(config, JSON.stringify({ listen: HOST, port, keepalive: 0, hosts: { '*': { module: join(work, 'hooks.mjs') } }, ...(mode === 'on' ? { cluster } : {}) }));
  const gateway = await startServer(wsgateCommand('binary', ['serve', '--port', String(port), '--listen', HOST, '--config', config, '--log-level', 'warn'], binary), { port });
  for (let i = 0; mode === 'on' && !((await getJson(port, '/health')).cluster?.live ?? []).includes('n1'); i++) {
    if (i > 100) throw new Error('the node did not join the cluster within 10 s');
    await sleep(100);
  }

  // A reader in this process would pace the casts.
  const holder = track(spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--hold', String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  await new Promise<void>((resolve, reject) => {
    holder.once('message', (message) => (message === 'open' ? resolve() : reject(new Error(String(message)))));
    holder.once('exit', () => reject(new Error('the socket holder exited')));
  });

  const agent = new Agent({ keepAlive: true, maxSockets: lanes });
  const body = JSON.stringify({ host: HOST, target: 'all', data: { hop: 1 } });
  let wrong = 0;
  const loop = async (count: number) => {
    let left = count;
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (left-- > 0) {
          const { status, text } = await postMessage(agent, port, body, 10_000);
          if (status !== 200 || JSON.parse(text).sent !== SOCKETS) wrong++;
        }
      }),
    );
  };
  const sample = () => ({ gateway: cpu(gateway.pid).ticks, redis: cpu(redis.pid).ticks, segs: tcpOutSegs(), publishes: publishes(), at: performance.now() });

  await loop(500);
  const before = sample();
  await loop(casts);
  const after = sample();
  console.log(
    JSON.stringify({
      mode,
      lanes,
      casts,
      castsPerSecond: Math.round(casts / ((after.at - before.at) / 1000)),
      gatewayUsPerCast: Math.round(ticksToMicros(after.gateway - before.gateway) / casts),
      redisUsPerCast: Math.round(ticksToMicros(after.redis - before.redis) / casts),
      tcpSegmentsPerCast: Math.round((after.segs - before.segs) / casts),
      castsPerPublish: mode === 'on' ? Number((casts / (after.publishes - before.publishes)).toFixed(2)) : null,
      wrongAnswers: wrong,
    }),
  );
  await gateway.stop();
  process.exit(wrong === 0 ? 0 : 1);
}

if (process.argv[2] === '--hold') await holdSockets(process.argv[3]!);
else await main();
