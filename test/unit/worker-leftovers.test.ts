/**
 * What a resident worker leaves behind when it exits on its own: a process
 * it started that still holds its pipes is part of the worker, and goes
 * with it, as for a one-shot hook (README, Security: process groups).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from '../../src/hooks/pool/worker.ts';
import { createNodeRuntime } from '../../src/runtime/node.ts';
import { alive } from '../support/processes.ts';

/** Polls, bounded: a SIGKILL is delivered at once, the kernel's bookkeeping a moment later. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 150 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return !alive(pid);
}

describe('a resident worker that exits while a process it started holds its pipes', { timeout: 15_000 }, () => {
  it('fails its job, and its process group is killed', async () => {
    const runtime = createNodeRuntime();
    // Starts a grandchild that inherits stdout and stderr, says its pid, says ready, and dies on its first job.
    const script = `sleep 30 & echo "grandchild $!" >&2; echo '{"t":"ready"}'; read job; exit 3`;
    let grandchild: number | undefined;
    let sawPid!: () => void;
    const pidSeen = new Promise<void>((resolve) => (sawPid = resolve));
    const worker = new Worker(
      ['sh', '-c', script],
      runtime.spawn,
      {
        onExit() {},
        onStderr(_w, text) {
          const match = /grandchild (\d+)/.exec(text);
          if (match) {
            grandchild = Number(match[1]);
            sawPid();
          }
        },
      },
      10_000,
    );
    try {
      await worker.ready;
      await pidSeen;
      const outcome = await worker.run({ target: 'jobs::echo', args: [], stream: false }, undefined, 10_000);
      assert.equal(outcome.ok, false);
      await worker.exited;
      assert.equal(await gone(grandchild!), true, 'the grandchild holding the dead worker\'s pipes was killed');
    } finally {
      if (grandchild !== undefined && alive(grandchild)) process.kill(grandchild, 'SIGKILL');
    }
  });
});
