/**
 * The README's run-from-source commands (npm start, bun run dev, deno task
 * dev, npx wsgate) start the gateway on a fresh clone after `npm ci`: each is
 * run as a user would type it, in the project folder, until "listening".
 *
 * Each command picks its own runtime, so WSGATE_TARGET does not change what
 * runs here: the file runs under WSGATE_TARGET=node only, rather than the same
 * four commands once per target.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, TARGET } from '../support/server.ts';

const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** What a README command needs, or why it cannot run here. */
const needs = (name: string) => (existsSync(bin(name)) ? undefined : `${name} is not installed (npm ci installs it)`);

// bun and deno are called by their node_modules/.bin path: `npm ci` puts them there, and a shell need not have them on PATH.
const COMMANDS: Array<{ readme: string; argv: string[]; skip?: string }> = [
  { readme: 'npm start', argv: [npm, 'start', '--', '--port', '0'] },
  { readme: 'npm run wsgate -- serve', argv: [npm, 'run', 'wsgate', '--', 'serve', '--port', '0'] },
  { readme: 'npx wsgate serve (bin/wsgate.mjs)', argv: [process.execPath, join(ROOT, 'bin', 'wsgate.mjs'), 'serve', '--port', '0'] },
  { readme: 'bun run dev', argv: [bin('bun'), 'run', 'dev', '--port', '0'], skip: needs('bun') },
  { readme: 'deno task dev', argv: [bin('deno'), 'task', 'dev', '--port', '0'], skip: needs('deno') },
];

/** Runs argv in its own process group until a "listening" line, then stops the whole group; the output and how it went. */
function runUntilListening(argv: string[], timeoutMs = 60_000): Promise<{ listening: boolean; output: string; code: number | string }> {
  const [command, ...args] = argv;
  // Its own group: npm and deno task start the gateway as a grandchild, which a signal to the wrapper alone may miss.
  const child = spawn(command!, args, { cwd: ROOT, env: { ...process.env, WSGATE_CONFIG: '', WSGATE_SECRET: '', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  let listening = false;
  const stopGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // Already gone.
    }
  };
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    if (!listening && / listening url=/.test(output)) {
      listening = true;
      stopGroup();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const timer = setTimeout(stopGroup, timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // A wrapper that exits first may leave the gateway behind: make sure the group is gone.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Nothing left.
      }
      resolve({ listening, output, code: code ?? signal ?? -1 });
    }),
  );
}

describe('the README\'s run-from-source commands', { skip: TARGET === 'node' ? undefined : 'runs under WSGATE_TARGET=node only: each command chooses its own runtime' }, () => {
  for (const { readme, argv, skip } of COMMANDS) {
    it(`${readme} starts the gateway`, { skip, timeout: 90_000 }, async () => {
      const run = await runUntilListening(argv);
      assert.ok(run.listening, `"${readme}" did not reach "listening" (exit ${run.code}):\n${run.output}`);
      assert.doesNotMatch(run.output, /SyntaxError|ERROR/, run.output);
    });
  }
});
