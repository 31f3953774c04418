/**
 * The config wsgate serves: the file (if any) read, the command line merged
 * over it, the one pipeline run over that, and every file it names checked to
 * exist. `serve`, `check` and every reload load through here.
 */
import { BUILTIN_DEMO, BUILTIN_NONE, defaultConfig } from './defaults.ts';
import { parseConfig } from './file-schema.ts';
import { ConfigError } from './problems.ts';
import { dirname, resolvePath } from './resolve-path.ts';
import { jsonSyntaxProblem } from './json-syntax.ts';
import { realPathDisagreements } from './shared-pools.ts';
import { tlsProblems } from './tls-files.ts';
import type { Config, ConfigIO, Overrides } from './types.ts';

/** The environment variable each field of a Pusher app from the environment comes from, as problems name them. */
export const PUSHER_APP_ENV = { id: 'WSGATE_PUSHER_APP_ID', key: 'WSGATE_PUSHER_APP_KEY', secret: 'WSGATE_PUSHER_APP_SECRET', host: 'WSGATE_PUSHER_APP_HOST' } as const;

/** The app the environment describes, as the file would write it; undefined when it describes none. Half an app is a mistake worth stopping for. */
function envPusherApp(app: Overrides['pusherApp']): Record<string, string> | undefined {
  if (!app || !Object.values(app).some(Boolean)) return undefined;
  const missing = (['id', 'key', 'secret'] as const).filter((field) => !app[field]).map((field) => PUSHER_APP_ENV[field]);
  if (missing.length) {
    const names = missing.join(' and ');
    throw new ConfigError([`${names} ${missing.length > 1 ? 'are' : 'is'} not set: a Pusher app from the environment needs ${PUSHER_APP_ENV.id}, ${PUSHER_APP_ENV.key} and ${PUSHER_APP_ENV.secret} (${PUSHER_APP_ENV.host} is optional)`]);
  }
  return { id: app.id!, key: app.key!, secret: app.secret!, ...(app.host && { host: app.host }) };
}

/** Field paths (as problems spell them) whose value came from a flag or the environment, and which. */
type Sources = Array<[path: string, source: string]>;

/**
 * A problem with a value from a flag or the environment names where it came
 * from: the field it is reported at is not in the file, which the problem
 * names. `file: secret: ...` becomes `file: secret (from WSGATE_SECRET): ...`.
 */
function nameSources(problems: string[], where: string, sources: Sources): string[] {
  return problems.map((problem) => {
    for (const [path, source] of sources) {
      const head = `${where}: ${path}`;
      const after = problem[head.length];
      if (!problem.startsWith(head) || (after !== ':' && after !== '.' && after !== '[')) continue;
      const end = problem.indexOf(': ', head.length);
      if (end >= 0) return `${problem.slice(0, end)} (from ${source})${problem.slice(end)}`;
    }
    return problem;
  });
}

/** What mergeOverrides took from the flags and the environment, as the paths problems are reported at. */
function sourcesOf(raw: unknown, overrides: Overrides, envApp: Record<string, string> | undefined): Sources {
  const file = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const sources: Sources = [];
  if (overrides.port !== undefined) sources.push(['port', '--port']);
  if (overrides.listen !== undefined) sources.push(['listen', '--listen']);
  if (overrides.php !== undefined) sources.push(['php', '--php']);
  if (overrides.secret && file.secret === undefined) sources.push(['secret', 'WSGATE_SECRET']);
  if (overrides.redis && file.cluster === undefined) sources.push(['cluster.redis', 'WSGATE_REDIS_URL']);
  if (envApp && file.pusher === undefined) {
    for (const field of ['id', 'key', 'secret', 'host'] as const) sources.push([`pusher.apps[0].${field}`, PUSHER_APP_ENV[field]]);
  }
  for (const pair of overrides.hosts ?? []) sources.push([`hosts[${JSON.stringify(pair.slice(0, pair.indexOf('=')))}]`, `--host ${pair}`]);
  return sources;
}

function mergeOverrides(raw: unknown, overrides: Overrides, envApp: Record<string, string> | undefined): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const merged: Record<string, unknown> = { ...raw };
  if (overrides.port !== undefined) merged.port = overrides.port;
  if (overrides.listen !== undefined) merged.listen = overrides.listen;
  if (overrides.php !== undefined) merged.php = overrides.php;
  if (overrides.secret && merged.secret === undefined) merged.secret = overrides.secret;
  // Like WSGATE_SECRET, it fills what the file leaves out: the whole cluster, or only its Redis (so a file may hold the
  // node's name and timers while the URL, and its password, stay in the environment).
  if (overrides.redis && merged.cluster === undefined) merged.cluster = { redis: overrides.redis };
  else if (overrides.redis && typeof merged.cluster === 'object' && merged.cluster !== null && !Array.isArray(merged.cluster) && !('redis' in merged.cluster)) {
    merged.cluster = { ...merged.cluster, redis: overrides.redis };
  }
  if (envApp && merged.pusher === undefined) merged.pusher = { apps: [envApp] };
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
 * The file (if any) with the command line over it, checked as `serve` checks
 * it, with every app and module checked to exist. Without a file and without
 * --host, the built-in demo.
 */
export async function loadConfig(file: string | undefined, io: ConfigIO, overrides: Overrides = {}): Promise<Config> {
  const envApp = envPusherApp(overrides.pusherApp);
  let raw: unknown = overrides.hosts?.length ? { hosts: {} } : builtinDefault(envApp !== undefined);
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
    } catch {
      // Not the engine's message: it quotes the file around the mistake (json-syntax.ts).
      const where = jsonSyntaxProblem(text);
      throw new ConfigError([`${file}: not valid JSON${where ? ` at ${where}` : ''}`]);
    }
  }
  const merged = mergeOverrides(raw, overrides, envApp);
  try {
    const config = parseConfig(merged, where, baseDir, overrides.env);
    config.file = path;
    await checkFiles(config, where, io);
    return config;
  } catch (error) {
    throw error instanceof ConfigError ? new ConfigError(nameSources(error.problems, where, sourcesOf(raw, overrides, envApp))) : error;
  }
}

/** The built-in default; an app from the environment takes the demo app's place, as it would a file's. */
function builtinDefault(envApp: boolean): unknown {
  const { pusher, ...rest } = defaultConfig();
  return envApp ? rest : { ...rest, pusher };
}

/** Apps and modules must exist at start: a typo fails now, not at the first event. Hosts sharing an app by real path must agree on its pool. */
async function checkFiles(config: Config, where: string, io: ConfigIO): Promise<void> {
  const problems: string[] = [];
  const missing = async (file: string | undefined) => file !== undefined && !(await io.isFile(file));
  for (const host of config.hosts) {
    const builtin = host.module === BUILTIN_DEMO || host.module === BUILTIN_NONE;
    const [field, file] = host.app ? ['app', host.app] : host.hooks ? ['hooks', host.hooks] : ['module', builtin ? undefined : host.module];
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
  // Only once every file exists: a missing one has no real path to compare.
  for (const { key, field, message } of io.realPath ? await realPathDisagreements(config.hosts, io.realPath) : []) {
    problems.push(`${where}: hosts[${JSON.stringify(key)}].${field}: ${message}`);
  }
  if (problems.length) throw new ConfigError(problems);
}
