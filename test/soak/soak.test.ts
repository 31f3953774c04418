/**
 * A short soak for CI: the logic of scripts/soak.ts (churned connections with
 * their own tokens, two echoed messages each, clean closes, terminate()s and
 * drops, a cast every 100 ms), scaled down to 1,500 connections in 10 s after
 * a 6 s warm-up (about 30 s in all), then the same checks: hub entries back
 * to 0, fds back to the baseline (+5), RSS back to within max(15 MiB, 20 %)
 * of the idle post-warm-up baseline, no client errors beyond 0.5 %, no ERROR
 * line in the server's log.
 *
 * Run: WSGATE_TARGET=node node --import tsx --test test/soak/soak.test.ts
 * (node, bun, deno or binary). Set WSGATE_SOAK_OUT=/some/prefix to keep the
 * CSV/JSON of the run; WSGATE_TEST_VERBOSE=1 prints the table.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSoak } from '../../scripts/soak.ts';
import { TARGET, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

test(`soak on ${TARGET}: 1,500 churned connections leave no sockets, fds or memory behind`, { skip, timeout: 180_000 }, async () => {
  const dir = process.env.WSGATE_SOAK_OUT ? undefined : tempDir();
  const lines: string[] = [];
  const report = await runSoak({
    runtime: TARGET,
    seconds: 10,
    sockets: 1500,
    // 150 new connections a second living ~1 s each: about 150 open at once.
    concurrency: 150,
    // Also sets the idle windows the baseline and the end state are read over: 3 s.
    warmupSeconds: 6,
    settleSeconds: 30,
    every: 2,
    out: process.env.WSGATE_SOAK_OUT ?? join(dir!, 'soak'),
    png: false,
    print: (line) => {
      lines.push(line);
      if (process.env.WSGATE_TEST_VERBOSE) console.log(line);
    },
  });
  if (dir) rmSync(dir, { recursive: true, force: true });
  const failed = report.checks.filter((c) => !c.ok);
  assert.deepEqual(
    failed.map((c) => `${c.name}: ${c.detail}`),
    [],
    `soak failed; its output:\n${lines.join('\n')}`,
  );
  assert.ok(report.counts.connections >= 1500);
  assert.equal(report.end.hub, 0);
  assert.ok(report.counts.echoes > 0 && report.counts.castSent > 0, 'echoes and casts flowed');
});
