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
  /**
   * A busy worker may be written its next job, to wait in its stdin, even
   * when it did not offer pipelining: Phlo's phlo_serve and the daemon's
   * workers read one job line at a time and answer it before the next.
   */
  writeAhead: boolean;
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
  /** Bytes of frames first-frame sockets sent while their auth runs, all sockets together (see src/core/pending-budget.ts). */
  preAuthBytes: number;
  /** Channels one socket may be in when it asks to join one itself (clientChannels); the app's joins count but are never refused. */
  channelsPerSocket: number;
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
  /** How long each step of a reload may take before the reload fails. */
  reloadMs: number;
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
  /** Seconds a close waits for the client's answer before the connection is dropped. */
  closeTimeout: number;
  /** The bridge on its own address, so the public port carries only upgrades. */
  bridge?: { listen: string; port: number } | { path: string };
  /** Several gateways acting as one over Redis. */
  cluster?: ClusterConfig;
  /** HTTPS and WSS on the public port: the paths of the PEM certificate chain and its private key (read at start and at every reload). */
  tls?: { cert: string; key: string };
  /** Pusher Channels apps (pusher-js, Laravel Echo, Laravel broadcasting): upgrades at /app/{key}, the HTTP API at /apps/{id}. */
  pusher?: PusherConfig;
}

export interface PusherConfig {
  apps: PusherApp[];
}

/** What a Pusher app may post to its webhooks. */
export type PusherWebhookEvent = 'channel_occupied' | 'channel_vacated' | 'member_added' | 'member_removed' | 'client_event' | 'cache_miss';

/**
 * Where an app's webhook batches go: POSTed to a URL, or given to the
 * `webhook` hook of a configured host whose hooks run resident or in-process
 * (no HTTP round trip, no endpoint to expose).
 */
export type PusherWebhook = ({ url: string; host?: undefined } | { host: string; url?: undefined }) & {
  /** The events it takes; undefined: all of them. */
  events?: PusherWebhookEvent[];
};

/** Pusher's own limits, as its docs state them, each settable per app. */
export interface PusherLimits {
  /** Characters in a channel name (Pusher: 200; 164 for a user id). */
  channelName: number;
  /** Characters in an event name (Pusher: 200). */
  eventName: number;
  /** Bytes of an event's data (Pusher: 10 KB). */
  payload: number;
  /** Events in one batch_events request (Pusher: 10). */
  batch: number;
  /** Channels one event is triggered on (Pusher: 100). */
  channels: number;
  /** Users in one presence channel (Pusher: 100). */
  presenceMembers: number;
  /** Bytes of one member's user_info (Pusher: 1 KB). */
  userInfo: number;
  /** Channels one connection may be subscribed to at once (a bound on what a client can make the gateway hold; Pusher states none). */
  subscriptions: number;
}

export interface PusherApp {
  id: string;
  key: string;
  secret: string;
  /**
   * The host whose channels the app's sockets and API share (a channel is
   * the same channel for every protocol on it). When the file names none,
   * the app has a space of its own, `pusher:{id}`, with no hooks.
   */
  host: string;
  /** Whether `host` was named in the file (a configured host's), or is the app's own space. */
  sharesHost: boolean;
  /** Clients may send `client-` events on private and presence channels they are in. */
  clientEvents: boolean;
  /** Client events one connection may send per second (Pusher: 10); more gets error 4301. */
  clientEventsPerSecond: number;
  /** Pages allowed to connect (Origin); undefined: any, as Pusher (private channels are guarded by their signatures). */
  origins?: string[];
  /** Connections of this app at once, on this node; undefined: only the gateway's limits. */
  maxConnections?: number;
  /** Seconds without a frame before either side pings (sent to the client as activity_timeout). */
  activityTimeout: number;
  limits: PusherLimits;
  webhooks: PusherWebhook[];
}

export interface ClusterConfig {
  redis: string;
  /** This node's name; default hostname:port once the port is known. */
  node?: string;
  prefix: string;
  deadlineMs: number;
  /** How long the bus's Redis commands may go unanswered before Redis counts as down (cluster/stall-watch.ts); below deadlineMs. */
  redisTimeoutMs: number;
  heartbeatMs: number;
  ttlMs: number;
}

/** How the loader reads files: injected, so the config stays runtime-agnostic and testable. */
export interface ConfigIO {
  readTextFile(path: string): Promise<string>;
  isFile(path: string): Promise<boolean>;
  cwd(): string;
  /** The path with its symlinks resolved, as the pools key an app; without it, paths compare as written. */
  realPath?(path: string): Promise<string>;
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
  /** From $WSGATE_REDIS_URL: cluster mode with this Redis, when the file sets no cluster or a cluster without `redis`. */
  redis?: string;
  /**
   * From $WSGATE_PUSHER_APP_ID, _KEY, _SECRET and _HOST (Laravel's PUSHER_APP_* under wsgate's names):
   * one Pusher app, when the file has no "pusher" section. The first three go together.
   */
  pusherApp?: { id?: string; key?: string; secret?: string; host?: string };
  /** Where `{"env": "NAME"}` values are read; the process's environment when not given (tests give their own). */
  env?: (name: string) => string | undefined;
}
