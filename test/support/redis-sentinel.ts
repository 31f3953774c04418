/**
 * A Redis Sentinel group of the test's own: a master, one replica and one
 * sentinel (Debian's redis-server in `--sentinel` mode), on free loopback
 * ports, without persistence. `failover()` asks the sentinel to promote the
 * replica and resolves once it says the master moved.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formedOrStopped, laterPort, startRedis } from './redis.ts';
import type { RedisServer } from './redis.ts';

export interface SentinelGroup {
  /** The URL wsgate takes: redis+sentinel://127.0.0.1:<sentinel>/mymaster. */
  url: string;
  /** The port of the master now. */
  masterPort(): number;
  /** Promotes the replica; resolves when the sentinel announces the switch. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

/** A process whose output is kept, with a way to wait for a line of it. */
function watched(child: ChildProcess): { waitFor(pattern: RegExp, ms: number): Promise<string>; output(): string } {
  let output = '';
  const waiting = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const wake of [...waiting]) wake();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return {
    output: () => output,
    waitFor(pattern, ms) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (!match) return;
          waiting.delete(check);
          clearTimeout(timer);
          resolve(match[0]);
        };
        const timer = setTimeout(() => {
          waiting.delete(check);
          reject(new Error(`no ${pattern} within ${ms} ms:\n${output.slice(-2000)}`));
        }, ms);
        waiting.add(check);
        check();
      });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

export async function startSentinelGroup(): Promise<SentinelGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-sentinel-'));
  const started: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of started.reverse()) await step();
    rmSync(dir, { recursive: true, force: true });
  };
  return formedOrStopped(() => formGroup(dir, started, stop), stop);
}

async function formGroup(dir: string, started: Array<() => Promise<void>>, stop: () => Promise<void>): Promise<SentinelGroup> {
  // Each server in its own dir: a master writes a snapshot for its replica's sync, and a replica loads any dump.rdb it finds.
  const master: RedisServer = await startRedis(undefined, ['--dir', dir]);
  started.push(master.stop);
  const first = master.port;
  // Bound only later (the sentinel once the replica synced): out of the range other tests' servers take theirs from.
  const [second, sentinelPort] = [await laterPort(), await laterPort()];
  const replica = spawn('redis-server', ['--port', String(second), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--replicaof', '127.0.0.1', String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(() => stopChild(replica));
  const replicaOut = watched(replica);
  await replicaOut.waitFor(/MASTER <-> REPLICA sync: Finished with success|Successful partial resynchronization/, 20_000);
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its file as it learns: it must be writable, and its own.
  writeFileSync(
    conf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${first} 1`,
      'sentinel down-after-milliseconds mymaster 1000',
      'sentinel failover-timeout mymaster 5000',
      'sentinel parallel-syncs mymaster 1',
      '',
    ].join('\n'),
  );
  const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(() => stopChild(sentinel));
  const sentinelOut = watched(sentinel);
  await sentinelOut.waitFor(/\+monitor master mymaster/, 20_000);
  // A failover needs a replica the sentinel knows of.
  await sentinelOut.waitFor(/\+slave slave 127\.0\.0\.1:\d+/, 20_000);
  let current = first;
  return {
    url: `redis+sentinel://127.0.0.1:${sentinelPort}/mymaster`,
    masterPort: () => current,
    async failover() {
      const switched = sentinelOut.waitFor(/\+switch-master mymaster 127\.0\.0\.1 \d+ 127\.0\.0\.1 (\d+)/, 30_000);
      const asked = spawn('redis-cli', ['-p', String(sentinelPort), 'SENTINEL', 'failover', 'mymaster'], { stdio: 'ignore' });
      await new Promise((resolve) => asked.once('exit', resolve));
      const line = await switched;
      current = Number(/(\d+)$/.exec(line)![1]);
    },
    stop,
  };
}
