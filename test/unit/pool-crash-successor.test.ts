/**
 * A worker that dies on a job in the last tenth of its maxJobs has no one
 * to hand over to: no successor boots for it. Its place is back under the
 * global cap, where another app's waiting job may take it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/ops/log.ts';
import { Capacity } from '../../src/hooks/pool/capacity.ts';
import { Pool } from '../../src/hooks/pool/pool.ts';
import type { Child } from '../../src/runtime/types.ts';
import { scriptedChild } from '../support/scripted-worker.ts';

/** A worker that says ready, then answers jobs (`crash`: exits on its first job instead, as a PHP fatal error ends phlo_serve). */
function fakeWorker(crash: boolean): Child {
  const { child, say } = scriptedChild({
    killDelayMs: 5,
    onWrite(text, say, end) {
      const { id } = JSON.parse(text) as { id: string };
      setTimeout(() => (crash ? end(255) : say(`{"id":"${id}","t":"done","result":1}\n`)), 5);
    },
  });
  setTimeout(() => say('{"t":"ready"}\n'), 1);
  return child;
}

const settings = { idleMs: 60_000, maxQueue: 100, timeoutMs: 5000, bootTimeoutMs: 5000 };
const log = createLogger(() => {}, 'error');
const job = { target: 'websocket::receive', args: [], stream: false, lane: 'a' };

describe('a worker that dies in the last tenth of its maxJobs', () => {
  it('gets no successor: the global cap holds and the crash backoff applies', async () => {
    const capacity = new Capacity(1);
    let crashingSpawns = 0;
    // maxJobs 1: its first job is already in the last tenth of its life.
    const crashing = new Pool('crashing', ['php'], { ...settings, maxJobs: 1 }, capacity, () => (crashingSpawns++, fakeWorker(true)), log);
    const other = new Pool('other', ['php'], { ...settings, maxJobs: 1000 }, capacity, () => fakeWorker(false), log);
    try {
      const crashed = crashing.run(job);
      // Waits for the cap's only place, which the crashing app's worker holds.
      const waiting = other.run(job);
      const outcome = await crashed;
      assert.equal(outcome.ok, false);
      assert.equal((await waiting).ok, true);
      // A successor boots in the turn its worker's death is handled, before the other app's job could run.
      assert.equal(crashingSpawns, 1, 'a worker booted for the dead one, with no job waiting and inside the crash backoff');
      assert.ok(capacity.live <= 1, `${capacity.live} workers were alive under a cap of 1`);
    } finally {
      await capacity.stop();
    }
  });
});
