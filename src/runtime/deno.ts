/**
 * Deno: Deno.serve, with Deno.upgradeWebSocket under hono's public
 * defineWebSocketHelper (hono/deno's own compares the Upgrade header
 * case-sensitively), Deno.Command.
 *
 * TLS: Deno.serve takes a certificate only when it starts, and its shutdown()
 * closes the upgraded sockets too, so a new certificate cannot be had from it
 * without dropping them (nor from a second Deno.serve on the port: reusePort
 * with TLS needs --unstable-net). The TLS listener is node:tls instead, whose
 * setSecureContext() swaps the certificate for new handshakes; each decrypted
 * connection is piped to Deno.serve on a loopback port of its own, and the
 * client's address goes with it (looked up by the piped connection's port).
 */
import type { Hono } from 'hono';
import { getConnInfo } from 'hono/deno';
import { defineWebSocketHelper, WSContext } from 'hono/ws';
import type { UpgradeWebSocket, WSEvents } from 'hono/ws';
import { createGroupTracker, killGroup } from './groups.ts';
import { closableOutput } from './output.ts';
import { ReportedCloseWithError } from './close-code.ts';
import { createDenoDrops } from './deno-drop.ts';
import type { DenoDrops } from './deno-drop.ts';
import { createKeepaliveWatch } from './deno-keepalive.ts';
import type { KeepaliveWatch } from './deno-keepalive.ts';
import { followSignal, UpgradeWatch } from './upgrade-watch.ts';
import type { Child, Listener, LogSink, Runtime, SpawnOptions, TlsPem, Wire } from './types.ts';

interface DenoChild {
  pid: number;
  stdin: WritableStream<Uint8Array>;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  status: Promise<{ code: number; signal: string | null }>;
  kill(signal?: string): void;
}
interface DenoNetAddr {
  transport: 'tcp';
  hostname: string;
  port: number;
}
interface DenoServeInfo {
  remoteAddr: DenoNetAddr;
  completed: Promise<void>;
}
interface DenoGlobal {
  serve(
    options: { hostname?: string; port?: number; path?: string; transport?: 'unix'; onListen?: (addr: { port: number }) => void; onError?: (error: unknown) => Response },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  Command: new (command: string, options: Record<string, unknown>) => { spawn(): DenoChild };
  upgradeWebSocket(request: Request, options: { protocol?: string; idleTimeout?: number }): { response: Response; socket: WebSocket };
  addSignalListener(signal: string, handler: () => void): void;
  remove(path: string): Promise<void>;
  stderr: { write(bytes: Uint8Array): Promise<number> };
}
declare const Deno: DenoGlobal;

const encoder = new TextEncoder();

/**
 * Deno's process.stderr writes synchronously and blocks the whole process on
 * a full pipe; Deno.stderr.write waits off the event loop. The chunks go one
 * after another, each whole (a write may take part of one), so lines keep
 * their order and never interleave.
 */
function stderrInTurn(): LogSink {
  let last: Promise<void> = Promise.resolve();
  return {
    write(chunk, done) {
      const bytes = encoder.encode(chunk);
      last = last
        .then(async () => {
          for (let at = 0; at < bytes.length; ) at += await Deno.stderr.write(bytes.subarray(at));
        })
        .then(
          () => done(),
          (error: Error) => done(error),
        );
    },
  };
}

function createSpawn(): Runtime['spawn'] {
  // Deno.exit does not emit process 'exit'; 'unload' is its exit hook.
  const track = createGroupTracker((handler) => globalThis.addEventListener('unload', handler));
  return (argv: string[], options: SpawnOptions = {}): Child => {
    const [file, ...args] = argv;
    // detached: Deno calls setsid() in the child, which makes it a process group leader.
    const child = new Deno.Command(file!, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin ? 'piped' : 'null',
      stdout: 'piped',
      stderr: 'piped',
      detached: options.group === true,
    }).spawn();
    const writer = options.stdin ? child.stdin.getWriter() : undefined;
    const stdout = closableOutput(child.stdout);
    const stderr = closableOutput(child.stderr);
    const exited = child.status.then((status) => (status.signal ? null : status.code));
    const group = options.group ? child.pid : undefined;
    if (group) track(group, exited);
    const killLeader = () => {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already exited.
      }
    };
    return {
      pid: child.pid,
      stdin: writer
        ? {
            // Writes are queued by the stream in order; a failure means the worker is gone, which its exit reports.
            write: (text) => void writer.write(encoder.encode(text)).catch(() => {}),
            end: () => void writer.close().catch(() => {}),
          }
        : undefined,
      stdout: stdout.chunks,
      stderr: stderr.chunks,
      exited,
      kill: () => (group ? killGroup(group, killLeader) : killLeader()),
      closeOutput: () => {
        stdout.close();
        stderr.close();
      },
    };
  };
}

/**
 * The upgrade, as hono/deno makes it but for the Upgrade header, which RFC
 * 6455 compares case-insensitively ("WebSocket" is as good as "websocket").
 * `idleTimeout` is Deno's keepalive: it pings, and closes sockets that miss
 * the pong (deno-keepalive.ts ends those it cannot); read at each upgrade, as
 * serve() sets it after the app is built.
 */
function createUpgrade(keepalive: () => { seconds: number; watch: KeepaliveWatch | undefined }, drops: DenoDrops): UpgradeWebSocket<unknown> {
  return defineWebSocketHelper((c, events: WSEvents<unknown>) => {
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return;
    const protocol = c.req.header('sec-websocket-protocol')?.split(',')[0]?.trim();
    const { seconds, watch } = keepalive();
    const { response, socket } = Deno.upgradeWebSocket(c.req.raw, { ...(protocol && { protocol }), idleTimeout: seconds });
    watch?.watch(socket);
    const dropClient = (c.env as Partial<PipedEnv> | undefined)?.dropClient;
    if (dropClient) drops.dropsWith(socket, dropClient);
    const ws = new WSContext({
      raw: socket,
      send: (data) => socket.send(data),
      close: (code, reason) => socket.close(code, reason),
      get readyState() {
        return socket.readyState as WSContext['readyState'];
      },
    });
    // Deno drops a connection that sends invalid UTF-8 and reports code 0; its error event says why.
    const reported = new ReportedCloseWithError(events);
    socket.onopen = (event) => reported.onOpen(event, ws);
    socket.onmessage = (event) => reported.onMessage(event, ws);
    socket.onclose = (event) => reported.onClose(drops.closeEventOf(socket, event), ws);
    socket.onerror = (event) => reported.onError(event, ws);
    return response;
  }) as unknown as UpgradeWebSocket<unknown>;
}

/** `closeTimeoutMs`: the serving config's closeTimeout, known once serve() was called. */
const createWire = (closeTimeoutMs: () => number, drops: DenoDrops): Wire => ({
  encode: (frame) => frame,
  send(raw, frame) {
    const ws = raw as WebSocket;
    // encode() keeps text a string, which Deno sends as a text frame.
    ws.send(frame as string);
    return ws.bufferedAmount;
  },
  // Deno's close() would wait for the peer for good (deno-drop.ts).
  close: (raw, code, reason) => drops.close(raw as WebSocket, closeTimeoutMs(), code, reason),
  terminate: (raw) => drops.drop(raw as WebSocket, 1013),
  closesSent: () => drops.closesAnswered(),
});

/**
 * What a request piped from the TLS listener gets as its env. `dropClient`
 * ends the client's own connection: a dropped socket's piped connection ends
 * too, but that end is read only once the client has read all before it, and
 * a client dropped for not reading never does.
 */
interface PipedEnv {
  remoteAddr: DenoNetAddr;
  completed: Promise<void>;
  secure: true;
  dropClient: (() => void) | undefined;
}

/** A peer the piped connection does not map to: not loopback, so never trusted. */
const UNKNOWN_PEER: DenoNetAddr = { transport: 'tcp', hostname: '', port: 0 };

/** An address a handshake with ourselves can go to: a wildcard bind is reached on loopback. */
const selfAddress = (hostname: string) => (hostname === '0.0.0.0' || hostname === '' ? '127.0.0.1' : hostname === '::' ? '::1' : hostname.replace(/^\[|\]$/g, ''));

/** TLS on node:tls, piped to Deno.serve on loopback (see the top of this file). */
async function serveTls(app: Hono, hostname: string, port: number, pem: TlsPem): Promise<Listener> {
  // Loaded only with TLS: node compatibility costs start-up time that plain serving does not need.
  const [{ createServer, connect: connectTls }, { connect }, { createPrivateKey, X509Certificate }] = await Promise.all([import('node:tls'), import('node:net'), import('node:crypto')]);
  // Deno's node:tls takes any PEM without a word (handshakes then fail): the pair is checked here first.
  const checkPair = (pair: TlsPem) => {
    if (!new X509Certificate(pair.cert).checkPrivateKey(createPrivateKey(pair.key))) throw new Error('the key does not belong to the certificate');
  };
  checkPair(pem);
  // Client address, and how to drop its connection, by the local port of the piped connection that carries it.
  const peers = new Map<number, DenoNetAddr>();
  const drops = new Map<number, () => void>();
  const inner = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (request, info) => {
    const env: PipedEnv = { remoteAddr: peers.get(info.remoteAddr.port) ?? UNKNOWN_PEER, completed: info.completed, secure: true, dropClient: drops.get(info.remoteAddr.port) };
    return app.fetch(request, env);
  });
  const innerPort = inner.addr.port;
  // Throws on a certificate and key that do not go together.
  const front = createServer({ cert: pem.cert, key: pem.key }, (outer) => {
    const peer: DenoNetAddr = { transport: 'tcp', hostname: (outer.remoteAddress ?? '').replace(/^::ffff:/, ''), port: outer.remotePort ?? 0 };
    const link = connect({ host: '127.0.0.1', port: innerPort, noDelay: true });
    outer.setNoDelay(true);
    const drop = () => {
      outer.destroy();
      link.destroy();
    };
    outer.on('error', drop);
    link.on('error', drop);
    // The client gone: so is its piped connection. The other way round, pipe() ends the client's side once all is written.
    outer.on('close', () => link.destroy());
    link.on('close', () => outer.end());
    link.once('connect', () => {
      const local = link.localPort!;
      // Known before the first byte goes through, so the request always finds it.
      peers.set(local, peer);
      drops.set(local, drop);
      link.once('close', () => {
        if (peers.get(local) === peer) peers.delete(local);
        if (drops.get(local) === drop) drops.delete(local);
      });
      outer.pipe(link);
      link.pipe(outer);
    });
  });
  // A failed handshake concerns that client only.
  front.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(port, hostname, () => {
      front.off('error', reject);
      resolve();
    });
  }).catch(async (error) => {
    await inner.shutdown();
    throw error;
  });
  const bound = front.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  /** One handshake with ourselves, as a client would make it. */
  const handshake = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connectTls({ host: selfAddress(hostname), port: boundPort, rejectUnauthorized: false }, () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('no TLS handshake within 5 s')));
    });
  let current = pem;
  return {
    hostname,
    port: boundPort,
    async stop() {
      front.close();
      // shutdown() waits for open connections; the gateway closes the sockets itself.
      void inner.shutdown();
    },
    // New handshakes get the new certificate; open connections keep theirs. A pair that fails the check, or a
    // handshake with it, is not kept: the one before serves again.
    async setTls(next: TlsPem) {
      checkPair(next);
      front.setSecureContext({ cert: next.cert, key: next.key });
      try {
        await handshake();
      } catch (error) {
        front.setSecureContext({ cert: current.cert, key: current.key });
        throw new Error(`a TLS handshake with it failed: ${(error as Error).message}`);
      }
      current = next;
    },
  };
}

function serveTcp(app: Hono, hostname: string, port: number): Listener {
  let bound = port;
  const server = Deno.serve({ hostname, port, onListen: (addr) => (bound = addr.port) }, app.fetch);
  return {
    hostname,
    port: server.addr.port ?? bound,
    async stop() {
      // shutdown() waits for open connections; the gateway closes the sockets itself.
      void server.shutdown();
    },
  };
}

export function createDenoRuntime(): Runtime {
  const keepalive: { seconds: number; watch: KeepaliveWatch | undefined } = { seconds: 0, watch: undefined };
  let closeTimeoutMs = 30_000;
  // Which sockets this runtime closed, and which still owe an answer: its own, as the keepalive watch is.
  const drops = createDenoDrops();
  return {
    name: 'deno',
    upgradeWebSocket: createUpgrade(() => keepalive, drops),
    wire: createWire(() => closeTimeoutMs, drops),
    async serve(app: Hono, { hostname, port, sockets, tls }) {
      // Deno has no frame limit of its own: the gateway checks each frame's size instead.
      keepalive.seconds = sockets.keepalive > 0 ? sockets.keepalive : 0;
      closeTimeoutMs = (sockets.closeTimeout ?? 30) * 1000;
      keepalive.watch?.stop();
      const watch = (keepalive.watch = keepalive.seconds > 0 ? createKeepaliveWatch(keepalive.seconds, drops.drop) : undefined);
      const listener = tls ? await serveTls(app, hostname, port, tls) : serveTcp(app, hostname, port);
      return {
        ...listener,
        async stop() {
          watch?.stop();
          await listener.stop();
        },
      };
    },
    async serveHttp(app: Hono, address) {
      if ('path' in address) await Deno.remove(address.path).catch(() => {});
      const server = Deno.serve(
        'path' in address ? { path: address.path, transport: 'unix', onListen: () => {} } : { hostname: address.hostname, port: address.port, onListen: () => {} },
        app.fetch,
      );
      return {
        hostname: 'path' in address ? address.path : address.hostname,
        port: 'path' in address ? 0 : server.addr.port,
        async stop() {
          void server.shutdown();
        },
      };
    },
    // Deno aborts a request's signal when its client disconnects before the answer, upgrades waiting for theirs included.
    watchUpgrade: (c) => new UpgradeWatch(followSignal(() => c.req.raw.signal)),
    remoteAddress: (c) => getConnInfo(c).remote.address,
    onStray: (handler) => {
      globalThis.addEventListener('unhandledrejection', (event) => {
        event.preventDefault();
        handler((event as PromiseRejectionEvent).reason, 'rejection');
      });
      globalThis.addEventListener('error', (event) => {
        event.preventDefault();
        handler((event as ErrorEvent).error, 'exception');
      });
    },
    spawn: createSpawn(),
    onSignal: (signal, handler) => Deno.addSignalListener(signal, handler),
    logSink: stderrInTurn(),
  };
}
