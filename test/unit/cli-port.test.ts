/**
 * `--port` takes a port number and nothing else: `--port "$PORT"` with PORT
 * unset must be a usage error, not a gateway on a random port.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCommand } from 'citty';
import { buildCli, UsageError } from '../../src/cli.ts';
import type { Runtime } from '../../src/runtime/types.ts';

// `check` reaches no runtime: the flags are read before anything is served.
const cli = buildCli(async () => ({}) as Runtime);

describe('wsgate --port', () => {
  for (const flag of [['--port', ''], ['--port='], ['--port', ' '], ['--port', '0x50'], ['--port', '1e3'], ['--port', '80.0']]) {
    it(`refuses ${JSON.stringify(flag.join(' '))}`, async () => {
      await assert.rejects(runCommand(cli, { rawArgs: ['check', ...flag] }), (error) => error instanceof UsageError && /--port/.test(error.message));
    });
  }
});
