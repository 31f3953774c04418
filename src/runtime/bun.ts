/**
 * Bun: Bun.serve with a WebSocket handler of our own (hono/bun's keeps two URL
 * objects per socket), Bun.spawn. With TLS, a new certificate means a new
 * Bun.serve on the same port (SO_REUSEPORT), which takes the new connections
 * while the old one stops accepting and keeps its sockets: Bun cannot swap a
 * server's certificate (server.reload() ignores `tls`).
 */
import { realpath, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Context, Hono } from 'hono';
import { getConnInfo } from 'hono/bun';
import { createWSMessageEvent } from 'hono/ws';
import type { UpgradeWebSocket, WSContext, WSEvents } from 'hono/ws';
import { killGroup, trackGroup } from './groups.ts';
import { protocolCloseCode } from './close-code.ts';
import { followUntilAnswered } from './request-watch.ts';
import type { Child, Listener, OutFrame, Runtime, SpawnOptions, TlsPem, Wire } from './types.ts';

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
  publish(topic: string, data: string): number;
  readonly pendingWebSockets: number;
  readonly pendingRequests: number;
}
interface BunSocket {
  /** What the upgrade gave it: the socket's event handlers, and (with TLS) the server that accepted it. */
  data: WSEvents<unknown> & { [OWNER]?: BunServer };
  /** Bytes sent; -1: queued behind backpressure; 0: dropped. */
  send(data: OutFrame): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  getBufferedAmount(): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** To every subscriber of the topic but this socket. */
  publish(topic: string, data: string): number;
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
  stdout: { write(text: string): void; isTTY?: boolean };
  stderr: { write(text: string): void; isTTY?: boolean };
};

function spawn(argv: string[], options: SpawnOptions = {}): Child {
  // detached: Bun calls setsid() in the child, which makes it a process group leader.
  const proc = Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env && { ...Bun.env, ...options.env },
    stdin: options.stdin ? 'pipe' : 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    detached: options.group === true,
  });
  const input = proc.stdin;
  const exited = proc.exited.then((code) => (proc.signalCode ? null : code));
  const group = options.group ? proc.pid : undefined;
  if (group) trackGroup(group, exited);
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
    exited,
    kill: () => (group ? killGroup(group, () => proc.kill(9)) : proc.kill(9)),
  };
}

// Which server accepted a socket, where more than one may have sockets (TLS): kept on the socket's data.
const OWNER = Symbol('server');
let tagOwner = false;

/**
 * Like hono/bun's upgradeWebSocket, but Bun keeps only the handlers as the
 * socket's data: hono/bun's adds a URL object per socket that wsgate never reads.
 */
const upgradeWebSocket = ((c: Context, events: WSEvents<unknown>) => {
  const bun = c.env as { upgrade(request: Request, options: { data: unknown }): boolean };
  if (tagOwner) (events as BunSocket['data'])[OWNER] = bun as unknown as BunServer;
  if (bun.upgrade(c.req.raw, { data: events })) return Promise.resolve(new Response(null));
  return Promise.reject(new Error('Failed to upgrade WebSocket'));
}) as unknown as UpgradeWebSocket<unknown>;

/**
 * What a handler gets as its WSContext: made per event and dropped after it.
 * wsgate writes through the Wire, so handlers use only `raw` and `close`.
 */
class BunContext {
  readonly raw: BunSocket;
  constructor(raw: BunSocket) {
    this.raw = raw;
  }
  close(code?: number, reason?: string) {
    this.raw.close(code, reason);
  }
}
const contextOf = (ws: BunSocket) => new BunContext(ws) as unknown as WSContext<unknown>;

const websocket = {
  open(ws: BunSocket) {
    ws.data.onOpen?.(new Event('open'), contextOf(ws));
  },
  message(ws: BunSocket, message: string | Uint8Array) {
    ws.data.onMessage?.(createWSMessageEvent(typeof message === 'string' ? message : (message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength) as ArrayBuffer)), contextOf(ws));
  },
  close(ws: BunSocket, code: number, reason: string) {
    // uWebSockets fails a bad frame with 1006 here and says why in the reason ("Received invalid UTF-8"): the code it sent is that one.
    const sent = code === 1006 ? (protocolCloseCode(reason) ?? code) : code;
    ws.data.onClose?.(new CloseEvent('close', { code: sent, reason }), contextOf(ws));
  },
};

// The WebSocket server of this process, for publish; with TLS, also the servers a certificate swap stopped, while they have sockets.
let server: BunServer | undefined;
let retired: BunServer[] = [];

const wire: Wire = {
  encode: (frame) => frame,
  send(raw, frame) {
    const socket = raw as BunSocket;
    // Anything but -1 means nothing is left queued behind this frame.
    return socket.send(frame) === -1 ? socket.getBufferedAmount() : 0;
  },
  close: (raw, code, reason) => (raw as BunSocket).close(code, reason),
  terminate: (raw) => (raw as BunSocket).terminate(),
  topics: {
    subscribe: (raw, topic) => (raw as BunSocket).subscribe(topic),
    unsubscribe: (raw, topic) => (raw as BunSocket).unsubscribe(topic),
    publish(topic, frame, except) {
      if (except !== undefined) (except as BunSocket).publish(topic, frame);
      else server?.publish(topic, frame);
      // A topic is per server: the sockets of servers stopped by a certificate swap get it from theirs.
      if (retired.length === 0) return;
      const owner = except === undefined ? server : (except as BunSocket).data[OWNER];
      if (owner !== server) server?.publish(topic, frame);
      for (const old of retired) if (old !== owner) old.publish(topic, frame);
    },
  },
};

/**
 * Bun hands a request without a Host header (HTTP/1.0, as some load
 * balancers' health checks send) a bare path as its URL, which routing cannot
 * read: such a request gets an absolute one on loopback.
 */
const withAbsoluteUrl =
  (fetch: Hono['fetch']) =>
  (request: Request, server: unknown): Response | Promise<Response> =>
    fetch(request.url.startsWith('/') ? new Request(`http://localhost${request.url}`, request) : request, server);

export const runtime: Runtime = {
  name: 'bun',
  wire,
  upgradeWebSocket,
  async serve(app: Hono, { hostname, port, sockets, tls }) {
    const options = (bound: number, pem: TlsPem | undefined) => ({
      hostname,
      port: bound,
      fetch: withAbsoluteUrl(app.fetch),
      websocket: {
        ...websocket,
        // Bun closes oversized frames with 1009 itself, and pings idle sockets, closing those that stay silent.
        maxPayloadLength: sockets.maxFrame,
        // A publish is written by Bun, not by the hub, so Bun drops the sockets that fall behind on one. Twice the
        // limit, so that the hub's own check (1013, logged) comes first for every frame it writes itself.
        backpressureLimit: sockets.sendBuffer * 2,
        closeOnBackpressureLimit: true,
        ...(sockets.keepalive > 0 ? { idleTimeout: sockets.keepalive * 2, sendPings: true } : { idleTimeout: 0 }),
      },
      // SO_REUSEPORT, so that the server with the next certificate can bind the port before this one lets go of it.
      ...(pem && { tls: { cert: pem.cert, key: pem.key }, reusePort: true }),
    });
    if (tls && port !== 0) {
      // With SO_REUSEPORT a second wsgate on the same port would share it silently: bind once without, to fail as usual.
      const probe = Bun.serve({ hostname, port, fetch: () => new Response(null) });
      await probe.stop(true);
    }
    tagOwner = Boolean(tls);
    // Throws on a certificate and key that do not go together.
    let bun = Bun.serve(options(port, tls));
    server = bun;
    const listener: Listener = {
      hostname,
      port: bun.port,
      async stop() {
        // stop() resolves only once every connection is gone; the gateway closes the sockets itself.
        void bun.stop(false);
        for (const old of retired) void old.stop(false);
      },
      ...(tls && {
        async setTls(pem: TlsPem) {
          // The new server first (it throws on a bad pair, and then nothing has changed), then the old one stops accepting.
          const next = Bun.serve(options(listener.port, pem));
          const old = bun;
          bun = next;
          server = next;
          void old.stop(false);
          retired = [...retired.filter((s) => s.pendingWebSockets > 0 || s.pendingRequests > 0), old];
        },
      }),
    };
    return listener;
  },
  async serveHttp(app: Hono, address) {
    if ('path' in address) await unlink(address.path).catch(() => {});
    const fetch = withAbsoluteUrl(app.fetch);
    const server = Bun.serve('path' in address ? { unix: address.path, fetch } : { hostname: address.hostname, port: address.port, fetch });
    return {
      hostname: 'path' in address ? address.path : address.hostname,
      port: 'path' in address ? 0 : server.port,
      async stop() {
        void server.stop(false);
      },
    };
  },
  // Bun aborts a request's signal when its client disconnects before the answer.
  watchUpgrade: (c) => followUntilAnswered(c.req.raw.signal),

  remoteAddress: (c) => getConnInfo(c).remote.address,
  // The request's own signal aborts when its client disconnects, upgrades waiting for their answer included.
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
  isTerminal: (stream) => (stream === 'out' ? process.stdout : process.stderr).isTTY === true,
};
