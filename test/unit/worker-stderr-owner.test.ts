/**
 * Which job a resident worker's stderr is charged to, in the orders the two
 * pipes can be read in (a real worker's test is test/contract/pool-stderr):
 * what is read right after an answer or the ready is the worker's own, what
 * comes after that is the job at the head's, so a failing job's line has its
 * stderr (the contract) and the next job is not charged the last one's.
 */
import assert from 'node:assert/strict';
import { setImmediate } from 'node:timers';
import { describe, it } from 'node:test';
import { Worker } from '../../src/hooks/pool/worker.ts';
import type { Child } from '../../src/runtime/types.ts';

const encoder = new TextEncoder();

/** A pipe the test writes to; `write` resolves once the reader has handled the chunk and asks for the next. */
function pipe() {
  const chunks: Uint8Array[] = [];
  let wake: (() => void) | undefined;
  let handled: (() => void) | undefined;
  let ended = false;
  async function* read(): AsyncGenerator<Uint8Array> {
    for (;;) {
      handled?.();
      handled = undefined;
      while (chunks.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      if (chunks.length === 0) return;
      yield chunks.shift()!;
    }
  }
  return {
    reader: read(),
    write(text: string): Promise<void> {
      chunks.push(encoder.encode(text));
      const done = new Promise<void>((resolve) => (handled = resolve));
      wake?.();
      return done;
    },
    end() {
      ended = true;
      wake?.();
    },
  };
}

async function started() {
  const stdout = pipe();
  const stderr = pipe();
  let exit!: (code: number | null) => void;
  const child: Child = {
    pid: 1,
    stdin: { write() {}, end() {} },
    stdout: stdout.reader,
    stderr: stderr.reader,
    exited: new Promise((resolve) => (exit = resolve)),
    kill() {
      stdout.end();
      stderr.end();
      exit(null);
    },
  };
  const logged: string[] = [];
  const worker = new Worker(['php'], () => child, { onExit() {}, onStderr: (_w, text) => logged.push(text), writesAhead: () => true }, 10_000);
  await stdout.write('{"t":"ready"}\n');
  await worker.ready;
  const run = () => worker.run({ target: 'websocket::receive', args: [], stream: true }, () => {}, 10_000);
  const id = (n: number) => `${worker.number}.${n}`;
  return { worker, stdout, stderr, logged, run, id };
}

/** Turns of the event loop, which is what the worker waits for after an answer: not a clock. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('resident worker stderr, whose it is', () => {
  it('charges a job written ahead nothing until PHP is known to be on it, and the running job its own', async () => {
    const { worker, stdout, stderr, logged, run, id } = await started();
    await turns(3);
    const first = run();
    const second = run();
    await stderr.write('while the first runs\n');
    await stdout.write(`{"id":"${id(1)}","t":"done","result":1}\n`);
    // Read after the answer: printed before it (the pipes race) or after it, by the worker, not by the second job.
    await stderr.write('after the first answer\n');
    await stdout.write(`{"id":"${id(2)}","t":"line","data":"x"}\n`);
    await stderr.write('while the second runs\n');
    await stdout.write(`{"id":"${id(2)}","t":"done","result":2}\n`);
    const outcomes = await Promise.all([first, second]);
    assert.deepEqual(
      outcomes.map((o) => o.stderr),
      ['while the first runs', 'while the second runs'],
    );
    assert.deepEqual(logged, ['after the first answer\n']);
    worker.kill('test over');
    await worker.exited;
  });

  it('charges a job written as the answer before it came in nothing before its first frame, and one written to a settled worker from the start', async () => {
    const { worker, stdout, stderr, logged, run, id } = await started();
    await turns(3);
    const first = run();
    await stdout.write(`{"id":"${id(1)}","t":"done"}\n`);
    // The same turn as the answer: the worker may still print about the first job.
    const second = run();
    await stderr.write('the worker, after the first answer\n');
    await stdout.write(`{"id":"${id(2)}","t":"done"}\n`);
    await turns(3);
    // The worker is idle and what it printed around its answer has been read: only this job can print now.
    const third = run();
    await stderr.write('the third job, before any frame\n');
    await stdout.write(`{"id":"${id(3)}","t":"done"}\n`);
    const outcomes = await Promise.all([first, second, third]);
    assert.deepEqual(
      outcomes.map((o) => o.stderr),
      [undefined, undefined, 'the third job, before any frame'],
    );
    assert.deepEqual(logged, ['the worker, after the first answer\n']);
    worker.kill('test over');
    await worker.exited;
  });

  it("charges the first job after the ready, written in the same turn, what it prints once the worker settled", async () => {
    const { worker, stdout, stderr, logged, run, id } = await started();
    // started() awaited the ready; the job goes out before the worker has settled, as a job queued during boot does.
    const first = run();
    await turns(3);
    await stderr.write('auth exploded\n');
    await stdout.write(`{"id":"${id(1)}","t":"error","message":"failed"}\n`);
    const second = run();
    await turns(3);
    await stderr.write('the second failed too\n');
    await stdout.write(`{"id":"${id(2)}","t":"error","message":"failed"}\n`);
    const outcomes = await Promise.all([first, second]);
    assert.deepEqual(
      outcomes.map((o) => o.stderr),
      ['auth exploded', 'the second failed too'],
    );
    assert.deepEqual(logged, []);
    worker.kill('test over');
    await worker.exited;
  });
});
