/**
 * A resident worker's stderr outside a job goes to the log within a budget:
 * a worker that prints without end while idle must not flood the log. What
 * a job reports with its answer (`stderr` in done and error frames) is that
 * job's, whatever the stderr pipe holds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from '../../src/hooks/pool/worker.ts';
import type { Child } from '../../src/runtime/types.ts';
import { scriptedChild } from '../support/scripted-worker.ts';

const encoder = new TextEncoder();

describe('resident worker stderr', () => {
  it('logs at most 16 KiB a second of what an idle worker prints to stderr', async () => {
    let exit!: (code: number) => void;
    const exited = new Promise<number | null>((resolve) => (exit = resolve));
    async function* stdout() {
      yield encoder.encode('{"t":"ready"}\n');
      await exited;
    }
    async function* stderr() {
      // 1 MiB in 1 KiB chunks, all at once.
      for (let i = 0; i < 1024; i++) yield encoder.encode(`${'e'.repeat(1023)}\n`);
      await exited;
    }
    const child: Child = { pid: 1, stdin: { write() {}, end() {} }, stdout: stdout(), stderr: stderr(), exited, kill: () => exit(137) };
    const logged: string[] = [];
    const started = performance.now();
    const worker = new Worker(['php'], () => child, { onExit() {}, onStderr: (_w, text) => logged.push(text) }, 10_000);
    await worker.ready;
    // Let the stderr reader run through what it was given.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    const chars = logged.reduce((n, text) => n + text.length, 0);
    // 16 KiB for each second the reading spanned (a loaded machine may take more than one), and each second's one
    // note of what it dropped: never the whole MiB.
    const seconds = Math.floor((performance.now() - started) / 1000) + 2;
    assert.ok(chars > 0, 'some of it is logged');
    assert.ok(chars <= seconds * ((16 << 10) + 200), `${chars} characters logged in ${seconds - 1} s or less`);
    worker.kill('test over');
    await worker.exited;
  });

  it('gives a job the stderr its answer reports, and never to the job behind it', async () => {
    const { child, say } = scriptedChild({ pid: 1, killedWith: 137 });
    const worker = new Worker(['php'], () => child, { onExit() {}, onStderr() {}, writesAhead: () => true }, 10_000);
    say('{"t":"ready"}\n');
    await worker.ready;
    const job = { target: 'websocket::auth', args: [], stream: false };
    // Two at a time: one running, one written ahead behind it.
    const first = worker.run(job, undefined, 10_000);
    const second = worker.run(job, undefined, 10_000);
    say(`{"id":"${worker.number}.1","t":"error","message":"no","stderr":"RuntimeException: no in /app/ws.php:3"}\n`);
    assert.deepEqual(await first, { ok: false, error: 'no', stderr: 'RuntimeException: no in /app/ws.php:3' });
    const third = worker.run(job, undefined, 10_000);
    say(`{"id":"${worker.number}.2","t":"done","result":true,"stderr":"PHP Warning:  x in /app/ws.php on line 9"}\n`);
    say(`{"id":"${worker.number}.3","t":"done","result":true,"stderr":null}\n`);
    assert.deepEqual(await second, { ok: true, result: true, stderr: 'PHP Warning:  x in /app/ws.php on line 9' });
    assert.deepEqual(await third, { ok: true, result: true }, 'nothing of the jobs before it (and a null stderr is none)');
    assert.equal(worker.death, undefined, 'a null stderr is no reason to take the worker for out of sync');
    worker.kill('test over');
    await worker.exited;
  });
});
