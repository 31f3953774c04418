/**
 * A resident worker's stderr outside a job goes to the log within a budget:
 * a worker that prints without end while idle must not flood the log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from '../../src/hooks/pool/worker.ts';
import type { Child } from '../../src/runtime/types.ts';

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
});
