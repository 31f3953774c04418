/**
 * A worker killed while idle (it printed something off-protocol after its
 * answer) stays in its pool until its process has exited, which takes a
 * turn of the event loop at least. It must not be picked for a job then.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/ops/log.ts';
import { Capacity } from '../../src/hooks/pool/capacity.ts';
import { Pool } from '../../src/hooks/pool/pool.ts';
import { Worker } from '../../src/hooks/pool/worker.ts';
import type { Child } from '../../src/runtime/types.ts';
import { scriptedChild } from '../support/scripted-worker.ts';

/** A worker that answers each job and then prints a line that is not a frame; a kill ends it a little later, as a real SIGKILL does. */
function noisyChild(): Child {
  const { child, say } = scriptedChild({
    killDelayMs: 20,
    onWrite(text, say) {
      const { id } = JSON.parse(text) as { id: string };
      setTimeout(() => say(`{"id":"${id}","t":"done","result":1}\nnot a frame\n`), 1);
    },
  });
  setTimeout(() => say('{"t":"ready"}\n'), 1);
  return child;
}

describe('a pool whose idle worker was killed and has not exited yet', () => {
  it('runs the next job on a new worker instead of handing it to the killed one without end', async () => {
    // Counts the jobs offered to workers: the bug offers the same job to the killed worker in a loop of microtasks that never yields.
    let offered = 0;
    let looping = false;
    const run = Worker.prototype.run;
    Worker.prototype.run = function (...args: Parameters<typeof run>) {
      if (++offered > 1000) {
        looping = true;
        return new Promise(() => {});
      }
      return run.apply(this, args);
    };
    const pool = new Pool('app', ['php'], { idleMs: 60_000, maxJobs: 1000, maxQueue: 100, timeoutMs: 5000, bootTimeoutMs: 5000 }, new Capacity(1), () => noisyChild(), createLogger(() => {}, 'error'));
    try {
      const job = { target: 'websocket::receive', args: [], stream: false, lane: 'a' };
      const first = pool.run(job);
      const second = pool.run(job);
      const outcomes = await Promise.race([Promise.all([first, second]), new Promise<'stuck'>((resolve) => setTimeout(resolve, 3000, 'stuck'))]);
      assert.equal(looping, false, 'the job was offered to the killed worker over and over');
      assert.notEqual(outcomes, 'stuck');
      assert.deepEqual(
        (outcomes as Array<{ ok: boolean }>).map((o) => o.ok),
        [true, true],
      );
    } finally {
      Worker.prototype.run = run;
      await pool.capacity.stop();
    }
  });
});
