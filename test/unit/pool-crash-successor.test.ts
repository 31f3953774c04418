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

const encoder = new TextEncoder();

/** A worker that says ready, then answers jobs (`crash`: exits on its first job instead, as a PHP fatal error ends phlo_serve). */
function fakeWorker(crash: boolean): Child {
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let exit!: (code: number | null) => void;
  const exited = new Promise<number | null>((resolve) => (exit = resolve));
  const say = (line: string) => {
    lines.push(line);
    wake?.();
  };
  const end = (code: number | null) => {
    say('');
    exit(code);
  };
  async function* stdout() {
    for (;;) {
      while (lines.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const line = lines.shift()!;
      if (line === '') return;
      yield encoder.encode(line);
    }
  }
  async function* stderr() {
    await exited;
  }
  setTimeout(() => say('{"t":"ready"}\n'), 1);
  return {
    pid: undefined,
    stdin: {
      write(text: string) {
        const { id } = JSON.parse(text) as { id: string };
        setTimeout(() => (crash ? end(255) : say(`{"id":"${id}","t":"done","result":1}\n`)), 5);
      },
      end() {},
    },
    stdout: stdout(),
    stderr: stderr(),
    exited,
    kill: () => setTimeout(() => end(null), 5),
  };
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
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, capacity.live)), 1);
    try {
      const crashed = crashing.run(job);
      // Waits for the cap's only place, which the crashing app's worker holds.
      const waiting = other.run(job);
      const outcome = await crashed;
      assert.equal(outcome.ok, false);
      assert.equal((await waiting).ok, true);
      await new Promise((resolve) => setTimeout(resolve, 50));
      most = Math.max(most, capacity.live);
      assert.equal(crashingSpawns, 1, 'a worker booted for the dead one, with no job waiting and inside the crash backoff');
      assert.ok(most <= 1, `${most} workers were alive under a cap of 1`);
    } finally {
      clearInterval(watch);
      await capacity.stop();
    }
  });
});
