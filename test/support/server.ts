/**
 * Starts the real gateway as a child process, the way the suite was asked to:
 * WSGATE_TARGET = node (default) | bun | deno | binary.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const APP = join(FIXTURES, 'app.php');
export type Target = 'node' | 'bun' | 'deno' | 'binary';

export const TARGET = (process.env.WSGATE_TARGET ?? 'node') as Target;

/** The argv that runs `wsgate <args>` for a target. */
export function wsgateCommand(args: string[], target: Target = TARGET): string[] {
  const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
  const main = join(ROOT, 'src', 'main.ts');
  switch (target) {
    case 'node':
      return [process.execPath, '--import', 'tsx', main, ...args];
    case 'bun':
      return [bin('bun'), main, ...args];
    case 'deno':
      return [bin('deno'), 'run', '--allow-all', '--quiet', main, ...args];
    case 'binary':
      return [join(ROOT, 'dist', 'wsgate'), ...args];
  }
}

export function targetAvailable(target: Target = TARGET): string | undefined {
  if (target === 'binary' && !existsSync(join(ROOT, 'dist', 'wsgate'))) return 'dist/wsgate is not built (npm run build)';
  if ((target === 'bun' || target === 'deno') && !existsSync(join(ROOT, 'node_modules', '.bin', target))) return `${target} is not installed`;
  return undefined;
}

/** The binary runs from an empty folder: it must need no file beside it (node_modules, src). */
export function cwdFor(target: Target): string {
  return target === 'binary' ? tempDir() : ROOT;
}

/** Folders made by this test process: removed when it exits (WSGATE_KEEP_TEMP=1 keeps them for a look). */
const made: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-test-'));
  if (made.push(dir) === 1 && !process.env.WSGATE_KEEP_TEMP) {
    process.on('exit', () => {
      for (const folder of made) rmSync(folder, { recursive: true, force: true });
    });
  }
  return dir;
}

export interface Started {
  url: string;
  /** The config file written for this server, if any. */
  configFile?: string;
  port: number;
  child: ChildProcess;
  /** Every log line so far. */
  logs: string[];
  /** Resolves with the first log line matching, now or later. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  config?: unknown;
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

export async function startServer(options: StartOptions = {}): Promise<Started> {
  const args = ['serve', '--port', '0', '--log-level', 'debug', ...(options.args ?? [])];
  let configFile: string | undefined;
  if (options.config !== undefined) {
    configFile = join(tempDir(), 'wsgate.json');
    writeFileSync(configFile, JSON.stringify(options.config, null, 2));
    args.push('--config', configFile);
  }
  const [command, ...rest] = wsgateCommand(args);
  const child = spawn(command!, rest, { cwd: cwdFor(TARGET), env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      logs.push(line);
      if (process.env.WSGATE_TEST_VERBOSE) process.stderr.write(`[server] ${line}\n`);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  // 'exit' can come before the last of the output was read, and a test that reads the logs once the server exited
  // (its "stopped" line, a close hook's stderr) would miss it: exited waits for both pipes to close too. Bounded,
  // because a process it left behind that holds them must not hold the test.
  const drained = Promise.all([child.stdout!, child.stderr!].map((pipe) => new Promise((resolve) => pipe.once('close', resolve))));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      const result = code ?? signal ?? -1;
      const bound = setTimeout(() => resolve(result), 5000);
      void drained.then(() => {
        clearTimeout(bound);
        resolve(result);
      });
    }),
  );

  const waitForLog = (pattern: RegExp, timeoutMs = 10_000) => {
    const found = logs.find((l) => pattern.test(l));
    if (found) return Promise.resolve(found);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; logs:\n${logs.join('\n')}`));
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      waiters.push(waiter);
    });
  };

  const listening = await Promise.race([
    waitForLog(/ listening url=|"event":"listening"/, options.timeoutMs ?? 30_000),
    exited.then((code) => {
      throw new Error(`server exited (${code}) before listening:\n${logs.join('\n')}`);
    }),
  ]);
  const url = (/url=(\S+)/.exec(listening) ?? /"url":"([^"]+)"/.exec(listening))![1]!;
  const port = Number(new URL(url).port);
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { url, configFile, port, child, logs, waitForLog, exited, stop };
}

/** Runs `wsgate <args>` to completion. */
export function runWsgate(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...rest] = wsgateCommand(args);
  return new Promise((resolve) => {
    const child = spawn(command!, rest, { cwd: cwdFor(TARGET), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    // 'close', not 'exit': the exit can come before the last of its output was read (seen as an empty stderr on Bun).
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function writeJson(path: string, value: unknown): string {
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
}
