#!/usr/bin/env node
/**
 * The whole test suite: type check, unit tests, the contract suite against
 * the server started four ways (Node, Bun and Deno from source, the compiled
 * binary), and the browser test. Ends with `N passed, N failed, N skipped`.
 *
 *   npm test                        everything
 *   WSGATE_TARGETS=node,bun npm test    only these ways of starting the server
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
// Node's runner defaults to one file at a time less than the cores (one on a
// 2-core machine); much of a file's time is waiting on servers and PHP, so two
// at a time cut the Node contract run from 357 s to 252 s here. WSGATE_TEST_CONCURRENCY=1 for a quiet,
// one-file-at-a-time run. Node before 20.10 has no such flag.
const [major, minor] = process.versions.node.split('.').map(Number);
const concurrency = major > 20 || minor >= 10
  ? [`--test-concurrency=${Number(process.env.WSGATE_TEST_CONCURRENCY) || 2}`]
  : [];
// A test file whose tests are done but which keeps a child or a socket open
// (a helper that failed half-way through starting redis-servers) would hold
// the run for good: the runner ends each file once its tests are (Node 20.14+).
const forceExit = major > 20 || minor >= 14 ? ['--test-force-exit'] : [];
// The last guard against a hang no test timeout catches (a hook that never
// ends): the suite is killed, said so, and counted as failed.
const suiteMinutes = Number(process.env.WSGATE_SUITE_MINUTES) || 20;
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function files(dir) {
  const full = join(root, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(dir, f));
}

function step(name, command, args, env = {}) {
  console.log(`\n=== ${name}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return result.status === 0;
}

let running;
// A group of its own does not get the terminal's Ctrl-C: pass it on.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    try {
      if (running) process.kill(-running.pid, signal);
    } catch {}
    process.exit(130);
  });
}

/** Runs a command in a process group of its own, killed whole when it outlives `minutes`. */
function bounded(command, args, env, minutes) {
  return new Promise((resolve) => {
    const colour = process.stdout.isTTY ? { FORCE_COLOR: '1' } : {};
    const child = spawn(command, args, { cwd: root, stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, ...colour, ...env }, detached: true });
    running = child;
    // The spec reporter's summary lines, read as they pass (a reporter's file is cut short by --test-force-exit).
    const counts = {};
    let line = '';
    let closed = false;
    child.stdout.once('close', () => (closed = true));
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = (line + chunk.toString()).split('\n');
      line = lines.pop().slice(-1024);
      for (const text of lines) {
        const match = /^\u2139 (pass|fail|cancelled|skipped) (\d+)$/.exec(text.replace(/\x1b\[[0-9;]*m/g, '').trim());
        if (match) counts[match[1]] = Number(match[2]);
      }
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, minutes * 60_000);
    const done = (code) => {
      running = undefined;
      clearTimeout(timer);
      // What a test file started and left (a forced exit leaves its children running) goes with the suite, rather
      // than take the cores from the next one.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      resolve({ ok: code === 0, timedOut, counts });
    };
    // The output ends with the runner, unless a process it left holds the pipe: then a few seconds more, not for good.
    child.once('exit', (code) => {
      if (closed) return done(code);
      const late = setTimeout(() => done(code), 5000);
      child.stdout.once('close', () => {
        clearTimeout(late);
        done(code);
      });
    });
  });
}

/** Runs test files with node's runner: spec to the terminal, its closing counts counted. */
async function suite(name, testFiles, env = {}) {
  if (testFiles.length === 0) return;
  console.log(`\n=== ${name}`);
  const { ok, timedOut, counts } = await bounded(process.execPath, [
    '--import', 'tsx', '--test', ...concurrency, ...forceExit,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    ...testFiles,
  ], env, suiteMinutes);
  const count = (key) => counts[key] ?? 0;
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  totals.passed += passed;
  totals.failed += failed;
  totals.skipped += count('skipped');
  if (timedOut) {
    totals.failed += 1;
    failures.push(`${name}: killed after ${suiteMinutes} min (WSGATE_SUITE_MINUTES), ${passed} passed before`);
  } else if (!ok && failed === 0) {
    totals.failed += 1;
    failures.push(`${name}: the test run itself failed`);
  } else if (failed) failures.push(`${name}: ${failed} failed`);
}

function check(name, command, args) {
  if (step(name, command, args)) totals.passed += 1;
  else {
    totals.failed += 1;
    failures.push(name);
  }
}

const targets = (process.env.WSGATE_TARGETS ?? 'node,bun,deno,binary').split(',').map((t) => t.trim()).filter(Boolean);

check('type check (tsc)', bin('tsc'), ['-p', '.']);
if (targets.includes('binary')) check('build dist/wsgate (bun build --compile)', process.execPath, ['--import', 'tsx', 'build.ts']);
await suite('unit', files('test/unit'));
for (const target of targets) await suite(`contract on ${target}`, files('test/contract'), { WSGATE_TARGET: target });
for (const target of targets) await suite(`soak on ${target}`, files('test/soak'), { WSGATE_TARGET: target });
// The attack suite: hostile pages, floods, abandoned upgrades (npm run test:security runs it alone).
for (const target of targets) await suite(`security on ${target}`, files('test/security'), { WSGATE_TARGET: target });
await suite('build', files('test/build'));
// The browser tests from source on Node, and against the binary users run.
for (const target of targets.filter((t) => t === 'node' || t === 'binary')) await suite(`browser on ${target}`, files('test/browser'), { WSGATE_TARGET: target });

console.log('');
for (const failure of failures) console.log(`FAILED: ${failure}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed ? 1 : 0);
