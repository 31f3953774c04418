/**
 * Where a cast's CPU goes when it crosses Redis: one node of a compiled
 * wsgate, cluster off or on, 300 idle sockets, bridge casts to all of them in
 * a closed loop. Besides casts/s and the node's CPU per cast, it counts what
 * the cast bench (cluster.ts) does not: TCP segments the machine sent per
 * cast (/proc/net/snmp OutSegs: frames, ACKs, Redis) and casts per PUBLISH
 * (Redis's own command count). The sockets are held by a child process.
 * Loopback only; a redis-server of its own.
 *
 *   node scripts/bench/cluster-hop.mjs BINARY off|on [CASTS=3000] [LANES=4]
 *
 * Prints one JSON line. Run off and on interleaved, several times: one run
 * moves by 10-20 % on this machine.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const SOCKETS = 300;
const HOST = '127.0.0.1';

if (process.argv[2] === '--hold') {
  const port = process.argv[3];
  await Promise.all(
    Array.from({ length: SOCKETS }, (_, i) => {
      const ws = new WebSocket(`ws://${HOST}:${port}/websocket`, { headers: { cookie: `token=hop-${i}` }, perMessageDeflate: false });
      return new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
    }),
  ).then(
    () => process.send('open'),
    (error) => process.send(error.message),
  );
  process.on('disconnect', () => process.exit(0));
  await new Promise(() => {});
}

const [binary, mode = 'on', castsArg = '3000', lanesArg = '4'] = process.argv.slice(2);
if (!binary || !['on', 'off'].includes(mode)) {
  console.error('usage: node scripts/bench/cluster-hop.mjs BINARY off|on [CASTS] [LANES]');
  process.exit(2);
}
const CASTS = Number(castsArg);
const LANES = Number(lanesArg);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
/** utime + stime of a process, µs (10 ms ticks). */
const cpuUs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};
const tcpOutSegs = () => {
  const [head, values] = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((line) => line.startsWith('Tcp:')).map((line) => line.split(' '));
  return Number(values[head.indexOf('OutSegs')]);
};

const work = mkdtempSync(join(tmpdir(), 'wsgate-hop-'));
const children = [];
const cleanup = () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
const timeout = setTimeout(() => {
  console.error('cluster-hop: gave up after 5 minutes');
  process.exit(1);
}, 300_000);

const redisPort = await freePort();
const port = await freePort();
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', HOST, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
children.push(redis);
const publishes = () => Number(/cmdstat_publish:calls=(\d+)/.exec(execFileSync('redis-cli', ['-p', String(redisPort), 'info', 'commandstats'], { encoding: 'utf8' }))?.[1] ?? 0);
for (let i = 0; ; i++) {
  try {
    execFileSync('redis-cli', ['-p', String(redisPort), 'ping'], { stdio: 'ignore' });
    break;
  } catch {
    if (i > 100) throw new Error('redis-server did not start');
    await sleep(50);
  }
}

writeFileSync(join(work, 'hooks.mjs'), 'export {};\n');
const cluster = { redis: `redis://${HOST}:${redisPort}`, node: 'n1', prefix: 'hop:', heartbeat: 1, ttl: 5, deadline: 1 };
writeFileSync(join(work, 'config.json'), JSON.stringify({ listen: HOST, port, keepalive: 0, hosts: { '*': { module: join(work, 'hooks.mjs') } }, ...(mode === 'on' ? { cluster } : {}) }));
const gateway = spawn(binary, ['serve', '--config', join(work, 'config.json'), '--log-level', 'warn'], { stdio: ['ignore', 'inherit', 'inherit'] });
children.push(gateway);
for (let i = 0; ; i++) {
  const health = await fetch(`http://${HOST}:${port}/health`).then((r) => r.json()).catch(() => undefined);
  if (health && (mode === 'off' || (health.cluster?.live ?? []).includes('n1'))) break;
  if (i > 200) throw new Error('the gateway did not come up');
  await sleep(100);
}

// The sockets live in a process of their own, as the cast bench's workers: a reader in this one would pace the casts.
const holder = spawn(process.execPath, [fileURLToPath(import.meta.url), '--hold', String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
children.push(holder);
await new Promise((resolve, reject) => {
  holder.once('message', (message) => (message === 'open' ? resolve() : reject(new Error(String(message)))));
  holder.once('exit', () => reject(new Error('the socket holder exited')));
});

const agent = new http.Agent({ keepAlive: true, maxSockets: LANES });
const body = JSON.stringify({ host: HOST, target: 'all', data: { hop: 1 } });
const cast = () =>
  new Promise((resolve, reject) => {
    const request = http.request({ host: HOST, port, path: '/message', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve(JSON.parse(text)));
    });
    request.on('error', reject);
    request.end(body);
  });
let wrong = 0;
const loop = async (count) => {
  let left = count;
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (left-- > 0) if ((await cast()).sent !== SOCKETS) wrong++;
    }),
  );
};

await loop(500);
const before = { cpu: cpuUs(gateway.pid), redis: cpuUs(redis.pid), segs: tcpOutSegs(), publishes: publishes(), at: performance.now() };
await loop(CASTS);
const after = { cpu: cpuUs(gateway.pid), redis: cpuUs(redis.pid), segs: tcpOutSegs(), publishes: publishes(), at: performance.now() };
clearTimeout(timeout);
console.log(
  JSON.stringify({
    mode,
    lanes: LANES,
    casts: CASTS,
    castsPerSecond: Math.round(CASTS / ((after.at - before.at) / 1000)),
    gatewayUsPerCast: Math.round((after.cpu - before.cpu) / CASTS),
    redisUsPerCast: Math.round((after.redis - before.redis) / CASTS),
    tcpSegmentsPerCast: Math.round((after.segs - before.segs) / CASTS),
    castsPerPublish: mode === 'on' ? Number((CASTS / (after.publishes - before.publishes)).toFixed(2)) : null,
    wrongAnswers: wrong,
  }),
);
// A gentle stop, so a profiler given through BUN_OPTIONS (--cpu-prof) writes its file.
gateway.kill('SIGTERM');
await Promise.race([new Promise((resolve) => gateway.once('exit', resolve)), sleep(5000)]);
process.exit(wrong === 0 ? 0 : 1);
