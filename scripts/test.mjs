#!/usr/bin/env node
/**
 * The whole test suite: type check, unit tests, the contract suite against
 * the server started four ways (Node, Bun and Deno from source, the compiled
 * binary), and the browser test. Ends with `N passed, N failed, N skipped`.
 *
 *   npm test                        everything
 *   WSGATE_TARGETS=node,bun npm test    only these ways of starting the server
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const out = mkdtempSync(join(tmpdir(), 'wsgate-tests-'));
// Node's runner defaults to one file at a time less than the cores (one on a
// 2-core machine); much of a file's time is waiting on servers and PHP, so two
// at a time cut the Node contract run from 357 s to 252 s here. WSGATE_TEST_CONCURRENCY=1 for a quiet,
// one-file-at-a-time run. Node before 20.10 has no such flag.
const [major, minor] = process.versions.node.split('.').map(Number);
const concurrency = major > 20 || minor >= 10
  ? [`--test-concurrency=${Number(process.env.WSGATE_TEST_CONCURRENCY) || 2}`]
  : [];
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

/** Runs test files with node's runner: spec to the terminal, TAP to a file we count from. */
function suite(name, testFiles, env = {}) {
  if (testFiles.length === 0) return;
  const tap = join(out, `${name.replace(/\W+/g, '-')}.tap`);
  const ok = step(name, process.execPath, [
    '--import', 'tsx', '--test', ...concurrency,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...testFiles,
  ], env);
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const count = (key) => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  totals.passed += passed;
  totals.failed += failed;
  totals.skipped += count('skipped');
  if (!ok && failed === 0) {
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
suite('unit', files('test/unit'));
for (const target of targets) suite(`contract on ${target}`, files('test/contract'), { WSGATE_TARGET: target });
for (const target of targets) suite(`soak on ${target}`, files('test/soak'), { WSGATE_TARGET: target });
// The attack suite: hostile pages, floods, abandoned upgrades (npm run test:security runs it alone).
for (const target of targets) suite(`security on ${target}`, files('test/security'), { WSGATE_TARGET: target });
suite('build', files('test/build'));
// The browser tests from source on Node, and against the binary users run.
for (const target of targets.filter((t) => t === 'node' || t === 'binary')) suite(`browser on ${target}`, files('test/browser'), { WSGATE_TARGET: target });

console.log('');
for (const failure of failures) console.log(`FAILED: ${failure}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed ? 1 : 0);
