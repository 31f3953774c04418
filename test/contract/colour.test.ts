/**
 * Output that is not a terminal carries no ANSI colour codes: `--help`
 * (citty's usage) and `check`, piped as scripts and CI logs read them.
 * NO_COLOR and FORCE_COLOR decide over the stream when set.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { APP, TARGET, runWsgate, targetAvailable, tempDir, writeJson } from '../support/server.ts';

const skip = targetAvailable();
const ESC = '\x1b[';
// citty leaves colour out by itself under CI, TEST or NO_COLOR=1: cleared, so the pipe alone has to decide.
const PLAIN_ENV = { CI: '', TEST: '', NO_COLOR: '', FORCE_COLOR: '', TERM: 'xterm-256color' };

describe(`colour codes only for a terminal on ${TARGET}`, { skip }, () => {
  const config = writeJson(join(tempDir(), 'ok.json'), { hosts: { 'a.test': APP } });

  for (const args of [['--help'], ['serve', '--help'], ['check', '--config', config], ['check', '--config', '/nonexistent.json'], ['serve', '--port', 'x']]) {
    it(`wsgate ${args.join(' ')}, piped, writes no escape codes`, async () => {
      const { stdout, stderr } = await runWsgate(args, PLAIN_ENV);
      assert.ok(stdout.length + stderr.length > 0, 'wrote something');
      assert.ok(!stdout.includes(ESC), `stdout has colour codes: ${JSON.stringify(stdout.slice(0, 200))}`);
      assert.ok(!stderr.includes(ESC), `stderr has colour codes: ${JSON.stringify(stderr.slice(0, 200))}`);
    });
  }

  it('FORCE_COLOR=1 colours the usage even in a pipe', async () => {
    const { stdout } = await runWsgate(['--help'], { ...PLAIN_ENV, FORCE_COLOR: '1' });
    assert.ok(stdout.includes(ESC), stdout);
  });
});
