/**
 * The command line (citty): serve, check, cast, health.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import process from 'node:process';
import { isatty } from 'node:tty';
import { defineCommand, renderUsage, runCommand } from 'citty';
import type { CommandDef } from 'citty';
import type { Running } from './start.ts';
import { ConfigError, loadConfig } from './config/config.ts';
import type { ConfigIO, Overrides, PusherApp } from './config/config.ts';
import { colourWanted, stripColour } from './ops/colour.ts';
import { boundedLineWriter } from './ops/log-writer.ts';
import { withinMs } from './core/deadline.ts';
import { createLogger, LOG_FORMATS, LOG_LEVELS } from './ops/log.ts';
import { sha256Hex, shortHash } from './core/ids.ts';
import { maskQueryOptions } from './config/problems.ts';
import { redactRedisUrl } from './config/redis-url.ts';
import type { Level, LogFormat } from './ops/log.ts';
import type { Runtime } from './runtime/types.ts';
import { WSGATE_PHP } from './hooks/sdk/wsgate-php.ts';
import { VERSION } from './version.ts';

export class UsageError extends Error {}

const DEFAULT_URL = 'http://127.0.0.1:3001';

const env = (name: string): string | undefined => process.env[name];
const writeOut = (line: string) => void process.stdout.write(`${line}\n`);
const writeErr = (line: string) => void process.stderr.write(`${line}\n`);
/** The config's files through node:fs (all three runtimes have it); the config's tests hand loadConfig fakes instead. */
const files: ConfigIO = { readTextFile: (path) => readFile(path, 'utf8'), isFile: (path) => stat(path).then((s) => s.isFile(), () => false), cwd: () => process.cwd(), realPath: (path) => realpath(path) };

/** Every value of a repeatable flag, as `--flag v` or `--flag=v`. */
function repeated(rawArgs: string[], flag: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === `--${flag}` && i + 1 < rawArgs.length) values.push(rawArgs[++i]!);
    else if (arg.startsWith(`--${flag}=`)) values.push(arg.slice(flag.length + 3));
  }
  return values;
}

function portOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // Digits only: Number() reads '' and ' ' as 0 (a random port for an unset $PORT), and takes 0x50 or 1e3.
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${value}: expected a port from 0 to 65535`);
  return port;
}


/**
 * A webhook URL fit for `check`: its credentials go as Basic auth, so the
 * password (or a lone user name, a token then) is ***, as is a query option
 * named as a credential (`?token=`, `?api_key=`), the other way endpoints take one.
 */
function redactWebhookUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    else if (parsed.username) parsed.username = '***';
    maskQueryOptions(parsed, /pass|secret|token|key|auth|sig/i);
    return parsed.href;
  } catch {
    return url;
  }
}

/** A call to a running gateway's bridge; with $WSGATE_SECRET set it goes as the bearer, so a node on a private address answers too. */
async function request(url: string, init: RequestInit = {}, secret?: string): Promise<{ status: number; body: string }> {
  const headers = new Headers(init.headers);
  if (secret) headers.set('authorization', `Bearer ${secret}`);
  try {
    const response = await fetch(url, { ...init, headers });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    throw new Error(`cannot reach ${url}: ${(error as Error).message}`);
  }
}

/**
 * `makeRuntime`: the runtime's adapter, made when `serve` needs it. Only serve
 * loads the gateway (start.ts and the runtime's server): check, cast, health,
 * reload and sdk start in a fraction of the time, which Node from source
 * (every module through tsx) feels most.
 */
export function buildCli(makeRuntime: () => Promise<Runtime>): CommandDef {
  const configArgs = {
    config: { type: 'string', description: 'JSON config file (default: $WSGATE_CONFIG, else the built-in demo)', valueHint: 'file' },
    port: { type: 'string', description: 'port to listen on (default 3001)' },
    listen: { type: 'string', description: 'address to listen on (default 127.0.0.1)' },
    php: { type: 'string', description: 'PHP binary for app hosts (default php)' },
    host: { type: 'string', description: 'NAME=APP, repeatable: serve host NAME with a PHP app (or a .js/.ts hook module)' },
  } as const;

  const overrides = (args: Record<string, unknown>, rawArgs: string[]): Overrides => ({
    port: portOf(args.port as string | undefined),
    listen: args.listen as string | undefined,
    php: args.php as string | undefined,
    hosts: repeated(rawArgs, 'host'),
    secret: env('WSGATE_SECRET') || undefined,
    redis: env('WSGATE_REDIS_URL') || undefined,
    pusherApp: {
      id: env('WSGATE_PUSHER_APP_ID') || undefined,
      key: env('WSGATE_PUSHER_APP_KEY') || undefined,
      secret: env('WSGATE_PUSHER_APP_SECRET') || undefined,
      host: env('WSGATE_PUSHER_APP_HOST') || undefined,
    },
  });
  const configFile = (args: Record<string, unknown>) => (args.config as string | undefined) || env('WSGATE_CONFIG') || undefined;
  /** The config as `serve` takes it (its rules are part of validation): `check`, `serve` and each reload load through here. */
  const loadServable = (args: Record<string, unknown>, rawArgs: string[]) => loadConfig(configFile(args), files, overrides(args, rawArgs));

  const serve = defineCommand({
    meta: { name: 'serve', description: 'Run the gateway' },
    args: {
      ...configArgs,
      'log-level': { type: 'string', description: 'debug, info, warn or error (default info; $WSGATE_LOG_LEVEL)' },
      'log-format': { type: 'string', description: 'pretty (key=value, the default) or json (one object per line; $WSGATE_LOG_FORMAT)' },
    },
    async run({ args, rawArgs }) {
      const level = (args['log-level'] ?? env('WSGATE_LOG_LEVEL') ?? 'info') as Level;
      if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level ${level}: expected one of ${LOG_LEVELS.join(', ')}`);
      const format = (args['log-format'] ?? env('WSGATE_LOG_FORMAT') ?? 'pretty') as LogFormat;
      if (!LOG_FORMATS.includes(format)) throw new UsageError(`--log-format ${format}: expected one of ${LOG_FORMATS.join(', ')}`);
      const load = () => loadServable(args, rawArgs);
      const config = await load();
      const [{ start }, runtime] = await Promise.all([import('./start.ts'), makeRuntime()]);
      // The running gateway's log is bounded: a peer can make it log, and a stalled reader would keep every line in memory.
      const logWriter = boundedLineWriter(runtime.logSink);
      const log = createLogger(logWriter, level, format);
      // What waits for the log's reader goes out before the process does, unless the reader is stuck.
      const flushLog = () => withinMs(logWriter.drained(), 2000);
      // A bug in a hook module (or in wsgate) must cost one event, never the process and every socket.
      runtime.onStray((error, kind) => {
        log.error(kind === 'rejection' ? 'unhandled rejection' : 'uncaught exception', { error: error instanceof Error ? error.stack ?? error.message : String(error) });
      });
      // Handlers go in before the port is bound: a signal right after "listening" must find them.
      let running: Running | undefined;
      const onStop = (signal: string) => () => {
        log.info('stopping', { signal, sockets: running?.gateway.hub.size ?? 0 });
        void (running?.stop() ?? Promise.resolve()).then(async () => {
          for (const flush of log.held ?? []) flush();
          log.info('stopped');
          await flushLog();
          process.exit(0);
        });
      };
      runtime.onSignal('SIGTERM', onStop('SIGTERM'));
      runtime.onSignal('SIGINT', onStop('SIGINT'));
      let reloadAsked = false;
      runtime.onSignal('SIGHUP', () => {
        log.info('reloading', { signal: 'SIGHUP' });
        if (running) void running.reload();
        else reloadAsked = true;
      });
      running = await start(config, runtime, log, load).catch(async (error: Error) => {
        await flushLog();
        throw new Error(`cannot start: ${error.message}`);
      });
      if (reloadAsked) void running.reload();
    },
  });

  const check = defineCommand({
    meta: { name: 'check', description: 'Validate a config and print it resolved' },
    args: configArgs,
    async run({ args, rawArgs }) {
      const config = await loadServable(args, rawArgs);
      // No secret is printed (check's output ends up in CI logs and tickets): its hash says which one is set.
      const hashed = (secret: string) => `sha256:${shortHash(sha256Hex(secret))}`;
      const webhooks = (app: PusherApp) => app.webhooks.map((webhook) => (webhook.url === undefined ? webhook : { ...webhook, url: redactWebhookUrl(webhook.url) }));
      const pusher = config.pusher && { apps: config.pusher.apps.map((app) => ({ ...app, secret: hashed(app.secret), webhooks: webhooks(app) })) };
      // The Redis URL's passwords neither.
      const cluster = config.cluster && { ...config.cluster, redis: redactRedisUrl(config.cluster.redis) };
      const shown = { ...config, ...(config.secret && { secret: hashed(config.secret) }), ...(pusher && { pusher }), ...(cluster && { cluster }) };
      writeOut(JSON.stringify(shown, null, 2));
    },
  });

  const cast = defineCommand({
    meta: { name: 'cast', description: 'Send data to sockets through a running gateway' },
    args: {
      host: { type: 'string', description: 'the host whose sockets get it', required: true },
      target: { type: 'string', description: 'all (default), token:<t>, token:not:<t>, socket:<id>' },
      except: { type: 'string', description: 'a socket id to skip' },
      data: { type: 'string', description: 'the JSON value to send', required: true },
      url: { type: 'string', description: `the gateway (default ${DEFAULT_URL})` },
    },
    async run({ args }) {
      let data: unknown;
      try {
        data = JSON.parse(args.data);
      } catch (error) {
        throw new UsageError(`--data: not valid JSON: ${(error as Error).message}`);
      }
      const body = JSON.stringify({ host: args.host, target: args.target ?? 'all', except: args.except ?? '', data });
      const url = `${(args.url ?? DEFAULT_URL).replace(/\/$/, '')}/message`;
      const response = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }, env('WSGATE_SECRET'));
      writeOut(response.body);
      if (response.status !== 200) throw new Error(`the gateway answered ${response.status}`);
    },
  });

  const reload = defineCommand({
    meta: { name: 'reload', description: 'Make a running gateway re-read its config and replace its workers, keeping every socket' },
    args: { url: { type: 'string', description: `the gateway (default ${DEFAULT_URL})` } },
    async run({ args }) {
      const response = await request(`${(args.url ?? DEFAULT_URL).replace(/\/$/, '')}/reload`, { method: 'POST' }, env('WSGATE_SECRET'));
      writeOut(response.body);
      if (response.status !== 200) throw new Error(`the gateway answered ${response.status}`);
    },
  });

  const sdk = defineCommand({
    meta: { name: 'sdk', description: 'Print the plain-PHP SDK (wsCast() and the hooks runner): wsgate sdk > wsgate.php' },
    run() {
      writeOut(WSGATE_PHP.replace(/\n$/, ''));
    },
  });

  const health = defineCommand({
    meta: { name: 'health', description: 'Print the status of a running gateway' },
    args: { url: { type: 'string', description: `the gateway (default ${DEFAULT_URL})` } },
    async run({ args }) {
      const response = await request(`${(args.url ?? DEFAULT_URL).replace(/\/$/, '')}/health`, {}, env('WSGATE_SECRET'));
      writeOut(response.body);
      if (response.status !== 200) throw new Error(`the gateway answered ${response.status}`);
    },
  });

  return defineCommand({
    meta: { name: 'wsgate', version: VERSION, description: 'Realtime WebSocket gateway for PHP apps' },
    subCommands: { serve, check, cast, health, reload, sdk },
  });
}

/** Runs the CLI; resolves once the command is done (serve keeps running). */
export async function runCli(makeRuntime: () => Promise<Runtime>): Promise<void> {
  const cli = buildCli(makeRuntime);
  const rawArgs = process.argv.slice(2);
  if (rawArgs.length === 0 || rawArgs.includes('--help') || rawArgs.includes('-h')) {
    // citty colours its usage unless NO_COLOR, CI or TERM=dumb is set; whether stdout is a terminal is wsgate's to ask.
    const usage = await renderUsage(...(await resolveForUsage(cli, rawArgs)));
    writeOut(`${colourWanted(env, isatty(1)) ? usage : stripColour(usage)}\n`);
    return;
  }
  if (rawArgs[0] === '--version' || rawArgs[0] === '-v') {
    writeOut(VERSION);
    return;
  }
  const known = ['serve', 'check', 'cast', 'health', 'reload', 'sdk'];
  if (!known.includes(rawArgs[0]!)) {
    writeErr(`wsgate: unknown command "${rawArgs[0]}"; expected one of ${known.join(', ')} (see wsgate --help)`);
    process.exit(2);
  }
  try {
    await runCommand(cli, { rawArgs });
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) writeErr(problem);
      process.exit(2);
    }
    const usage = error instanceof UsageError || (error as { code?: string }).code === 'EARG';
    writeErr(`wsgate: ${(error as Error).message}`);
    process.exit(usage ? 2 : 1);
  }
}

async function resolveForUsage(cli: CommandDef, rawArgs: string[]): Promise<[CommandDef, CommandDef?]> {
  const sub = rawArgs.find((a) => !a.startsWith('-'));
  const subs = (cli.subCommands ?? {}) as Record<string, CommandDef>;
  if (sub && subs[sub]) return [subs[sub], cli];
  return [cli];
}
