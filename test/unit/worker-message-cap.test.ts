/**
 * What a worker says of a failure (an error frame's message, a fatal
 * frame's) is capped as the stderr of an answer is: it goes into the
 * failure's log line, and a line over the log's backlog bound (1 MiB) is
 * dropped whole, so a failure told at length would not be logged at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readyWorker } from '../support/scripted-worker.ts';

const HUGE = 'e'.repeat(1_500_000);

describe('a worker that tells a failure at length', () => {
  it('has its error message capped', async () => {
    // limits.hookLine's default: frames up to 2 MiB.
    const { worker, say } = await readyWorker(1 << 20);
    const running = worker.run({ target: 'websocket::receive', args: [], stream: false }, undefined, 10_000);
    say(`{"id":"${worker.number}.1","t":"error","message":"${HUGE}","stderr":"at line 1"}\n`);
    const outcome = await running;
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && outcome.error.length <= 16 << 10, `an error of ${!outcome.ok && outcome.error.length} characters`);
    worker.kill('test over');
    await worker.exited;
  });

  it('has its fatal message capped in the failure of the job it ran', async () => {
    const { worker, say } = await readyWorker(1 << 20);
    const running = worker.run({ target: 'websocket::receive', args: [], stream: false }, undefined, 10_000);
    say(`{"t":"fatal","message":"${HUGE}"}\n`);
    const outcome = await running;
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && outcome.error.length <= (16 << 10) + 100, `an error of ${!outcome.ok && outcome.error.length} characters`);
    await worker.exited;
  });
});
