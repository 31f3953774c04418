/**
 * Bun: Bun.serve with a WebSocket handler of our own (hono/bun's keeps two URL
 * objects per socket) over hono's public defineWebSocketHelper and Bun's
 * server.upgrade, Bun.spawn. With TLS, a new certificate means a new
 * Bun.serve on the same port (SO_REUSEPORT), which takes the new connections
 * while the old one stops accepting and keeps its sockets: Bun cannot swap a
 * server's certificate (server.reload() ignores `tls`).
 */
import { unlink } from 'node:fs/promises';
import type { Hono } from 'hono';
import { getBunServer, getConnInfo } from 'hono/bun';
import { createWSMessageEvent, defineWebSocketHelper } from 'hono/ws';
import type { UpgradeWebSocket, WSContext, WSEvents } from 'hono/ws';
import { createGroupTracker, killGroup } from './groups.ts';
import { closableOutput } from './output.ts';
import { uwsCloseCode } from './close-code.ts';
import { contextOf } from './raw-context.ts';
import { onProcessSignal, onProcessStray, processLogSink } from './process-events.ts';
import { followSignal, followUnfollowedNow, UpgradeWatch } from './upgrade-watch.ts';
import type { Child, Listener, OutFrame, Runtime, SocketOptions, SpawnOptions, TlsPem, Wire } from './types.ts';

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
  upgrade(request: Request, options: { data: unknown }): boolean;
  readonly pendingWebSockets: number;
  readonly pendingRequests: number;
}
interface BunSocket {
  /** What the upgrade gave it: the socket's event handlers, with the ping and pong one of those that count them. */
  data: WSEvents<unknown> & { onControl?(ws: WSContext<unknown>): void };
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
  env: Record<string, string | undefined>;
  /** true: a full collection, synchronously. */
  gc(force: boolean): void;
}
declare const Bun: BunGlobal;

function createSpawn(): Runtime['spawn'] {
  const track = createGroupTracker();
  return (argv: string[], options: SpawnOptions = {}): Child => {
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
    const stdout = closableOutput(proc.stdout);
    const stderr = closableOutput(proc.stderr);
    const exited = proc.exited.then((code) => (proc.signalCode ? null : code));
    const group = options.group ? proc.pid : undefined;
    if (group) track(group, exited);
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
      stdout: stdout.chunks,
      stderr: stderr.chunks,
      exited,
      kill: () => (group ? killGroup(group, () => proc.kill(9)) : proc.kill(9)),
      closeOutput: () => {
        stdout.close();
        stderr.close();
      },
    };
  };
}

/**
 * Like hono/bun's upgradeWebSocket, but Bun keeps only the handlers as the
 * socket's data: hono/bun's adds a URL object per socket that wsgate never reads.
 * The server is the one whose fetch got the request (hono's env), so each
 * upgrade goes to the server it came to.
 */
const upgradeWebSocket = defineWebSocketHelper((c, events) => {
  if (getBunServer<BunServer>(c)?.upgrade(c.req.raw, { data: events })) return new Response(null);
}) as unknown as UpgradeWebSocket<unknown>;

/** Bun's handlers for the sockets of one server; `opened` learns of each new one. */
function socketHandlers(opened?: (ws: BunSocket) => void) {
  return {
    open(ws: BunSocket) {
      opened?.(ws);
      ws.data.onOpen?.(new Event('open'), contextOf(ws));
    },
    message(ws: BunSocket, message: string | Uint8Array) {
      ws.data.onMessage?.(createWSMessageEvent(typeof message === 'string' ? message : (message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength) as ArrayBuffer)), contextOf(ws));
    },
    // uWS has answered the ping already. Counted against the message rate, a flood of them is closed as one of messages
    // is; without this, Bun read and answered 80 MB/s of pings with no limit of wsgate's.
    ping(ws: BunSocket) {
      ws.data.onControl?.(contextOf(ws));
    },
    // Every pong counts, the answers to Bun's own keepalive pings too (uWS does not tell them apart): one a keepalive.
    pong(ws: BunSocket) {
      ws.data.onControl?.(contextOf(ws));
    },
    close(ws: BunSocket, code: number, reason: string) {
      // uWebSockets fails a bad frame with 1006 here and says why in the reason ("Received invalid UTF-8"): the code it sent is that one.
      const sent = code === 1006 ? (uwsCloseCode(reason) ?? code) : code;
      ws.data.onClose?.(new CloseEvent('close', { code: sent, reason }), contextOf(ws));
    },
  };
}

/**
 * The WebSocket servers of one runtime: the one serving, and with TLS the
 * ones a certificate swap stopped, while they still have sockets; a topic is
 * per server, so a publish goes to each.
 */
interface Servers {
  current?: BunServer;
  retired: BunServer[];
  /** Which server accepted a socket; kept only with TLS, where there can be more than one. */
  owners: WeakMap<BunSocket, BunServer>;
}

function createWire(servers: Servers): Wire {
  return {
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
        const server = servers.current;
        if (except !== undefined) (except as BunSocket).publish(topic, frame);
        else server?.publish(topic, frame);
        // The sockets of servers stopped by a certificate swap get it from theirs.
        if (servers.retired.length === 0) return;
        const owner = except === undefined ? server : servers.owners.get(except as BunSocket);
        if (owner !== server) server?.publish(topic, frame);
        for (const old of servers.retired) if (old !== owner) old.publish(topic, frame);
      },
    },
  };
}

/**
 * Bun hands a request without a Host header (HTTP/1.0, as some load
 * balancers' health checks send) a bare path as its URL, which routing cannot
 * read: such a request gets an absolute one on loopback.
 */
const withAbsoluteUrl =
  (fetch: Hono['fetch']) =>
  (request: Request, server: unknown): Response | Promise<Response> =>
    fetch(request.url.startsWith('/') ? new Request(`http://localhost${request.url}`, request) : request, server);

export function createBunRuntime(): Runtime {
  const servers: Servers = { retired: [], owners: new WeakMap() };

  /** One Bun.serve of the public port; with TLS, its sockets are noted as its own. */
  const serveOnce = (app: Hono, hostname: string, port: number, sockets: SocketOptions, pem: TlsPem | undefined): BunServer => {
    let self: BunServer | undefined;
    const server = Bun.serve({
      hostname,
      port,
      fetch: withAbsoluteUrl(app.fetch),
      websocket: {
        ...socketHandlers(pem && ((ws) => servers.owners.set(ws, self!))),
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
    self = server;
    return server;
  };

  return {
    name: 'bun',
    wire: createWire(servers),
    upgradeWebSocket,
    async serve(app: Hono, { hostname, port, sockets, tls }) {
      if (tls && port !== 0) {
        // With SO_REUSEPORT a second wsgate on the same port would share it silently: bind once without, to fail as usual.
        const probe = Bun.serve({ hostname, port, fetch: () => new Response(null) });
        await probe.stop(true);
      }
      // Throws on a certificate and key that do not go together.
      let bun = serveOnce(app, hostname, port, sockets, tls);
      servers.current = bun;
      const listener: Listener = {
        hostname,
        port: bun.port,
        async stop() {
          // stop() resolves only once every connection is gone; the gateway closes the sockets itself.
          void bun.stop(false);
          for (const old of servers.retired) void old.stop(false);
        },
        // Bun.serve takes its maxPayloadLength once.
        setMaxFrame: () => false,
        ...(tls && {
          async setTls(pem: TlsPem) {
            // The new server first (it throws on a bad pair, and then nothing has changed), then the old one stops accepting.
            const next = serveOnce(app, hostname, listener.port, sockets, pem);
            const old = bun;
            bun = next;
            servers.current = next;
            void old.stop(false);
            servers.retired = [...servers.retired.filter((s) => s.pendingWebSockets > 0 || s.pendingRequests > 0), old];
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
    // Bun aborts a request's signal when its client disconnects before the answer, upgrades waiting for theirs included.
    // Read only after a second: a signal once read stays with the socket (upgrade-watch.ts), and under a connect burst
    // (the fan-out bench's 64 handshakes in flight) many upgrades take longer than 100 ms to be answered.
    watchUpgrade: (c) => new UpgradeWatch(followSignal(() => c.req.raw.signal), 1000),
    checkUpgrades: followUnfollowedNow,
    collectGarbage: () => Bun.gc(true),
    remoteAddress: (c) => getConnInfo(c).remote.address,
    onStray: onProcessStray,
    logSink: processLogSink(),
    spawn: createSpawn(),
    onSignal: onProcessSignal,
    // Bun's module cache tells a plain path's query apart, not a file URL's.
    moduleSpecifier: (path, generation) => (generation > 0 ? `${path}?reload=${generation}` : path),
  };
}
