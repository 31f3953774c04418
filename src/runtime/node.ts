/**
 * Node: @hono/node-server with @hono/node-ws, node:child_process; node:https
 * for TLS, whose certificate is swapped in place (setSecureContext).
 *
 * Public APIs only, but for one option that @hono/node-ws gives no way to
 * pass (setMaxPayload below); test/unit/runtime-pins.test.ts fails when the
 * installed ws or @hono/node-ws stops honouring it.
 */
import { spawn as spawnChild } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { createAdaptorServer, serve } from '@hono/node-server';
import type { HttpBindings } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createNodeWebSocket } from '@hono/node-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Context, Hono } from 'hono';
import type { UpgradeWebSocket, WSEvents } from 'hono/ws';
import { createGroupTracker, killGroup } from './groups.ts';
import { noteProtocolError, ReportedClose } from './close-code.ts';
import { onProcessSignal, onProcessStray, processLogSink } from './process-events.ts';
import type { Child, Listener, Runtime, SocketOptions, SpawnOptions, Wire } from './types.ts';
import { frameOf, payloadOf } from './wsframe.ts';
import { adoptSocket, keepalivePing, onPing, onPong } from './node-socket-events.ts';
import { appForUpgrades } from './node-upgrade-request.ts';
import { followSignal, followUnfollowedNow, UpgradeWatch } from './upgrade-watch.ts';
import type { Follow } from './upgrade-watch.ts';

function createSpawn(): Runtime['spawn'] {
  const track = createGroupTracker();
  return (argv: string[], options: SpawnOptions = {}): Child => {
    const [file, ...args] = argv;
    // detached: setsid(), which makes the child a process group leader; the pipes keep it tied to wsgate as before.
    const child = spawnChild(file!, args, {
      cwd: options.cwd,
      env: options.env && { ...process.env, ...options.env },
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: options.group === true,
    });
    // A worker that dies makes the next write fail with EPIPE; its exit is what we act on.
    child.stdin?.on('error', () => {});
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });
    const group = options.group && child.pid ? child.pid : undefined;
    if (group) track(group, exited);
    return {
      pid: child.pid,
      stdin: child.stdin ? { write: (text) => void child.stdin!.write(text), end: () => void child.stdin!.end() } : undefined,
      stdout: child.stdout!,
      stderr: child.stderr!,
      exited,
      kill: () => (group ? killGroup(group, () => child.kill('SIGKILL')) : child.kill('SIGKILL')),
      closeOutput: () => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      },
    };
  };
}

/**
 * node-ws's upgrade request has no signal: the TCP socket's end or close is
 * what says the client went away. Followed only once the answer takes a
 * second (upgrade-watch.ts), and no longer once it is given, so an open
 * WebSocket keeps nothing of it.
 */
function watchUpgrade(c: Context): UpgradeWatch {
  // node-server's bindings: the node:http request the upgrade came with.
  const socket = (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket;
  return new UpgradeWatch(socket ? followSocket(socket) : followSignal(() => c.req.raw.signal), 1000);
}

const followSocket =
  (socket: Duplex): Follow =>
  (gone) => {
    if (socket.destroyed || socket.readableEnded) {
      gone();
      return () => {};
    }
    // The HTTP server lets sockets half-open and has handed an upgrade's socket over: its FIN is an 'end', not a 'close'.
    socket.once('close', gone);
    socket.once('end', gone);
    return () => {
      socket.off('close', gone);
      socket.off('end', gone);
    };
  };

/**
 * The frame limit (ws closes bigger frames with 1009). node-ws makes its
 * WebSocketServer without options and takes none to pass on, and ws reads
 * `options.maxPayload` at each handleUpgrade: the one write to a field ws
 * does not document. Pinned by test/unit/runtime-pins.test.ts.
 */
export function setMaxPayload(wss: WebSocketServer, bytes: number): void {
  (wss.options as { maxPayload: number }).maxPayload = bytes;
}

// ws fails a connection on a bad frame (1007, 1009, 1002) and then says 1006 in its close event: the error says which it sent.
function onSocketError(this: WebSocket, error: Error) {
  noteProtocolError(this, error);
}

/** One timer for all sockets of a server: each must answer the previous ping before the next (onPong). */
function startKeepalive(wss: WebSocketServer, seconds: number): ReturnType<typeof setInterval> {
  return setInterval(() => {
    for (const ws of wss.clients) if (!keepalivePing(ws)) ws.terminate();
  }, seconds * 1000);
}

// Built once: ws would otherwise merge its defaults into a new object for every send.
const TEXT = { binary: false, compress: false, fin: true, mask: false } as const;

/**
 * Writes a cast's frame, built once, as the same bytes to each socket's
 * connection (`connections`: the node:http upgrade's socket, which ws took
 * over). ws writes each frame to that socket at once when it compresses
 * nothing (node-ws negotiates no permessage-deflate; wsgate sends no Blobs),
 * so a write beside it keeps the frames in order; the pin test checks both.
 * `closeTimeoutMs`: the serving config's closeTimeout, known once serve() was called.
 */
function createWire(connections: WeakMap<WebSocket, Duplex>, closeTimeoutMs: () => number): Wire {
  return {
    encode: frameOf,
    send(raw, frame) {
      const ws = raw as WebSocket;
      if (typeof frame === 'string') ws.send(frame, TEXT);
      else {
        // Not once ws has begun to close: its close frame must be the last.
        const connection = ws.readyState === 1 ? connections.get(ws) : undefined;
        if (connection) connection.write(frame);
        else ws.send(payloadOf(frame), TEXT);
      }
      return ws.bufferedAmount;
    },
    close(raw, code, reason) {
      const ws = raw as WebSocket;
      ws.close(code, reason);
      // ws drops a close the client never answers after 30 s of its own; a shorter closeTimeout is wsgate's to keep.
      const ms = closeTimeoutMs();
      if (ms >= WS_CLOSE_TIMEOUT_MS) return;
      setTimeout(() => ws.readyState !== ws.CLOSED && ws.terminate(), ms).unref();
    },
    terminate: (raw) => (raw as WebSocket).terminate(),
  };
}

/** How long ws itself waits for the answer to a close (its closeTimeout, not an option). */
const WS_CLOSE_TIMEOUT_MS = 30_000;

/**
 * What node-ws reads of the upgrade's Context: the Upgrade header, the URL,
 * and env (its handshake's own object, which holds the IncomingMessage).
 *
 * node-ws keeps the Context it is given for as long as its socket lives: the
 * closures that route the socket's events share a scope with it. Given the
 * whole Context, each idle socket would keep its Hono Context, HonoRequest,
 * Request, headers and IncomingMessage (about 8 KB on Node 20). It is given
 * this view instead, a class so that its reader is one shared method and not
 * a closure per socket, and the view lets go of all it holds once the socket
 * is open: node-ws reads it only during the handshake.
 */
class UpgradeView {
  #upgrade: string | undefined;
  url: string;
  env: HttpBindings | undefined;
  constructor(c: Context) {
    this.#upgrade = c.req.header('upgrade');
    this.url = c.req.url;
    this.env = c.env as HttpBindings;
  }
  get req(): this {
    return this;
  }
  header(name: string): string | undefined {
    return name.toLowerCase() === 'upgrade' ? this.#upgrade : undefined;
  }
  release(): void {
    this.#upgrade = undefined;
    this.url = '';
    this.env = undefined;
  }
}

type NodeUpgrade = (c: UpgradeView, events: WSEvents<unknown>) => Promise<Response>;

/** The gateway's events: as the socket opens, the view is released and the socket's events are taken from node-ws. */
class NodeSocketEvents extends ReportedClose {
  #view: UpgradeView | undefined;
  constructor(events: WSEvents<unknown>, view: UpgradeView) {
    super(events);
    this.#view = view;
  }
  override onOpen(event: Event, ws: Parameters<ReportedClose['onOpen']>[1]) {
    this.#view?.release();
    this.#view = undefined;
    const raw = ws.raw as WebSocket;
    queueMicrotask(() => adoptSocket(raw, this, onSocketError));
    return super.onOpen(event, ws);
  }
}

export function createNodeRuntime(): Runtime {
  const connections = new WeakMap<WebSocket, Duplex>();
  // node-ws needs the app to make its upgrade helper, which the app is built with: the helper of the server serve() made.
  let upgrade: NodeUpgrade = () => Promise.reject(new Error('serve() first: no server takes upgrades yet'));
  const upgradeWebSocket = ((c: Context, events: WSEvents<unknown>) => {
    // A client that closed while auth ran: ws would refuse its socket without the 'connection' node-ws waits for, and
    // node-ws would keep that wait (the request, the events) for good. Nothing but microtasks runs from here to ws's check.
    const socket = (c.env as HttpBindings | undefined)?.incoming?.socket;
    if (socket && (!socket.readable || !socket.writable)) return Promise.resolve(new Response(null, { status: 400 }));
    const view = new UpgradeView(c);
    return upgrade(view, new NodeSocketEvents(events, view));
  }) as unknown as UpgradeWebSocket<unknown>;

  let closeTimeoutMs = WS_CLOSE_TIMEOUT_MS;

  /** node-ws on this server: the app's upgrades, the frame limit, each socket's connection and error. */
  const acceptSockets = (app: Hono, server: Server, sockets: SocketOptions): WebSocketServer => {
    const nodeWs = createNodeWebSocket({ app: appForUpgrades(app) });
    setMaxPayload(nodeWs.wss, sockets.maxFrame);
    nodeWs.wss.on('connection', (ws: WebSocket, request: IncomingMessage) => {
      connections.set(ws, request.socket);
      ws.on('error', onSocketError);
      ws.on('ping', onPing);
      ws.on('pong', onPong);
    });
    upgrade = nodeWs.upgradeWebSocket as unknown as NodeUpgrade;
    nodeWs.injectWebSocket(server);
    return nodeWs.wss;
  };

  return {
    name: 'node',
    wire: createWire(connections, () => closeTimeoutMs),
    upgradeWebSocket,
    serve(app, { hostname, port, sockets, tls }) {
      closeTimeoutMs = (sockets.closeTimeout ?? 30) * 1000;
      return new Promise<Listener>((resolve, reject) => {
        // https.createServer throws here on a certificate and key that do not go together.
        const https = tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {};
        const server = serve({ fetch: app.fetch, hostname, port, ...https }, (info) => {
          server.off('error', reject);
          const keepalive = sockets.keepalive > 0 ? startKeepalive(wss, sockets.keepalive) : undefined;
          resolve({
            hostname,
            port: info.port,
            async stop() {
              clearInterval(keepalive);
              server.close();
              server.closeIdleConnections?.();
            },
            setMaxFrame: (bytes) => (setMaxPayload(wss, bytes), true),
            // New handshakes use the new context; connections already made keep theirs. Throws, changing nothing, on a bad pair.
            ...(tls && { setTls: async (next) => (server as HttpsServer).setSecureContext({ cert: next.cert, key: next.key }) }),
          });
        }) as Server;
        server.once('error', reject);
        const wss = acceptSockets(app, server, sockets);
      });
    },
    serveHttp(app, address) {
      const server = createAdaptorServer({ fetch: app.fetch }) as Server;
      return new Promise<Listener>((resolve, reject) => {
        server.once('error', reject);
        const done = () => {
          server.off('error', reject);
          const bound = server.address();
          resolve({
            hostname: 'path' in address ? address.path : address.hostname,
            port: typeof bound === 'object' && bound ? bound.port : 0,
            async stop() {
              server.close();
              server.closeIdleConnections?.();
            },
          });
        };
        if ('path' in address) {
          // A socket file left by a previous run would make listen fail.
          try {
            unlinkSync(address.path);
          } catch {
            // None there.
          }
          server.listen(address.path, done);
        } else server.listen(address.port, address.hostname, done);
      });
    },
    watchUpgrade,
    checkUpgrades: followUnfollowedNow,
    remoteAddress: (c) => getConnInfo(c).remote.address,
    onStray: onProcessStray,
    logSink: processLogSink(),
    spawn: createSpawn(),
    onSignal: onProcessSignal,
  };
}
