/**
 * What wsgate needs of the runtime it runs on, and only what differs between
 * them: serving, upgrades, spawning, signals. Files, the environment, stdio,
 * argv, exit, the temp folder and the core count are not here: all three
 * runtimes provide node:fs, node:os, node:process and node:tty, and callers
 * use those directly. One factory per runtime (createBunRuntime in bun.ts,
 * createDenoRuntime in deno.ts, createNodeRuntime in node.ts) returns a fresh
 * Runtime with no state shared through its module; nothing outside
 * src/runtime/ asks which one it is.
 */
import type { Context, Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';

export interface SpawnOptions {
  cwd?: string;
  /** Variables set on top of the parent's environment (which the child always inherits). */
  env?: Record<string, string>;
  /** Pipe stdin (resident workers); otherwise the child gets none. */
  stdin?: boolean;
  /**
   * Start the child as the leader of a process group of its own, so that
   * kill() ends it and everything it started; groups still alive when
   * wsgate exits are killed then (src/runtime/groups.ts).
   */
  group?: boolean;
}

/** The writable end of a child's stdin. */
export interface ChildInput {
  write(text: string): void;
  end(): void;
}

/** A child process with piped stdout and stderr, and stdin when asked for. */
export interface Child {
  readonly pid: number | undefined;
  readonly stdin?: ChildInput;
  readonly stdout: AsyncIterable<Uint8Array>;
  readonly stderr: AsyncIterable<Uint8Array>;
  /** Resolves with the exit code, or null when a signal ended it. */
  readonly exited: Promise<number | null>;
  /** SIGKILL: to its whole process group when spawned with `group`. */
  kill(): void;
  /**
   * Stops reading stdout and stderr: their iterations end and wsgate's ends
   * of the pipes close. For output still held once the child and its group
   * were killed: a process that left the group (setsid) holds it for as long
   * as it lives, and no kill of the group reaches it.
   */
  closeOutput?(): void;
}

/** A certificate chain and its private key, as PEM text. */
export interface TlsPem {
  cert: string;
  key: string;
}

export interface Listener {
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting new connections; open sockets stay until closed. */
  stop(): Promise<void>;
  /**
   * Only on a listener serving TLS: new handshakes get this certificate from
   * now on, while every open connection stays as it is. Rejects, and keeps
   * serving the old one, when the runtime will not take the pair. Called
   * one at a time (reloads are serialised in start.ts), so a swap that awaits
   * midway need not guard against the next one.
   */
  setTls?(tls: TlsPem): Promise<void>;
  /**
   * Where the runtime itself closes frames over `SocketOptions.maxFrame`: a reload's limit for sockets that open
   * from now on. False where it cannot change while serving (it keeps the start's); absent where the gateway alone
   * checks the size (incoming.ts).
   */
  setMaxFrame?(bytes: number): boolean;
}

export type Signal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

/** Socket-level limits the runtime enforces itself where it can. */
export interface SocketOptions {
  /** Largest client frame in bytes; bigger ones close the socket with 1009. */
  maxFrame: number;
  /** Seconds between pings; a socket that misses its pong is closed. 0: off. */
  keepalive: number;
  /** Bytes a socket may have unsent (limits.sendBuffer); where the runtime fans out natively, it enforces this itself. */
  sendBuffer: number;
  /** Seconds a close waits for the client's close frame before the connection is dropped (closeTimeout; 30 when not given). */
  closeTimeout?: number;
}

/** A frame in the form the runtime writes fastest: encoded once per cast, written to every socket. */
export type OutFrame = string | Uint8Array;

/**
 * How the hub writes to an accepted socket. `raw` is the adapter's own socket
 * object; the hub keeps it and nothing else, so an open socket costs one
 * reference and no closures.
 */
export interface Wire {
  /** A text frame, encoded once for every socket a cast goes to. */
  encode(frame: string): OutFrame;
  /** Sends a text frame; returns the bytes still queued for the socket afterwards. */
  send(raw: unknown, frame: OutFrame): number;
  close(raw: unknown, code?: number, reason?: string): void;
  /** Drops the connection without the close handshake (a client that does not read would never finish it). */
  terminate(raw: unknown): void;
  /**
   * Resolves once the close frames of the sockets closed so far are out, as
   * far as the runtime can tell: a stop awaits it before the exit, where the
   * exit could cut them (Deno writes them some turns after close()). Bounded
   * by the runtime, and by shutdownTimeout.
   */
  closesSent?(): Promise<void>;
  /**
   * Native topics, where the runtime has them (Bun): the runtime sends one
   * publish to every subscriber itself, instead of a call per socket.
   */
  topics?: {
    subscribe(raw: unknown, topic: string): void;
    unsubscribe(raw: unknown, topic: string): void;
    /** To every subscriber, or every one but `except`'s socket. */
    publish(topic: string, frame: string, except?: unknown): void;
  };
}

/**
 * What says a hook's client went away: the part of AbortSignal that the
 * runners and the core use, so an AbortSignal is one, and so is an
 * upgrade's watch (upgrade-watch.ts), which costs far less per upgrade.
 */
export interface GoneSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Where log lines are written to: `done` runs once the chunk is handed to the OS, with the error should that fail. */
export interface LogSink {
  write(chunk: string, done: (error?: Error | null) => void): unknown;
}

/**
 * One runtime adapter, as a factory returns it: it serves one public port
 * (serve), whose upgrades go through its upgradeWebSocket and whose sockets
 * its wire writes to; a second Runtime from the same factory shares nothing
 * with it.
 */
export interface Runtime {
  readonly name: 'bun' | 'deno' | 'node';
  readonly upgradeWebSocket: UpgradeWebSocket<unknown>;
  /** The public port; with `tls`, it serves https and wss only, and the listener can swap the certificate (setTls). */
  serve(app: Hono, options: { hostname: string; port: number; sockets: SocketOptions; tls?: TlsPem }): Promise<Listener>;
  readonly wire: Wire;
  /** A plain HTTP server (the bridge on its own address): TCP, or a unix socket at `path`. */
  serveHttp(app: Hono, address: { hostname: string; port: number } | { path: string }): Promise<Listener>;
  /**
   * A signal that aborts when the client of a request that is still being
   * answered (an upgrade waiting for its auth hook) goes away; `done()` when
   * the answer is given, so nothing is kept for the connection's life.
   * It may follow the client only once the answer takes long (upgrade-watch.ts).
   */
  watchUpgrade(c: Context): GoneSignal & { done(): void };
  /** Cancels now the watched upgrades whose client went, where a runtime learns of that late (upgrade-watch.ts). */
  checkUpgrades?(): void;
  /**
   * A full garbage collection now, where the runtime offers one without a
   * flag at start (Bun): ops/memory-settle.ts asks for it after a burst of
   * connections.
   */
  collectGarbage?(): void;
  /** The peer address of a request (upgrades included); may throw when the runtime cannot tell. */
  remoteAddress(c: Context): string | undefined;
  /** Per runtime: Bun.spawn and Deno.Command, each runtime's own (scripts/bench/spawn.ts measures them against node:child_process). */
  spawn(argv: string[], options?: SpawnOptions): Child;
  /** Per runtime: Deno's own Deno.addSignalListener rather than its emulation of node:process; Node and Bun share process-events.ts. */
  onSignal(signal: Signal, handler: () => void): void;
  /**
   * Catches what would otherwise end the process (unhandled rejections,
   * uncaught errors). Per runtime: on Deno only the global events, with
   * preventDefault(), keep the process alive.
   */
  onStray(handler: (error: unknown, kind: 'rejection' | 'exception') => void): void;
  /**
   * The running gateway's stderr, written without ever blocking the event loop: a log reader that stalls must not
   * stall every socket. Per runtime: Deno's process.stderr blocks on a full pipe, its Deno.stderr.write does not.
   */
  readonly logSink: LogSink;
  /**
   * What import() is given to load the hook module at `path` anew at a reload (`generation` > 0). Without it, the
   * file URL with `?reload=<generation>`, which Node and Deno cache apart; Bun ignores a file URL's query.
   */
  moduleSpecifier?(path: string, generation: number): string;
}

/**
 * What a runtime adds to a request's env when the request came over TLS but
 * its URL does not say so (Deno's TLS is piped to a plain Deno.serve on
 * loopback): the Origin check and the bridge's trust must know.
 */
export interface SecureEnv {
  secure?: boolean;
}
