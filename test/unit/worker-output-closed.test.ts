/**
 * A resident worker that closes its stdout but keeps running (fclose(STDOUT)
 * in app code, a library that redirects it) can answer no job again: its
 * jobs fail as soon as that is clear, not at their timeout, and a job
 * written behind is not run again elsewhere, as PHP may have started it with
 * no output left to say so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from '../../src/hooks/pool/worker.ts';
import type { WorkerOutcome } from '../../src/hooks/pool/worker.ts';
import { scriptedChild } from '../support/scripted-worker.ts';

const TIMEOUT_MS = 10_000;

/** The outcome, or 'stuck' when it has not come within `ms`. */
const within = (outcome: Promise<WorkerOutcome>, ms: number) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([outcome, new Promise<'stuck'>((resolve) => (timer = setTimeout(resolve, ms, 'stuck')))]).finally(() => clearTimeout(timer));
};

describe('a worker that closes its stdout and keeps running', () => {
  it('is killed, and its jobs fail long before their timeout; the one behind is not handed back', async () => {
    const { child, say } = scriptedChild({
      // The first job closes its output (an empty line ends it) and the process goes on; only a kill ends it.
      onWrite: (text, say) => (JSON.parse(text) as { id: string }).id.endsWith('.1') && setTimeout(say, 1, ''),
    });
    let exitReason: string | undefined;
    const worker = new Worker(['php'], () => child, { onExit: (_, reason) => (exitReason = reason), onStderr() {}, writesAhead: () => true }, TIMEOUT_MS);
    say('{"t":"ready"}\n');
    await worker.ready;
    const job = { target: 'websocket::receive', args: [], stream: false };
    const running = worker.run(job, undefined, TIMEOUT_MS);
    const behind = worker.run(job, undefined, TIMEOUT_MS);
    const first = await within(running, 3000);
    assert.notEqual(first, 'stuck', `the job still waited 3 s on a worker that can answer nothing (its timeout is ${TIMEOUT_MS} ms)`);
    assert.equal((first as WorkerOutcome).ok, false);
    assert.match((first as WorkerOutcome & { ok: false }).error, /closed its output/);
    const second = (await behind) as WorkerOutcome & { ok: false };
    assert.equal(second.ok, false);
    assert.equal(second.notStarted, undefined, 'PHP may have run it with no output to tell: it must not run again elsewhere');
    await worker.exited;
    assert.match(exitReason ?? '', /closed its output/);
  });

  it('is still reported by its exit code when it exits right after its output ends, as every exiting worker does', async () => {
    const { child, say } = scriptedChild({ onWrite: (_text, _say, end) => setTimeout(end, 1, 3) });
    let exitReason: string | undefined;
    const worker = new Worker(['php'], () => child, { onExit: (_, reason) => (exitReason = reason), onStderr() {} }, TIMEOUT_MS);
    say('{"t":"ready"}\n');
    await worker.ready;
    const outcome = await worker.run({ target: 'websocket::receive', args: [], stream: false }, undefined, TIMEOUT_MS);
    assert.equal(outcome.ok, false);
    assert.equal(exitReason, 'exited with code 3');
  });
});
