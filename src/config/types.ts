/**
 * The config as the rest of wsgate sees it: typed, resolved (milliseconds,
 * absolute paths, defaults filled in) and checked. The schemas in this folder
 * produce these; nothing else builds them.
 */
import type { ChannelRule } from './channel-rules.ts';
import type { PathRoute } from './paths.ts';
import type { HistoryLimits } from '../core/history/history.ts';
import type { ReplayLimits } from '../core/history/replay.ts';

export type HostMode = 'oneshot' | 'resident' | 'module';

/** Resident pool settings, resolved (milliseconds). */
export interface PoolConfig {
  idleMs: number;
  maxJobs: number;
  maxQueue: number;
  bootTimeoutMs: number;
}

/** Per-socket and per-server limits (bytes, counts, per second). */
export interface Limits {
  frame: number;
  sockets: number;
  socketsPerHost: number;
  socketsPerToken: number;
  messagesPerSecond: number;
  messageBurst: number;
  pending: number;
  sendBuffer: number;
  /** Bytes of past frames kept in all, history and replay together (see src/core/history/budget.ts). */
  historyBytes: number;
  /** One-shot hook and `build` dispatch processes running at once, process-wide. */
  hookProcesses: number;
  /** Jobs waiting for a hook process slot; beyond it they are refused at once (busy). */
  hookQueue: number;
  /** One-shot auth hooks of one host running at once. */
  authsPerHost: number;
  /** Bytes a line of hook output may have; a longer one fails the hook. */
  hookLine: number;
}

export interface ScheduleEntry {
  app: string;
  target: string;
  everyMs: number;
  build: boolean;
}

export interface HostConfig {
  /** The key as configured, normalised: an exact name, `*.suffix` or `*`. */
  key: string;
  mode: HostMode;
  /** oneshot: the program and leading args; the hook argv is appended. */
  command?: string[];
  /** The PHP app file, when the host was configured by app. */
  app?: string;
  /** A plain PHP file of wsAuth/wsConnect/wsReceive/wsClose, run through the bundled SDK. */
  hooks?: string;
  /** module: the file to import, or `builtin:demo`. */
  module?: string;
  timeoutMs: number;
  /** false: the minute tick skips this host's app. */
  tick?: boolean;
  /** Pages allowed to open sockets (Origin); undefined: the host itself only. */
  origins?: string[];
  /** Clients may send {"wsgate": "subscribe" | "unsubscribe", "channel": ...}; joining is checked by the subscribe hook. */
  clientChannels?: boolean;
  /** Options by channel pattern (the host's own, else the global ones). */
  channels?: ChannelRule[];
  /** History of host-wide and token casts (streams "@all" and "@token"). */
  history?: HistoryLimits;
  /** Frames kept for a token whose last socket closed. */
  replay?: ReplayLimits;
  /** Where the token comes from: the cookie (the default), a query parameter, or the first message. */
  tokenFrom?: 'cookie' | 'query' | 'message';
  /** The cookie's or the query parameter's name (default "token"). */
  tokenName?: string;
  /** message mode: how long a socket may take to send its auth frame. */
  authTimeoutMs?: number;
  /** resident: the pool's settings (global ones with this host's overrides). */
  pool?: PoolConfig;
}

export interface Config {
  /** The file it came from; undefined for the built-in default. */
  file?: string;
  listen: string;
  port: number;
  php: string;
  paths: PathRoute[];
  timeoutMs: number;
  maxBody: number;
  shutdownMs: number;
  hosts: HostConfig[];
  /** The global worker cap; undefined means cores - 1 (at least 1). */
  workerCap?: number;
  pool: PoolConfig;
  /** Apps /dispatch may run besides the hosts' apps. */
  apps: string[];
  /** The old daemon's behaviour: /dispatch runs any existing app path it is given. */
  dispatchAnyApp: boolean;
  schedule: ScheduleEntry[];
  /** The minute tick (`tasks::run` to every host app); undefined when off. */
  tick?: { everyMs: number };
  /** The bridge's bearer secret; callers not on loopback must send it. */
  secret?: string;
  limits: Limits;
  /** Seconds between pings (0: off). */
  keepalive: number;
  /** Seconds a socket may send nothing before it is closed (0: off). */
  idleTimeout: number;
  /** The bridge on its own address, so the public port carries only upgrades. */
  bridge?: { listen: string; port: number } | { path: string };
  /** Several gateways acting as one over Redis. */
  cluster?: ClusterConfig;
  /** HTTPS and WSS on the public port: the paths of the PEM certificate chain and its private key (read at start and at every reload). */
  tls?: { cert: string; key: string };
}

export interface ClusterConfig {
  redis: string;
  /** This node's name; default hostname:port once the port is known. */
  node?: string;
  prefix: string;
  deadlineMs: number;
  heartbeatMs: number;
  ttlMs: number;
}

/** How the loader reads files: injected, so the config stays runtime-agnostic and testable. */
export interface ConfigIO {
  readTextFile(path: string): Promise<string>;
  isFile(path: string): Promise<boolean>;
  cwd(): string;
}

/** Command-line overrides, merged over the file's values before validation. */
export interface Overrides {
  port?: number;
  listen?: string;
  php?: string;
  /** NAME=APP pairs; APP is a PHP app, or a module when it ends in .js/.ts/.mjs. */
  hosts?: string[];
  /** From $WSGATE_SECRET: used when the file sets none. */
  secret?: string;
  /** From $WSGATE_REDIS_URL: cluster mode with this Redis, when the file sets no cluster. */
  redis?: string;
}
