/**
 * Bun: Bun.serve with hono/bun's WebSocket handler, Bun.spawn.
 */
import { realpath, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Hono } from 'hono';
import { upgradeWebSocket, websocket } from 'hono/bun';
import { getConnInfo } from 'hono/bun';
import type { UpgradeWebSocket } from 'hono/ws';
import type { Child, Listener, Runtime, SpawnOptions } from './types.ts';

interface BunSubprocess {
  pid: number;
  stdin: { write(text: string): number; flush(): void; end(): void } | undefined;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<number>;
  signalCode: string | null;
  kill(signal?: number): void;
}
interface BunServer {
  port: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunGlobal {
  serve(options: Record<string, unknown>): BunServer;
  spawn(argv: string[], options: Record<string, unknown>): BunSubprocess;
  file(path: string): { text(): Promise<string>; exists(): Promise<boolean>; size: number };
  argv: string[];
  env: Record<string, string | undefined>;
}
declare const Bun: BunGlobal;
declare const process: {
  on(signal: string, handler: (error: unknown) => void): void;
  exit(code: number): never;
  cwd(): string;
  argv: string[];
  stdout: { write(text: string): void };
  stderr: { write(text: string): void };
};

function spawn(argv: string[], options: SpawnOptions = {}): Child {
  const proc = Bun.spawn(argv, { cwd: options.cwd, env: options.env && { ...Bun.env, ...options.env }, stdin: options.stdin ? 'pipe' : 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const input = proc.stdin;
  return {
    pid: proc.pid,
    stdin: input
      ? {
          write: (text) => {
            try {
              input.write(text);
              input.flush();
            } catch {
              // The worker is gone; its exit is what we act on.
            }
          },
          end: () => {
            try {
              input.end();
            } catch {
              // Already closed.
            }
          },
        }
      : undefined,
    stdout: proc.stdout,
    stderr: proc.stderr,
    exited: proc.exited.then((code) => (proc.signalCode ? null : code)),
    kill: () => proc.kill(9),
  };
}

export const runtime: Runtime = {
  name: 'bun',
  terminate: (raw) => (raw as { terminate(): void }).terminate(),
  bufferedAmount: (raw) => (raw as { getBufferedAmount(): number }).getBufferedAmount(),
  upgradeWebSocket: upgradeWebSocket as UpgradeWebSocket<unknown>,
  async serve(app: Hono, { hostname, port, sockets }) {
    const server = Bun.serve({
      hostname,
      port,
      fetch: app.fetch,
      websocket: {
        ...websocket,
        // Bun closes oversized frames with 1009 itself, and pings idle sockets, closing those that stay silent.
        maxPayloadLength: sockets.maxFrame,
        ...(sockets.keepalive > 0 ? { idleTimeout: sockets.keepalive * 2, sendPings: true } : { idleTimeout: 0 }),
      },
    });
    const listener: Listener = {
      hostname,
      port: server.port,
      async stop() {
        // stop() resolves only once every connection is gone; the gateway closes the sockets itself.
        void server.stop(false);
      },
    };
    return listener;
  },
  async serveHttp(app: Hono, address) {
    if ('path' in address) await unlink(address.path).catch(() => {});
    const server = Bun.serve('path' in address ? { unix: address.path, fetch: app.fetch } : { hostname: address.hostname, port: address.port, fetch: app.fetch });
    return {
      hostname: 'path' in address ? address.path : address.hostname,
      port: 'path' in address ? 0 : server.port,
      async stop() {
        void server.stop(false);
      },
    };
  },
  remoteAddress: (c) => getConnInfo(c).remote.address,
  onStray: (handler) => {
    process.on('unhandledRejection', (error: unknown) => handler(error, 'rejection'));
    process.on('uncaughtException', (error: unknown) => handler(error, 'exception'));
  },
  spawn,
  onSignal: (signal, handler) => process.on(signal, handler),
  args: () => process.argv.slice(2),
  env: (name) => Bun.env[name],
  exit: (code) => process.exit(code),
  readTextFile: (path) => Bun.file(path).text(),
  isFile: async (path) => {
    try {
      const file = Bun.file(path);
      return (await file.exists()) && file.size >= 0;
    } catch {
      return false;
    }
  },
  writeTextFile: (path, text) => writeFile(path, text),
  tempDir: () => tmpdir(),
  realPath: (path) => realpath(path),
  cores: () => navigator.hardwareConcurrency,
  cwd: () => process.cwd(),
  writeOut: (line) => process.stdout.write(`${line}\n`),
  writeErr: (line) => process.stderr.write(`${line}\n`),
};
