/**
 * The config file: schema (valibot), defaults, resolution of relative paths,
 * and errors that name the file, the field path and what was expected.
 * Reading files is injected, so this module stays runtime-agnostic and testable.
 */
import { DEFAULT_HISTORY_BYTES } from '../core/history/budget.ts';
import { patternProblem } from './channel-rules.ts';
import type { ChannelRule } from './channel-rules.ts';
import type { HistoryLimits } from '../core/history/history.ts';
import type { ReplayLimits } from '../core/history/replay.ts';
import { pathProblem } from './paths.ts';
import type { PathRoute } from './paths.ts';
import { channelProblem } from '../core/targets.ts';
import * as v from 'valibot';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { hostKeyProblem, normaliseHost } from './hosts.ts';
import { isLoopbackListen } from '../http/access.ts';

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
  /** Bytes of past frames kept in all, history and replay together (see src/budget.ts). */
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

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

export interface ConfigIO {
  readTextFile(path: string): Promise<string>;
  isFile(path: string): Promise<boolean>;
  cwd(): string;
}

/** Frames kept per gone token when `replay` does not say. */
const REPLAY_FRAMES = 1000;

export const DEFAULTS = {
  listen: '127.0.0.1',
  port: 3001,
  php: 'php',
  paths: ['/websocket'],
  timeout: 30,
  maxBody: 1 << 20,
  shutdownTimeout: 10,
  pool: { idle: 60, maxJobs: 10_000, maxQueue: 1000, bootTimeout: 30 },
  limits: {
    frame: 1 << 20,
    sockets: 100_000,
    socketsPerHost: 100_000,
    socketsPerToken: 100,
    messagesPerSecond: 100,
    messageBurst: 200,
    pending: 100,
    sendBuffer: 4 << 20,
    historyBytes: DEFAULT_HISTORY_BYTES,
    // Hook processes mostly wait on I/O, so well above the cores; at ~20-30 MB a PHP CLI, 64 stay within a small box's memory.
    hookProcesses: 64,
    // About what 64 slots get through within one hook timeout when hooks take tens of ms; more would only wait longer.
    hookQueue: 1000,
    // Half the processes: one host's upgrade flood leaves room for other hosts and for every other hook.
    authsPerHost: 32,
    // As limits.frame: a line goes out as one frame, and a client may not send one bigger either.
    hookLine: 1 << 20,
  },
  keepalive: 30,
} as const;

const historyLimits = (given: { size: number; ttl: number } | undefined): HistoryLimits | undefined =>
  given && { size: given.size, ttlMs: given.ttl * 1000 };

export const BUILTIN_DEMO = 'builtin:demo';

const origins = v.optional(
  v.pipe(v.array(v.pipe(v.string('expected an origin such as "https://app.example.com", a host name, or "*"'), v.nonEmpty('expected an origin, got an empty string'))), v.minLength(1, 'expected at least one origin (["*"] allows any)')),
);
const tokenFields = {
  tokenFrom: v.optional(v.picklist(['cookie', 'query', 'message'], 'expected "cookie", "query" or "message"')),
  tokenName: v.optional(v.pipe(v.string('expected a cookie or parameter name'), v.regex(/^[\w.-]+$/, 'expected a name of letters, digits, _ . -'))),
  authTimeout: v.optional(v.pipe(v.number('expected a number of seconds'), v.minValue(0.001, 'expected a positive number of seconds'))),
};
const historySeconds = v.pipe(v.number('expected a number of seconds'), v.minValue(0.001, 'expected a positive number of seconds'));
const HistoryFields = v.strictObject(
  {
    size: v.pipe(v.number('expected a number of publications'), v.integer('expected a whole number'), v.minValue(1, 'expected at least 1'), v.maxValue(100_000, 'expected at most 100000')),
    ttl: historySeconds,
  },
  'expected an object such as {"size": 100, "ttl": 300}',
);
const ChannelOptionsFields = v.strictObject(
  { presenceEvents: v.optional(v.boolean('expected true or false'), false), history: v.optional(HistoryFields) },
  'expected an object such as {"presenceEvents": true, "history": {"size": 100, "ttl": 300}}',
);
const channelFields = {
  // Whether a client may join channels itself ({"wsgate": "subscribe", ...}), each checked by the subscribe hook.
  clientChannels: v.optional(v.boolean('expected true or false')),
  // Options by channel pattern: "room:1", "room:*" or "*".
  channels: v.optional(v.record(v.string(), ChannelOptionsFields, 'expected an object mapping channel patterns to options')),
  // History of the host-wide ("all") and token casts.
  history: v.optional(HistoryFields),
  // Frames kept for a token whose last socket closed, given to its next socket.
  replay: v.optional(
    v.strictObject(
      { window: historySeconds, frames: v.optional(v.pipe(v.number('expected a number of frames'), v.integer('expected a whole number'), v.minValue(1, 'expected at least 1')), REPLAY_FRAMES) },
      'expected an object such as {"window": 30}',
    ),
  ),
};
const seconds = v.pipe(v.number('expected a number of seconds'), v.minValue(0.001, 'expected a positive number of seconds'));
const nonEmpty = (what: string) => v.pipe(v.string(`expected ${what}`), v.nonEmpty(`expected ${what}, got an empty string`));

const count = (what: string) => v.pipe(v.number(`expected ${what}`), v.integer(`expected a whole number`), v.minValue(1, 'expected at least 1'));
const PoolOverrides = {
  idle: v.optional(seconds),
  maxJobs: v.optional(count('a number of jobs')),
  maxQueue: v.optional(count('a number of jobs')),
  bootTimeout: v.optional(seconds),
};
const PoolFields = v.strictObject({ cap: v.optional(count('a number of workers')), ...PoolOverrides });
const HostPool = v.strictObject(PoolOverrides);

const ScheduleFields = v.strictObject({
  app: nonEmpty('the path of an app.php'),
  target: nonEmpty('a target such as "tasks::run"'),
  every: seconds,
  build: v.optional(v.boolean('expected true (one-shot) or false (resident pool)'), false),
});

const LimitFields = v.strictObject({
  frame: v.optional(count('a size in bytes')),
  sockets: v.optional(count('a number of sockets')),
  socketsPerHost: v.optional(count('a number of sockets')),
  socketsPerToken: v.optional(count('a number of sockets')),
  messagesPerSecond: v.optional(v.pipe(v.number('expected messages per second'), v.minValue(0.001, 'expected a positive rate'))),
  messageBurst: v.optional(count('a number of messages')),
  pending: v.optional(count('a number of messages')),
  sendBuffer: v.optional(count('a size in bytes')),
  // Below a kilobyte not even one stream with one frame would fit.
  historyBytes: v.optional(v.pipe(v.number('expected a size in bytes'), v.integer('expected a whole number of bytes'), v.minValue(1024, 'expected at least 1024 bytes'))),
  hookProcesses: v.optional(count('a number of processes')),
  hookQueue: v.optional(v.pipe(v.number('expected a number of jobs'), v.integer('expected a whole number'), v.minValue(0, 'expected 0 or more'))),
  authsPerHost: v.optional(count('a number of auth hooks')),
  hookLine: v.optional(count('a size in bytes')),
});

const TopLevel = v.strictObject({
  listen: v.optional(nonEmpty('an address to listen on'), DEFAULTS.listen),
  port: v.optional(
    v.pipe(v.number('expected a port number'), v.integer('expected a whole port number'), v.minValue(0, 'expected a port from 0 to 65535'), v.maxValue(65535, 'expected a port from 0 to 65535')),
    DEFAULTS.port,
  ),
  php: v.optional(nonEmpty('the PHP binary (a name on PATH or a path)'), DEFAULTS.php),
  // A list of paths, or an object mapping paths and templates ("/ws/rooms/{room}") to what a socket there joins.
  paths: v.optional(
    v.union(
      [
        v.pipe(v.array(v.string('expected a path')), v.minLength(1, 'expected at least one path')),
        v.pipe(
          v.record(v.string(), v.object({ channels: v.optional(v.array(v.string('expected a channel template such as "room:{room}"')), []) }, 'expected an object such as {"channels": ["room:{room}"]}')),
          v.check((o) => Object.keys(o).length > 0, 'expected at least one path'),
        ),
      ],
      'expected a list of paths, or an object mapping paths to {"channels": [...]}',
    ),
    [...DEFAULTS.paths],
  ),
  timeout: v.optional(seconds, DEFAULTS.timeout),
  maxBody: v.optional(v.pipe(v.number('expected a size in bytes'), v.integer('expected a whole number of bytes'), v.minValue(1, 'expected at least 1 byte')), DEFAULTS.maxBody),
  shutdownTimeout: v.optional(seconds, DEFAULTS.shutdownTimeout),
  hosts: v.record(v.string(), v.unknown(), 'expected an object mapping host names to apps'),
  pool: v.optional(PoolFields, {}),
  apps: v.optional(v.array(nonEmpty('the path of an app.php')), []),
  dispatchAnyApp: v.optional(v.boolean('expected true or false'), false),
  schedule: v.optional(v.array(ScheduleFields), []),
  secret: v.optional(v.pipe(v.string('expected a string'), v.minLength(16, 'expected a secret of at least 16 characters'))),
  cluster: v.optional(
    v.pipe(
      v.strictObject({
        redis: v.pipe(nonEmpty('a Redis URL such as "redis://127.0.0.1:6379"'), v.regex(/^rediss?:\/\//, 'expected a Redis URL such as "redis://127.0.0.1:6379"')),
        node: v.optional(v.pipe(nonEmpty('a node name'), v.regex(/^[\w.:-]+$/, 'expected a node name of letters, digits, _ . : -'))),
        prefix: v.optional(v.string('expected a key prefix'), 'wsgate:'),
        deadline: v.optional(seconds, 1),
        heartbeat: v.optional(seconds, 1),
        ttl: v.optional(seconds, 5),
      }),
      v.check((c) => c.ttl > c.heartbeat, 'ttl must be longer than heartbeat, or live nodes would expire between beats'),
    ),
  ),
  origins,
  ...tokenFields,
  ...channelFields,
  limits: v.optional(LimitFields, {}),
  bridge: v.optional(
    v.union(
      [
        v.strictObject({ path: nonEmpty('the path of a unix socket') }),
        v.strictObject({
          listen: v.optional(nonEmpty('an address to listen on'), DEFAULTS.listen),
          port: v.pipe(v.number('expected a port number'), v.integer('expected a whole port number'), v.minValue(0, 'expected a port from 0 to 65535'), v.maxValue(65535, 'expected a port from 0 to 65535')),
        }),
      ],
      'expected {"listen": "127.0.0.1", "port": 3002} or {"path": "/run/wsgate.sock"}',
    ),
  ),
  tls: v.optional(
    v.strictObject(
      { cert: nonEmpty('the path of a PEM certificate chain, e.g. "/etc/letsencrypt/live/example.com/fullchain.pem"'), key: nonEmpty('the path of its PEM private key, e.g. "/etc/letsencrypt/live/example.com/privkey.pem"') },
      'expected {"cert": "/path/fullchain.pem", "key": "/path/privkey.pem"}',
    ),
  ),
  keepalive: v.optional(v.pipe(v.number('expected seconds between pings (0: off)'), v.minValue(0, 'expected 0 or more seconds')), DEFAULTS.keepalive),
  idleTimeout: v.optional(v.pipe(v.number('expected seconds (0: off)'), v.minValue(0, 'expected 0 or more seconds')), 0),
  tick: v.optional(
    v.union([v.boolean(), v.strictObject({ every: seconds })], 'expected true, false or {"every": <seconds>}'),
    true,
  ),
});

const AppEntry = v.strictObject({
  origins,
  ...tokenFields,
  ...channelFields,
  app: nonEmpty('the path of the app.php'),
  build: v.optional(v.boolean('expected true (one-shot per event) or false (resident workers)'), true),
  timeout: v.optional(seconds),
  pool: v.optional(HostPool),
  tick: v.optional(v.boolean('expected true or false')),
});
const HooksEntry = v.strictObject({
  origins,
  ...tokenFields,
  ...channelFields,
  hooks: nonEmpty('the path of a PHP file defining wsAuth, wsConnect, wsReceive or wsClose'),
  build: v.optional(v.boolean('expected true (one-shot per event) or false (resident workers)'), true),
  timeout: v.optional(seconds),
  pool: v.optional(HostPool),
});
const CommandEntry = v.strictObject({
  origins,
  ...tokenFields,
  ...channelFields,
  command: v.pipe(v.array(v.string('expected a string')), v.minLength(1, 'expected a program and its arguments, e.g. ["node", "hooks.js"]')),
  timeout: v.optional(seconds),
});
const ModuleEntry = v.strictObject({
  origins,
  ...tokenFields,
  ...channelFields,
  module: nonEmpty('the path of a JS/TS module'),
});

type PoolFieldsOut = { idle?: number; maxJobs?: number; maxQueue?: number; bootTimeout?: number };

/** Pool settings: the defaults, under the global `pool`, under the host's own. */
function poolOf(global: PoolFieldsOut, host: PoolFieldsOut = {}): PoolConfig {
  const p = { ...global, ...host };
  return {
    idleMs: (p.idle ?? DEFAULTS.pool.idle) * 1000,
    maxJobs: p.maxJobs ?? DEFAULTS.pool.maxJobs,
    maxQueue: p.maxQueue ?? DEFAULTS.pool.maxQueue,
    bootTimeoutMs: (p.bootTimeout ?? DEFAULTS.pool.bootTimeout) * 1000,
  };
}

/** Only an explicit `tick: false` is kept, so resolved hosts stay free of noise. */
const tickOf = (tick: boolean | undefined) => (tick === false ? { tick } : {});

function pathText(base: string, issue: v.BaseIssue<unknown>): string {
  let out = base;
  for (const item of issue.path ?? []) {
    const key = item.key;
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out || '(top level)';
}

function describe(issue: v.BaseIssue<unknown>): string {
  if (issue.type === 'strict_object' && issue.expected === 'never') return 'unknown field';
  if (issue.type === 'strict_object' && issue.received === 'undefined') return 'is required';
  if (issue.message.startsWith('Invalid type') || issue.message.startsWith('Invalid key')) {
    return `expected ${issue.expected}, got ${issue.received}`;
  }
  return `${issue.message}, got ${issue.received}`;
}

function issuesToProblems(where: string, base: string, issues: v.BaseIssue<unknown>[]): string[] {
  return issues.map((issue) => `${where}: ${pathText(base, issue)}: ${describe(issue)}`);
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '.') : path.slice(0, i);
}

export function resolvePath(path: string, base: string): string {
  if (path.startsWith('/')) return path;
  const joined = `${base.replace(/\/$/, '')}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/**
 * Validates a parsed config object. `where` names its source in errors;
 * relative paths resolve against `baseDir`. File existence is checked by `finish`.
 */
export function parseConfig(input: unknown, where: string, baseDir: string): Config {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError([`${where}: expected a JSON object with "hosts", got ${Array.isArray(input) ? 'an array' : input === null ? 'null' : typeof input}`]);
  }
  const top = v.safeParse(TopLevel, input);
  if (!top.success) throw new ConfigError(issuesToProblems(where, '', top.issues));
  const raw = top.output;
  const problems: string[] = [];
  const hosts: HostConfig[] = [];
  const seen = new Map<string, string>();
  const timeoutMs = raw.timeout * 1000;

  for (const [rawKey, entry] of Object.entries(raw.hosts)) {
    const field = `hosts[${JSON.stringify(rawKey)}]`;
    const key = rawKey.trim() === '*' || rawKey.trim().startsWith('*.') ? rawKey.trim().toLowerCase() : normaliseHost(rawKey);
    const keyProblem = hostKeyProblem(key);
    if (keyProblem) {
      problems.push(`${where}: ${field}: host key ${keyProblem}`);
      continue;
    }
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      problems.push(`${where}: ${field}: names the same host as ${JSON.stringify(earlier)} ("${key}")`);
      continue;
    }
    seen.set(key, rawKey);

    if (typeof entry === 'string') {
      if (!entry.trim()) {
        problems.push(`${where}: ${field}: expected the path of the app.php, got an empty string`);
        continue;
      }
      const app = resolvePath(entry, baseDir);
      hosts.push({ key, mode: 'oneshot', app, command: [raw.php, app], timeoutMs });
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(
        `${where}: ${field}: expected an app path (string) or an object with "app", "command" or "module", got ${Array.isArray(entry) ? 'an array' : entry === null ? 'null' : typeof entry}`,
      );
      continue;
    }
    const forms = ['app', 'hooks', 'command', 'module'].filter((k) => k in entry);
    if (forms.length !== 1) {
      problems.push(
        `${where}: ${field}: expected exactly one of "app", "hooks", "command" or "module", got ${forms.length ? forms.map((f) => `"${f}"`).join(' and ') : 'none'}`,
      );
      continue;
    }
    const form = forms[0];
    if (form === 'app') {
      const parsed = v.safeParse(AppEntry, entry);
      if (!parsed.success) {
        problems.push(...issuesToProblems(where, field, parsed.issues));
        continue;
      }
      const app = resolvePath(parsed.output.app, baseDir);
      const hostTimeout = (parsed.output.timeout ?? raw.timeout) * 1000;
      if (parsed.output.build === false) {
        const pool = poolOf(raw.pool, parsed.output.pool);
        hosts.push({ key, mode: 'resident', app, command: [raw.php, app, 'phlo_serve'], timeoutMs: hostTimeout, pool, ...tickOf(parsed.output.tick) });
      } else {
        if (parsed.output.pool) {
          problems.push(`${where}: ${field}.pool: pool settings apply to resident hosts only ("build": false)`);
          continue;
        }
        hosts.push({ key, mode: 'oneshot', app, command: [raw.php, app], timeoutMs: hostTimeout, ...tickOf(parsed.output.tick) });
      }
    } else if (form === 'hooks') {
      const parsed = v.safeParse(HooksEntry, entry);
      if (!parsed.success) {
        problems.push(...issuesToProblems(where, field, parsed.issues));
        continue;
      }
      const hooks = resolvePath(parsed.output.hooks, baseDir);
      const hostTimeout = (parsed.output.timeout ?? raw.timeout) * 1000;
      if (parsed.output.build === false) {
        hosts.push({ key, mode: 'resident', hooks, timeoutMs: hostTimeout, pool: poolOf(raw.pool, parsed.output.pool) });
      } else if (parsed.output.pool) {
        problems.push(`${where}: ${field}.pool: pool settings apply to resident hosts only ("build": false)`);
      } else {
        hosts.push({ key, mode: 'oneshot', hooks, timeoutMs: hostTimeout });
      }
    } else if (form === 'command') {
      const parsed = v.safeParse(CommandEntry, entry);
      if (!parsed.success) {
        problems.push(...issuesToProblems(where, field, parsed.issues));
        continue;
      }
      hosts.push({ key, mode: 'oneshot', command: parsed.output.command, timeoutMs: (parsed.output.timeout ?? raw.timeout) * 1000 });
    } else {
      const parsed = v.safeParse(ModuleEntry, entry);
      if (!parsed.success) {
        problems.push(...issuesToProblems(where, field, parsed.issues));
        continue;
      }
      const module = parsed.output.module === BUILTIN_DEMO ? BUILTIN_DEMO : resolvePath(parsed.output.module, baseDir);
      hosts.push({ key, mode: 'module', module, timeoutMs });
    }
  }
  if (hosts.length === 0 && problems.length === 0) problems.push(`${where}: hosts: expected at least one host`);

  // Origins: the host's own list, else the top-level one, else (unset) the host itself.
  for (const host of hosts) {
    const entry = raw.hosts[seen.get(host.key)!];
    const own = typeof entry === 'object' && entry !== null && 'origins' in entry ? (entry as { origins: string[] }).origins : undefined;
    const list = own ?? raw.origins;
    if (list) host.origins = list;
    const fields = (typeof entry === 'object' && entry !== null ? entry : {}) as { tokenFrom?: HostConfig['tokenFrom']; tokenName?: string; authTimeout?: number; clientChannels?: boolean };
    if (fields.clientChannels ?? raw.clientChannels) host.clientChannels = true;
    type ChannelFields = { channels?: Record<string, { presenceEvents: boolean; history?: { size: number; ttl: number } }>; history?: { size: number; ttl: number }; replay?: { window: number; frames: number } };
    const hostFields = (typeof entry === 'object' && entry !== null ? entry : {}) as ChannelFields;
    const rules = hostFields.channels ?? raw.channels;
    if (rules) {
      host.channels = Object.entries(rules).map(([pattern, options]) => ({ pattern, presenceEvents: options.presenceEvents === true, history: historyLimits(options.history) }));
      for (const rule of host.channels) {
        const problem = patternProblem(rule.pattern);
        if (problem) problems.push(`${where}: ${JSON.stringify(host.key)}: channels: ${JSON.stringify(rule.pattern)}: ${problem}`);
      }
    }
    const history = historyLimits(hostFields.history ?? raw.history);
    if (history) host.history = history;
    const replay = hostFields.replay ?? raw.replay;
    // The host's own fields are read as given: the schema's default is not in them.
    if (replay) host.replay = { windowMs: replay.window * 1000, frames: replay.frames ?? REPLAY_FRAMES };
    const tokenFrom = fields.tokenFrom ?? raw.tokenFrom;
    const tokenName = fields.tokenName ?? raw.tokenName;
    const authTimeout = fields.authTimeout ?? raw.authTimeout;
    if (tokenFrom && tokenFrom !== 'cookie') host.tokenFrom = tokenFrom;
    if (tokenName && tokenName !== 'token') host.tokenName = tokenName;
    if (host.tokenFrom === 'message') host.authTimeoutMs = (authTimeout ?? 10) * 1000;
  }

  const paths: PathRoute[] = Array.isArray(raw.paths)
    ? raw.paths.map((template) => ({ template, channels: [] }))
    : Object.entries(raw.paths).map(([template, route]) => ({ template, channels: route.channels }));
  for (const route of paths) {
    const problem = pathProblem(route);
    if (problem) problems.push(`${where}: paths: ${JSON.stringify(route.template)}: ${problem}`);
    for (const channel of route.channels) {
      const bad = channelProblem(channel);
      if (bad) problems.push(`${where}: paths: ${JSON.stringify(route.template)}: channels: ${bad}`);
    }
  }

  // Hosts that share an app share its pool, so they must agree on its settings.
  const pools = new Map<string, [string, PoolConfig]>();
  for (const host of hosts) {
    if (host.mode !== 'resident') continue;
    const file = (host.app ?? host.hooks)!;
    const seenPool = pools.get(file);
    if (!seenPool) pools.set(file, [host.key, host.pool!]);
    else if (JSON.stringify(seenPool[1]) !== JSON.stringify(host.pool)) {
      problems.push(`${where}: hosts[${JSON.stringify(host.key)}].pool: differs from hosts[${JSON.stringify(seenPool[0])}].pool, which runs the same app; give both the same settings`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const globalPool = poolOf(raw.pool);

  return {
    listen: raw.listen,
    port: raw.port,
    php: raw.php,
    paths,
    timeoutMs,
    maxBody: raw.maxBody,
    shutdownMs: raw.shutdownTimeout * 1000,
    hosts,
    workerCap: raw.pool.cap,
    pool: globalPool,
    apps: raw.apps.map((app) => resolvePath(app, baseDir)),
    dispatchAnyApp: raw.dispatchAnyApp,
    schedule: raw.schedule.map((e) => ({ app: resolvePath(e.app, baseDir), target: e.target, everyMs: e.every * 1000, build: e.build })),
    tick: raw.tick === false ? undefined : { everyMs: raw.tick === true ? 60_000 : raw.tick.every * 1000 },
    secret: raw.secret,
    limits: { ...DEFAULTS.limits, ...raw.limits },
    keepalive: raw.keepalive,
    idleTimeout: raw.idleTimeout,
    ...(raw.cluster && {
      cluster: { redis: raw.cluster.redis, node: raw.cluster.node, prefix: raw.cluster.prefix, deadlineMs: raw.cluster.deadline * 1000, heartbeatMs: raw.cluster.heartbeat * 1000, ttlMs: raw.cluster.ttl * 1000 },
    }),
    ...(raw.bridge && { bridge: 'path' in raw.bridge ? { path: resolvePath(raw.bridge.path, baseDir) } : { listen: raw.bridge.listen, port: raw.bridge.port } }),
    ...(raw.tls && { tls: { cert: resolvePath(raw.tls.cert, baseDir), key: resolvePath(raw.tls.key, baseDir) } }),
  };
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

function mergeOverrides(raw: unknown, overrides: Overrides): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const merged: Record<string, unknown> = { ...raw };
  if (overrides.port !== undefined) merged.port = overrides.port;
  if (overrides.listen !== undefined) merged.listen = overrides.listen;
  if (overrides.php !== undefined) merged.php = overrides.php;
  if (overrides.secret && merged.secret === undefined) merged.secret = overrides.secret;
  if (overrides.redis && merged.cluster === undefined) merged.cluster = { redis: overrides.redis };
  if (overrides.hosts?.length) {
    const hosts: Record<string, unknown> = typeof merged.hosts === 'object' && merged.hosts !== null ? { ...merged.hosts } : {};
    for (const pair of overrides.hosts) {
      const eq = pair.indexOf('=');
      if (eq <= 0 || eq === pair.length - 1) {
        throw new ConfigError([`--host ${pair}: expected NAME=APP, e.g. --host example.com=/srv/app/www/app.php`]);
      }
      const target = pair.slice(eq + 1);
      hosts[pair.slice(0, eq)] = /\.(m?[jt]s)$/.test(target) ? { module: target } : target;
    }
    merged.hosts = hosts;
  }
  return merged;
}

/**
 * The built-in default: every host gets the demo chat rooms (a room per
 * /ws/rooms/{room}, with presence and history), and /websocket stays the
 * one-room chat Phlo's page script would use.
 */
export const DEFAULT_CONFIG = {
  hosts: { '*': { module: BUILTIN_DEMO, channels: { 'room:*': { presenceEvents: true, history: { size: 200, ttl: 600 } } } } },
  paths: { '/websocket': {}, '/ws/rooms/{room}': { channels: ['room:{room}'] } },
};

/**
 * The config wsgate serves: the file (if any) with the command line over it,
 * validated, with every app and module checked to exist. Without a file and
 * without --host, the built-in demo.
 */
export async function loadConfig(file: string | undefined, io: ConfigIO, overrides: Overrides = {}): Promise<Config> {
  let raw: unknown = overrides.hosts?.length ? { hosts: {} } : DEFAULT_CONFIG;
  let where = overrides.hosts?.length ? '(command line)' : '(built-in default)';
  let baseDir = io.cwd();
  let path: string | undefined;
  if (file !== undefined) {
    path = resolvePath(file, io.cwd());
    where = file;
    baseDir = dirname(path);
    let text: string;
    try {
      text = await io.readTextFile(path);
    } catch (error) {
      throw new ConfigError([`${file}: cannot read the config file: ${(error as Error).message}`]);
    }
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new ConfigError([`${file}: not valid JSON: ${(error as Error).message}`]);
    }
  }
  const config = parseConfig(mergeOverrides(raw, overrides), where, baseDir);
  config.file = path;
  await checkFiles(config, where, io);
  return config;
}

/**
 * Whether a loaded config may be served: the rules that depend on more than
 * one field. `serve`, a reload and `check` all ask this one function, so
 * `check` never passes a config that `serve` would refuse.
 */
export function servePolicy(config: Config): Config {
  // The bridge is where the danger is: on the public port unless it has its own address.
  const bridgeListen = config.bridge ? ('path' in config.bridge ? '127.0.0.1' : config.bridge.listen) : config.listen;
  if (!isLoopbackListen(bridgeListen) && !config.secret) {
    throw new ConfigError([
      `listening on ${bridgeListen} would let anyone who can reach it cast to every socket through /message: set "secret" in the config (16+ characters) or WSGATE_SECRET, give the bridge its own loopback address ("bridge": {"port": 3002}), or listen on 127.0.0.1 behind a proxy`,
    ]);
  }
  return config;
}

/** Apps and modules must exist at start: a typo fails now, not at the first event. */
async function checkFiles(config: Config, where: string, io: ConfigIO): Promise<void> {
  const problems: string[] = [];
  const missing = async (file: string | undefined) => file !== undefined && !(await io.isFile(file));
  for (const host of config.hosts) {
    const [field, file] = host.app ? ['app', host.app] : host.hooks ? ['hooks', host.hooks] : ['module', host.module !== BUILTIN_DEMO ? host.module : undefined];
    if (await missing(file)) {
      problems.push(`${where}: hosts[${JSON.stringify(host.key)}].${field}: expected an existing file, but ${file} does not exist`);
    }
  }
  for (const [i, app] of config.apps.entries()) {
    if (await missing(app)) problems.push(`${where}: apps[${i}]: expected an existing file, but ${app} does not exist`);
  }
  for (const [i, entry] of config.schedule.entries()) {
    if (await missing(entry.app)) problems.push(`${where}: schedule[${i}].app: expected an existing file, but ${entry.app} does not exist`);
  }
  if (config.tls) problems.push(...(await tlsProblems(config.tls, where, io)));
  if (problems.length) throw new ConfigError(problems);
}

const BEGIN_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const BEGIN_PRIVATE_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

/**
 * The certificate and key must be readable PEM and belong together: checked at
 * start and at every reload, so a bad renewal fails the reload and the running
 * certificate stays. (node:crypto parses them the same on Bun, Deno and Node.)
 */
async function tlsProblems(tls: { cert: string; key: string }, where: string, io: ConfigIO): Promise<string[]> {
  const problems: string[] = [];
  const read = async (field: 'cert' | 'key'): Promise<string | undefined> => {
    const file = tls[field];
    if (!(await io.isFile(file))) {
      problems.push(`${where}: tls.${field}: expected an existing file, but ${file} does not exist`);
      return undefined;
    }
    try {
      return await io.readTextFile(file);
    } catch (error) {
      problems.push(`${where}: tls.${field}: cannot read ${file}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const certText = await read('cert');
  const keyText = await read('key');
  let cert: X509Certificate | undefined;
  if (certText !== undefined) {
    if (!certText.includes(BEGIN_CERTIFICATE)) problems.push(`${where}: tls.cert: expected a PEM certificate chain ("${BEGIN_CERTIFICATE}"), but ${tls.cert} holds none`);
    else {
      try {
        cert = new X509Certificate(certText);
      } catch (error) {
        problems.push(`${where}: tls.cert: ${tls.cert} does not hold a valid certificate: ${(error as Error).message}`);
      }
    }
  }
  let key: ReturnType<typeof createPrivateKey> | undefined;
  if (keyText !== undefined) {
    if (!BEGIN_PRIVATE_KEY.test(keyText)) problems.push(`${where}: tls.key: expected a PEM private key ("-----BEGIN PRIVATE KEY-----"), but ${tls.key} holds none`);
    else if (keyText.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(keyText)) {
      problems.push(`${where}: tls.key: ${tls.key} is encrypted with a passphrase, which wsgate cannot ask for: give it the key unencrypted (openssl pkey -in key.pem -out key-plain.pem), readable by wsgate's user only`);
    } else {
      try {
        key = createPrivateKey(keyText);
      } catch (error) {
        problems.push(`${where}: tls.key: ${tls.key} does not hold a usable private key: ${(error as Error).message}`);
      }
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) {
    problems.push(`${where}: tls.key: ${tls.key} is not the private key of the certificate in tls.cert (${tls.cert}); give the key that was issued with it`);
  }
  return problems;
}
