/**
 * A redis-server of the test's own, for the cluster tests: Debian's, on a free
 * loopback port, without persistence. Tests skip with `redisMissing` when the
 * machine has none.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';

/** Why the Redis tests cannot run here, or false when they can. */
export const redisMissing: string | false = spawnSync('redis-server', ['--version']).status === 0 ? false : 'redis-server is not installed (apt-get install redis-server)';

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/**
 * A port free now for a server that binds it only later (a Redis a node is
 * told of before it runs, a replica's or sentinel's port written into a
 * config). Taken below Linux's ephemeral range (32768 and up): there no
 * server another test starts on port 0, and no outgoing connection's own
 * end, can take it in the meantime, nor can a client that keeps connecting
 * to it before it is up end up connected to itself.
 */
export async function laterPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 32000 after 20 tries');
}

export interface RedisServer {
  child: ChildProcess;
  port: number;
  /** SIGKILL, as a crash would: nothing is saved, clients see the connection drop. */
  stop: () => Promise<void>;
}

/**
 * `port`: the port to take; without it a free one, tried again on another
 * when something took it between the look and redis-server's bind (with
 * several test files at a time that happens). `args`: more of redis-server's
 * options (a `--dir` of its own, when it will write snapshots for a replica),
 * or a function of the port taken, for options that name more ports.
 */
export async function startRedis(port?: number, args: string[] | ((port: number) => Promise<string[]>) = []): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const chosen = port ?? (await freePort());
    try {
      return await startRedisOn(chosen, typeof args === 'function' ? await args(chosen) : args);
    } catch (error) {
      if (port !== undefined || attempt === 5 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

async function startRedisOn(port: number, args: string[]): Promise<RedisServer> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * What `form` starts, or, when it fails half-way, nothing left running
 * (`stop` undoes what it started): a live redis-server would keep the test
 * file's process up for good.
 */
export async function formedOrStopped<T>(form: () => Promise<T>, stop: () => Promise<void>): Promise<T> {
  try {
    return await form();
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A redis-server for one describe block, with a client to look inside it; `cleanup`s run last first, before it stops. */
export interface RedisForTests {
  readonly port: number;
  readonly client: Redis;
  cleanup(step: () => Promise<unknown>): void;
}

/** Starts a redis-server before the block's tests and stops it after them (call it inside `describe`). */
export function useRedis(): RedisForTests {
  let port = 0;
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async () => {
    server = await startRedis();
    port = server.port;
    client = new Redis(port, '127.0.0.1');
  });
  after(async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
    client?.disconnect();
    await server?.stop();
  });
  return {
    get port() {
      return port;
    },
    get client() {
      return client!;
    },
    cleanup: (step) => void cleanups.push(step),
  };
}
