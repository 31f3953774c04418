/**
 * `deno compile` needs a `denort` base binary, which it downloads unless
 * DENORT_BIN points at one. Where neither works (offline), this test is
 * skipped and says so; where it builds, the binary must run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ROOT, tempDir } from '../support/server.ts';
import { VERSION } from '../../src/version.ts';

it('deno compile builds a wsgate that runs', (t) => {
  const outfile = join(tempDir(), 'wsgate-deno');
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'build.ts', '--deno', '--outfile', outfile], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0 || !existsSync(outfile)) {
    const reason = (build.stderr.match(/error: .*/)?.[0] ?? build.stderr.trim().split('\n').pop() ?? '').slice(0, 200);
    t.skip(`deno compile could not run here (it needs a denort base binary; set DENORT_BIN): ${reason}`);
    return;
  }
  const run = spawnSync(outfile, ['--version'], { encoding: 'utf8' });
  assert.equal(run.status, 0);
  assert.equal(run.stdout.trim(), VERSION);
});
