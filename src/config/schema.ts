/**
 * The schemas of the config's fields, each with the words a problem with it
 * is reported in. Where a field has a resolved form (milliseconds, rules,
 * routes), its schema transforms to that, so what comes out is typed.
 */
import * as v from 'valibot';
import { parseRedisUrl } from './redis-url.ts';
import { patternProblem } from './channel-rules.ts';
import type { ChannelRule } from './channel-rules.ts';
import { pathProblem } from './paths.ts';
import type { PathRoute } from './paths.ts';
import { channelProblem } from '../core/targets.ts';
import type { HistoryLimits } from '../core/history/history.ts';
import { DEFAULTS, REPLAY_FRAMES } from './defaults.ts';
import { at } from './problems.ts';

export const seconds = v.pipe(v.number('expected a number of seconds'), v.minValue(0.001, 'expected a positive number of seconds'));
/**
 * The longest delay Node, Bun and Deno timers take (2^31-1 ms): a longer one
 * fires after 1 ms, so a 30-day hook timeout would kill every hook at once.
 */
export const MAX_TIMER_SECONDS = 2_147_483;
/** Seconds that become a timer's delay. */
export const timerSeconds = v.pipe(seconds, v.maxValue(MAX_TIMER_SECONDS, `expected at most ${MAX_TIMER_SECONDS} seconds (about 24 days), the longest a timer can wait`));
export const nonEmpty = (what: string) => v.pipe(v.string(`expected ${what}`), v.nonEmpty(`expected ${what}, got an empty string`));
export const count = (what: string) => v.pipe(v.number(`expected ${what}`), v.integer(`expected a whole number`), v.minValue(1, 'expected at least 1'));
/** Why `value` is no address to bind, if it is not. */
function listenProblem(value: string): string | undefined {
  const got = JSON.stringify(value.slice(0, 100));
  if (/^[a-z][\w+.-]*:\/\//i.test(value)) return `expected an address to listen on such as "127.0.0.1", "0.0.0.0" or "::", not a URL, got ${got}`;
  const withPort = /^([^:]+):\d+$/.exec(value);
  if (withPort) return `expected an address without a port, such as ${JSON.stringify(withPort[1])} (the port goes in "port"), got ${got}`;
  const ip6 = /^[0-9a-f:.]+(%[\w.-]+)?$/i;
  if (value.includes(':') ? !ip6.test(value) : !/^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(value)) {
    return `expected an IP address or a host name such as "127.0.0.1", "0.0.0.0" or "::", got ${got}`;
  }
  return undefined;
}

/**
 * An address to bind, alone. Anything else passed the config before and
 * failed at bind ("getaddrinfo ENOTFOUND 127.0.0.1:3001", exit 1), after the
 * no-secret rule, which takes an address it does not know for a public one,
 * had asked for a secret. An IPv6 address may come in a URL's brackets:
 * Node and Deno cannot bind those, so they go.
 */
export const listenAddress = v.pipe(
  nonEmpty('an address to listen on'),
  v.transform((value) => (/^\[[^\]]*\]$/.test(value) ? value.slice(1, -1) : value)),
  v.rawCheck(({ dataset, addIssue }) => {
    const problem = dataset.typed ? listenProblem(dataset.value) : undefined;
    if (problem) addIssue({ message: problem });
  }),
);
export const port = v.pipe(v.number('expected a port number'), v.integer('expected a whole port number'), v.minValue(0, 'expected a port from 0 to 65535'), v.maxValue(65535, 'expected a port from 0 to 65535'));

const History = v.pipe(
  v.strictObject(
    {
      size: v.pipe(v.number('expected a number of publications'), v.integer('expected a whole number'), v.minValue(1, 'expected at least 1'), v.maxValue(100_000, 'expected at most 100000')),
      ttl: seconds,
    },
    'expected an object such as {"size": 100, "ttl": 300}',
  ),
  v.transform(({ size, ttl }): HistoryLimits => ({ size, ttlMs: ttl * 1000 })),
);

const ChannelOptions = v.strictObject(
  { presenceEvents: v.optional(v.boolean('expected true or false'), false), history: v.optional(History) },
  'expected an object such as {"presenceEvents": true, "history": {"size": 100, "ttl": 300}}',
);

/** A channel pattern: "room:1", "room:*" or "*". */
const ChannelPattern = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    const problem = dataset.typed ? patternProblem(dataset.value) : undefined;
    if (problem) addIssue({ message: problem });
  }),
);

/**
 * What a host may set for itself and the top level may set for every host; a
 * host's own value wins (see inherit in hosts-schema.ts).
 */
export const sharedFields = {
  // Pages allowed to open sockets; unset: the host itself only.
  origins: v.optional(
    v.pipe(v.array(v.pipe(v.string('expected an origin such as "https://app.example.com", a host name, or "*"'), v.nonEmpty('expected an origin, got an empty string'))), v.minLength(1, 'expected at least one origin (["*"] allows any)')),
  ),
  tokenFrom: v.optional(v.picklist(['cookie', 'query', 'message'], 'expected "cookie", "query" or "message"')),
  tokenName: v.optional(v.pipe(v.string('expected a cookie or parameter name'), v.regex(/^[\w.-]+$/, 'expected a name of letters, digits, _ . -'))),
  authTimeout: v.optional(timerSeconds),
  // Whether a client may join channels itself ({"wsgate": "subscribe", ...}), each checked by the subscribe hook.
  clientChannels: v.optional(v.boolean('expected true or false')),
  // Options by channel pattern.
  channels: v.optional(
    v.pipe(
      v.record(ChannelPattern, ChannelOptions, 'expected an object mapping channel patterns to options'),
      v.transform((rules) => Object.entries(rules).map(([pattern, options]): ChannelRule => ({ pattern, presenceEvents: options.presenceEvents, history: options.history }))),
    ),
  ),
  // History of the host-wide ("all") and token casts.
  history: v.optional(History),
  // Frames kept for a token whose last socket closed, given to its next socket.
  replay: v.optional(
    v.pipe(
      v.strictObject(
        { window: seconds, frames: v.optional(v.pipe(v.number('expected a number of frames'), v.integer('expected a whole number'), v.minValue(1, 'expected at least 1')), REPLAY_FRAMES) },
        'expected an object such as {"window": 30}',
      ),
      v.transform(({ window, frames }) => ({ windowMs: window * 1000, frames })),
    ),
  ),
};
const Shared = v.object(sharedFields);
export type SharedOptions = v.InferOutput<typeof Shared>;

export const poolFields = {
  idle: v.optional(seconds),
  maxJobs: v.optional(count('a number of jobs')),
  maxQueue: v.optional(count('a number of jobs')),
  bootTimeout: v.optional(timerSeconds),
  writeAhead: v.optional(v.boolean('expected true (write a busy worker its next job) or false (one job at a time)')),
};
export const HostPool = v.strictObject(poolFields);
export type PoolFields = v.InferOutput<typeof HostPool>;
export const Pool = v.strictObject({ cap: v.optional(count('a number of workers')), ...poolFields });

export const Schedule = v.strictObject({
  app: nonEmpty('the path of an app.php'),
  target: nonEmpty('a target such as "tasks::run"'),
  every: timerSeconds,
  build: v.optional(v.boolean('expected true (one-shot) or false (resident pool)'), false),
});

export const LimitsFields = v.strictObject({
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
  preAuthBytes: v.optional(count('a size in bytes')),
  channelsPerSocket: v.optional(count('a number of channels')),
});

/** A list of paths, or an object mapping paths and templates ("/ws/rooms/{room}") to what a socket there joins. */
export const Paths = v.pipe(
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
  v.transform((paths): PathRoute[] =>
    Array.isArray(paths) ? paths.map((template) => ({ template, channels: [] })) : Object.entries(paths).map(([template, route]) => ({ template, channels: route.channels })),
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const route of dataset.value) {
      const problem = pathProblem(route);
      if (problem) addIssue({ message: `${JSON.stringify(route.template)}: ${problem}` });
      for (const channel of route.channels) {
        const bad = channelProblem(channel);
        if (bad) addIssue({ message: `${JSON.stringify(route.template)}: channels: ${bad}` });
      }
    }
  }),
);

export const Cluster = v.pipe(
  v.strictObject({
    redis: v.pipe(
      nonEmpty('a Redis URL such as "redis://127.0.0.1:6379"'),
      v.rawCheck(({ dataset, addIssue }) => {
        if (!dataset.typed) return;
        const target = parseRedisUrl(dataset.value);
        if ('problem' in target) addIssue({ message: target.problem });
      }),
    ),
    node: v.optional(v.pipe(nonEmpty('a node name'), v.regex(/^[\w.:-]+$/, 'expected a node name of letters, digits, _ . : -'))),
    prefix: v.optional(v.string('expected a key prefix')),
    deadline: v.optional(timerSeconds, 1),
    /** Default: half the deadline. */
    redisTimeout: v.optional(timerSeconds),
    heartbeat: v.optional(timerSeconds, 1),
    ttl: v.optional(seconds, 5),
  }),
  v.check((c) => {
    const target = parseRedisUrl(c.redis);
    return 'problem' in target || target.prefix === undefined || c.prefix === undefined || target.prefix === c.prefix;
  }, 'prefix differs from the one the redis URL gives (?prefix=): give it once'),
  v.check((c) => c.ttl > c.heartbeat, 'ttl must be longer than heartbeat, or live nodes would expire between beats'),
  // A request whose PUBLISH hangs is applied here alone once Redis counts as stalled: past its deadline its caller was told this node missed it.
  v.rawCheck(({ dataset, addIssue }) => {
    // One that is no timer already says so: once is enough.
    const refused = dataset.issues?.some((issue) => ['deadline', 'redisTimeout'].includes(String(issue.path?.at(-1)?.key)));
    if (dataset.typed && !refused && dataset.value.redisTimeout !== undefined && dataset.value.redisTimeout >= dataset.value.deadline) {
      addIssue({ message: `expected less than the deadline (${dataset.value.deadline} s), so a request Redis does not answer is still applied here within it; got ${dataset.value.redisTimeout}`, path: at('redisTimeout') });
    }
  }),
);

export const Bridge = v.union(
  [
    v.strictObject({ path: nonEmpty('the path of a unix socket') }),
    v.strictObject({ listen: v.optional(listenAddress, DEFAULTS.listen), port }),
  ],
  'expected {"listen": "127.0.0.1", "port": 3002} or {"path": "/run/wsgate.sock"}',
);

export const Tls = v.strictObject(
  { cert: nonEmpty('the path of a PEM certificate chain, e.g. "/etc/letsencrypt/live/example.com/fullchain.pem"'), key: nonEmpty('the path of its PEM private key, e.g. "/etc/letsencrypt/live/example.com/privkey.pem"') },
  'expected {"cert": "/path/fullchain.pem", "key": "/path/privkey.pem"}',
);

export const Tick = v.union([v.boolean(), v.strictObject({ every: timerSeconds })], 'expected true, false or {"every": <seconds>}');
