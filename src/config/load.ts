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

/** A problem with the environment's app names its variable, for it is in no file. */
function nameEnvFields(problems: string[]): string[] {
  return problems.map((problem) => problem.replace(/^(.*?: pusher\.apps\[0\]\.(id|key|secret|host)):/, (_, path: string, field: keyof typeof PUSHER_APP_ENV) => `${path} (from ${PUSHER_APP_ENV[field]}):`));
}

function mergeOverrides(raw: unknown, overrides: Overrides, envApp: Record<string, string> | undefined): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const merged: Record<string, unknown> = { ...raw };
  if (overrides.port !== undefined) merged.port = overrides.port;
  if (overrides.listen !== undefined) merged.listen = overrides.listen;
  if (overrides.php !== undefined) merged.php = overrides.php;
  if (overrides.secret && merged.secret === undefined) merged.secret = overrides.secret;
  if (overrides.redis && merged.cluster === undefined) merged.cluster = { redis: overrides.redis };
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
  let config: Config;
  try {
    config = parseConfig(merged, where, baseDir, overrides.env);
  } catch (error) {
    const fromEnv = envApp !== undefined && (merged as { pusher?: { apps?: unknown[] } }).pusher?.apps?.[0] === envApp;
    throw fromEnv && error instanceof ConfigError ? new ConfigError(nameEnvFields(error.problems)) : error;
  }
  config.file = path;
  await checkFiles(config, where, io);
  return config;
}

/** The built-in default; an app from the environment takes the demo app's place, as it would a file's. */
function builtinDefault(envApp: boolean): unknown {
  const { pusher, ...rest } = defaultConfig();
  return envApp ? rest : { ...rest, pusher };
}

/** Apps and modules must exist at start: a typo fails now, not at the first event. */
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
}
