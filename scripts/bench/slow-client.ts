/**
 * A client that never reads must cost bounded memory, and casts must keep
 * flowing to everyone else at full speed. One run, two phases on one server:
 * readers only, then readers plus stalled clients; compares the readers'
 * time per cast and the server's peak RSS.
 *
 *   node --import tsx scripts/bench/slow-client.ts [--runtime node|bun|binary] [--readers 50] [--stalled 5] [--rounds 200] [--size 65536]
 */
import { join } from 'node:path';
import { connect, stalledClient } from '../../test/support/client.ts';
import type { Client } from '../../test/support/client.ts';
import { FIXTURES, startServer } from '../../test/support/server.ts';
import { statusKb } from './proc.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const runtime = flag('runtime', 'node');
const readers = Number(flag('readers', '50'));
const stalledCount = Number(flag('stalled', '5'));
const rounds = Number(flag('rounds', '200'));
const size = Number(flag('size', '65536'));
const sendBuffer = 4 << 20;

process.env.WSGATE_TARGET = runtime;
const server = await startServer({ args: ['--log-level', 'info'], config: { limits: { sendBuffer }, hosts: { 's.test': { module: join(FIXTURES, 'hooks.ts') } } } });
const pid = server.child.pid!;
const data = 'd'.repeat(size - 2);

/** Casts `rounds` frames to all, one after the other once every reader has the previous one; per-round ms and peak RSS. */
async function castRounds(clients: Client[]): Promise<{ msPerRound: number; peakRssMb: number }> {
  let peak = statusKb(pid, 'VmRSS');
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    const res = await fetch(`${server.url}/message`, { method: 'POST', body: JSON.stringify({ host: 's.test', data }) });
    await res.text();
    await Promise.all(clients.map((c) => c.next(30_000)));
    if (r % 10 === 0) peak = Math.max(peak, statusKb(pid, 'VmRSS'));
  }
  const ms = (performance.now() - started) / rounds;
  return { msPerRound: ms, peakRssMb: Math.max(peak, statusKb(pid, 'VmRSS')) / 1024 };
}

try {
  const clients: Client[] = [];
  for (let i = 0; i < readers; i++) clients.push(await connect(server.port, { host: 's.test', token: `reader-${i}` }));
  const idleRss = statusKb(pid, 'VmRSS') / 1024;
  await castRounds(clients); // warm-up
  const alone = await castRounds(clients);
  const stalled = await Promise.all(Array.from({ length: stalledCount }, (_, i) => stalledClient(server.port, { host: 's.test', token: `stalled-${i}` })));
  const withStalled = await castRounds(clients);
  const afterDrop = await castRounds(clients);
  const dropped = server.logs.filter((l) => / limit .*code=1013/.test(l)).length;
  for (const s of stalled) s.destroy();
  for (const c of clients) c.ws.terminate();

  console.log(`| runtime | phase | ms per cast round (${readers} readers, ${size} B) | peak RSS MB |`);
  console.log('|---|---|---|---|');
  console.log(`| ${runtime} | readers only | ${alone.msPerRound.toFixed(2)} | ${alone.peakRssMb.toFixed(1)} |`);
  console.log(`| ${runtime} | + ${stalledCount} clients that never read (until dropped) | ${withStalled.msPerRound.toFixed(2)} | ${withStalled.peakRssMb.toFixed(1)} |`);
  console.log(`| ${runtime} | after they were dropped | ${afterDrop.msPerRound.toFixed(2)} | ${afterDrop.peakRssMb.toFixed(1)} |`);
  console.log('');
  console.log(`idle RSS with ${readers} readers: ${idleRss.toFixed(1)} MB; stalled clients dropped with 1013: ${dropped} of ${stalledCount}`);
  console.log(`ratio (with stalled / readers only): time ${(withStalled.msPerRound / alone.msPerRound).toFixed(2)}x, peak RSS ${(withStalled.peakRssMb / alone.peakRssMb).toFixed(2)}x`);
  console.log(`bound: each stalled client may hold at most sendBuffer (${sendBuffer >> 20} MiB) plus one frame before it is dropped`);
} finally {
  await server.stop();
}
