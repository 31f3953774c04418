/**
 * Node: @hono/node-server with @hono/node-ws, node:child_process; node:https
 * for TLS, whose certificate is swapped in place (setSecureContext).
 */
import { spawn as spawnChild } from 'node:child_process';
import { readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import type { IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import { unlinkSync } from 'node:fs';
import { createAdaptorServer, serve } from '@hono/node-server';
import { createNodeWebSocket } from '@hono/node-ws';
import type { WebSocket } from 'ws';
import type { Context, Hono } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { killGroup, trackGroup } from './groups.ts';
import type { UpgradeWebSocket, WSEvents } from 'hono/ws';
import { noteProtocolError, ReportedClose } from './close-code.ts';
import type { Child, Listener, Runtime, SpawnOptions, Wire } from './types.ts';
import { frameOf, payloadOf } from './wsframe.ts';

// node-ws reads the app only when an upgrade arrives, so it can be filled in at serve().
const target: { app: Hono } = { app: undefined as unknown as Hono };
const nodeWs = createNodeWebSocket(target);

function spawn(argv: string[], options: SpawnOptions = {}): Child {
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
  if (group) trackGroup(group, exited);
  return {
    pid: child.pid,
    stdin: child.stdin ? { write: (text) => void child.stdin!.write(text), end: () => void child.stdin!.end() } : undefined,
    stdout: child.stdout!,
    stderr: child.stderr!,
    exited,
    kill: () => (group ? killGroup(group, () => child.kill('SIGKILL')) : child.kill('SIGKILL')),
  };
}

/**
 * node-ws builds the upgrade's Request itself, without a signal: the TCP
 * socket's end or close is what says the client went away. The listener is removed
 * once the answer is given, so an open WebSocket keeps nothing of it.
 */
function watchUpgrade(c: Context): { signal: AbortSignal; done(): void } {
  const gone = new AbortController();
  const socket = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket;
  if (!socket) return { signal: c.req.raw.signal, done() {} };
  if (socket.destroyed || socket.readableEnded) gone.abort();
  const onClose = () => gone.abort();
  // The HTTP server lets sockets half-open and has handed an upgrade's socket over: its FIN is an 'end', not a 'close'.
  socket.once('close', onClose);
  socket.once('end', onClose);
  return {
    signal: gone.signal,
    done: () => {
      socket.off('close', onClose);
      socket.off('end', onClose);
    },
  };
}

// ws fails a connection on a bad frame (1007, 1009, 1002) and then says 1006 in its close event: the error says which it sent.
function onSocketError(this: WebSocket, error: Error) {
  noteProtocolError(this, error);
}
nodeWs.wss.on('connection', (ws: WebSocket) => ws.on('error', onSocketError));

const upgradeWebSocket = ((c: Context, events: WSEvents<unknown>) =>
  (nodeWs.upgradeWebSocket as (c: Context, events: WSEvents<unknown>) => Promise<Response>)(c, new ReportedClose(events))) as unknown as UpgradeWebSocket<unknown>;

const alive = new WeakSet<WebSocket>();

/** One timer for all sockets: each must answer the previous ping before the next. */
function startKeepalive(seconds: number): ReturnType<typeof setInterval> {
  nodeWs.wss.on('connection', (ws: WebSocket) => {
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
  });
  return setInterval(() => {
    for (const ws of nodeWs.wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, seconds * 1000);
}

// Built once: ws would otherwise merge its defaults into a new object for every send.
const TEXT = { binary: false, compress: false, fin: true, mask: false } as const;

/** The parts of ws's socket the cast path writes through (ws 8; perMessageDeflate is off in node-ws's server). */
interface WsInternals {
  _socket?: { write(chunk: Uint8Array): boolean };
  _sender?: { _state: number };
}

const wire: Wire = {
  // A cast's frame is built once; each socket then costs one write of the same bytes.
  encode: frameOf,
  send(raw, frame) {
    const ws = raw as WebSocket;
    if (typeof frame === 'string') ws.send(frame, TEXT);
    else {
      const inner = ws as unknown as WsInternals;
      // Straight to the TCP socket only when ws has nothing of its own queued (state 0), so frames keep their order.
      if (ws.readyState === 1 && inner._sender?._state === 0 && inner._socket) inner._socket.write(frame);
      else ws.send(payloadOf(frame), TEXT);
    }
    return ws.bufferedAmount;
  },
  close: (raw, code, reason) => (raw as WebSocket).close(code, reason),
  terminate: (raw) => (raw as WebSocket).terminate(),
};

export const runtime: Runtime = {
  name: 'node',
  wire,
  upgradeWebSocket,
  serve(app, { hostname, port, sockets, tls }) {
    target.app = app;
    // node-ws makes its server without options: the frame limit is set on it here (ws closes with 1009).
    (nodeWs.wss.options as { maxPayload: number }).maxPayload = sockets.maxFrame;
    return new Promise<Listener>((resolve, reject) => {
      // https.createServer throws here on a certificate and key that do not go together.
      const https = tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {};
      const server = serve({ fetch: app.fetch, hostname, port, ...https }, (info) => {
        server.off('error', reject);
        const keepalive = sockets.keepalive > 0 ? startKeepalive(sockets.keepalive) : undefined;
        resolve({
          hostname,
          port: info.port,
          async stop() {
            clearInterval(keepalive);
            server.close();
            (server as Server).closeIdleConnections?.();
          },
          // New handshakes use the new context; connections already made keep theirs. Throws, changing nothing, on a bad pair.
          ...(tls && { setTls: async (next) => (server as HttpsServer).setSecureContext({ cert: next.cert, key: next.key }) }),
        });
      }) as Server;
      server.once('error', reject);
      nodeWs.injectWebSocket(server);
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
  remoteAddress: (c) => getConnInfo(c).remote.address,
  onStray: (handler) => {
    process.on('unhandledRejection', (error: unknown) => handler(error, 'rejection'));
    process.on('uncaughtException', (error: unknown) => handler(error, 'exception'));
  },
  spawn,
  onSignal: (signal, handler) => void process.on(signal, handler),
  args: () => process.argv.slice(2),
  env: (name) => process.env[name],
  exit: (code) => process.exit(code),
  readTextFile: (path) => readFile(path, 'utf8'),
  isFile: async (path) => (await stat(path).catch(() => undefined))?.isFile() ?? false,
  writeTextFile: (path, text) => writeFile(path, text),
  tempDir: () => tmpdir(),
  realPath: (path) => realpath(path),
  cores: () => availableParallelism(),
  cwd: () => process.cwd(),
  writeOut: (line) => void process.stdout.write(`${line}\n`),
  writeErr: (line) => void process.stderr.write(`${line}\n`),
  isTerminal: (stream) => (stream === 'out' ? process.stdout : process.stderr).isTTY === true,
};
