/**
 * The whole config file in one valibot pipeline: every field checked (all
 * problems at once, each with its path), then resolved into the typed Config,
 * then the rules `serve` applies. `parseConfig` is that pipeline and nothing more.
 */
import * as v from 'valibot';
import { DEFAULTS } from './defaults.ts';
import { hostsSchema, poolOf } from './hosts-schema.ts';
import type { HostDefaults, HostDraft } from './hosts-schema.ts';
import { at, ConfigError, issuesToProblems } from './problems.ts';
import { processEnv, pusherSchema, resolvePusher } from './pusher-schema.ts';
import type { EnvLookup } from './pusher-schema.ts';
import { clusterPrefix } from './redis-url.ts';
import { resolvePath } from './resolve-path.ts';
import { Bridge, Cluster, LimitsFields, listenAddress, nonEmpty, Paths, Pool, port, Schedule, sharedFields, timerSeconds, Tick, Tls } from './schema.ts';
import { serveRules } from './serve-rules.ts';
import { appsOnHooksFiles, poolDisagreements } from './shared-pools.ts';
import type { Config, HostConfig } from './types.ts';

/** The longest keepalive every runtime can follow: Bun closes a socket silent for twice it, and takes at most 960 s (more stops `serve` on Bun and the binary). */
const MAX_KEEPALIVE = 480;

const fileFields = (baseDir: string, env: EnvLookup) =>
  v.strictObject({
    listen: v.optional(listenAddress, DEFAULTS.listen),
    port: v.optional(port, DEFAULTS.port),
    php: v.optional(nonEmpty('the PHP binary (a name on PATH or a path)'), DEFAULTS.php),
    paths: v.optional(Paths, [...DEFAULTS.paths]),
    timeout: v.optional(timerSeconds, DEFAULTS.timeout),
    maxBody: v.optional(v.pipe(v.number('expected a size in bytes'), v.integer('expected a whole number of bytes'), v.minValue(1, 'expected at least 1 byte')), DEFAULTS.maxBody),
    shutdownTimeout: v.optional(timerSeconds, DEFAULTS.shutdownTimeout),
    reloadTimeout: v.optional(timerSeconds, DEFAULTS.reloadTimeout),
    hosts: hostsSchema(baseDir),
    pool: v.optional(Pool, {}),
    apps: v.optional(v.array(nonEmpty('the path of an app.php')), []),
    dispatchAnyApp: v.optional(v.boolean('expected true or false'), false),
    schedule: v.optional(v.array(Schedule), []),
    secret: v.optional(v.pipe(v.string('expected a string'), v.minLength(16, 'expected a secret of at least 16 characters'))),
    cluster: v.optional(Cluster),
    ...sharedFields,
    limits: v.optional(LimitsFields, {}),
    bridge: v.optional(Bridge),
    tls: v.optional(Tls),
    keepalive: v.optional(v.pipe(v.number('expected seconds between pings (0: off)'), v.minValue(0, 'expected 0 or more seconds'), v.maxValue(MAX_KEEPALIVE, `expected at most ${MAX_KEEPALIVE} seconds between pings`)), DEFAULTS.keepalive),
    idleTimeout: v.optional(v.pipe(v.number('expected seconds (0: off)'), v.minValue(0, 'expected 0 or more seconds')), 0),
    closeTimeout: v.optional(v.pipe(v.number('expected seconds'), v.minValue(0.1, 'expected at least 0.1 seconds'), v.maxValue(DEFAULTS.closeTimeout, `expected at most ${DEFAULTS.closeTimeout} seconds (ws, on Node, waits no longer)`)), DEFAULTS.closeTimeout),
    tick: v.optional(Tick, true),
    pusher: v.optional(pusherSchema(env)),
  });

type FileFields = v.InferOutput<ReturnType<typeof fileFields>>;

/** The hosts, completed with the top level's defaults. */
function resolveHosts(hosts: { key: string; draft: HostDraft }[], file: FileFields): HostConfig[] {
  const { origins, tokenFrom, tokenName, authTimeout, clientChannels, channels, history, replay } = file;
  const top: HostDefaults = { php: file.php, timeout: file.timeout, pool: file.pool, shared: { origins, tokenFrom, tokenName, authTimeout, clientChannels, channels, history, replay } };
  return hosts.map(({ key, draft }) => draft(key, top));
}

function toConfig(file: FileFields, hosts: HostConfig[], baseDir: string, pusher: Config['pusher']): Config {
  return {
    listen: file.listen,
    port: file.port,
    php: file.php,
    paths: file.paths,
    timeoutMs: file.timeout * 1000,
    maxBody: file.maxBody,
    shutdownMs: file.shutdownTimeout * 1000,
    reloadMs: file.reloadTimeout * 1000,
    hosts,
    workerCap: file.pool.cap,
    pool: poolOf(file.pool),
    apps: file.apps.map((app) => resolvePath(app, baseDir)),
    dispatchAnyApp: file.dispatchAnyApp,
    schedule: file.schedule.map((e) => ({ app: resolvePath(e.app, baseDir), target: e.target, everyMs: e.every * 1000, build: e.build })),
    tick: file.tick === false ? undefined : { everyMs: file.tick === true ? 60_000 : file.tick.every * 1000 },
    secret: file.secret,
    limits: { ...DEFAULTS.limits, ...file.limits },
    keepalive: file.keepalive,
    idleTimeout: file.idleTimeout,
    closeTimeout: file.closeTimeout,
    ...(file.cluster && {
      cluster: { redis: file.cluster.redis, node: file.cluster.node, prefix: clusterPrefix(file.cluster.redis, file.cluster.prefix), deadlineMs: file.cluster.deadline * 1000, redisTimeoutMs: (file.cluster.redisTimeout ?? file.cluster.deadline / 2) * 1000, heartbeatMs: file.cluster.heartbeat * 1000, ttlMs: file.cluster.ttl * 1000 },
    }),
    ...(file.bridge && { bridge: 'path' in file.bridge ? { path: resolvePath(file.bridge.path, baseDir) } : { listen: file.bridge.listen, port: file.bridge.port } }),
    ...(file.tls && { tls: { cert: resolvePath(file.tls.cert, baseDir), key: resolvePath(file.tls.key, baseDir) } }),
    ...(pusher && { pusher }),
  };
}

const describeInput = (input: unknown) => (Array.isArray(input) ? 'an array' : input === null ? 'null' : typeof input);

/**
 * The pipeline for a file whose relative paths resolve against `baseDir`:
 * unknown in, a Config that `serve` takes out. `{"env": "NAME"}` values are
 * read through `env`.
 */
export const configSchema = (baseDir: string, env: EnvLookup = processEnv) =>
  v.pipe(
    v.unknown(),
    v.rawCheck(({ dataset, addIssue }) => {
      const input = dataset.value;
      if (typeof input !== 'object' || input === null || Array.isArray(input)) addIssue({ message: `expected a JSON object with "hosts", got ${describeInput(input)}` });
    }),
    fileFields(baseDir, env),
    v.rawTransform(({ dataset, addIssue }): Config => {
      const file = dataset.value;
      const hosts = resolveHosts(file.hosts, file);
      for (const { key, field, message } of poolDisagreements(hosts)) addIssue({ message, path: at('hosts', key, ...field.split('.')) });
      const pusher = file.pusher && resolvePusher(file.pusher.apps, hosts, file.timeout * 1000);
      for (const { path, message } of pusher?.problems ?? []) addIssue({ message, path });
      const config = toConfig(file, [...hosts, ...(pusher?.hosts ?? [])], baseDir, pusher?.pusher);
      for (const { path, message } of appsOnHooksFiles(config)) addIssue({ message, path: at(...path) });
      return config;
    }),
    serveRules,
  );

/**
 * Checks a parsed config object and resolves it. `where` names its source in
 * problems; relative paths resolve against `baseDir`. Whether the files it
 * names exist is loadConfig's to check.
 */
export function parseConfig(input: unknown, where: string, baseDir: string, env: EnvLookup = processEnv): Config {
  const parsed = v.safeParse(configSchema(baseDir, env), input);
  if (!parsed.success) throw new ConfigError(issuesToProblems(where, parsed.issues));
  return parsed.output;
}
