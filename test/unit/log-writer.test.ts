import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedLineWriter } from '../../src/ops/log-writer.ts';

/** A sink whose reader is stalled until flush(): it keeps every chunk and its callback. */
function stalledSink() {
  const waiting: Array<{ chunk: string; done: () => void }> = [];
  const written: string[] = [];
  return {
    written,
    waiting,
    write(chunk: string, done: () => void) {
      waiting.push({ chunk, done });
    },
    /** The reader catches up: everything waiting is written, callbacks in order (which may write more). */
    flush() {
      while (waiting.length) {
        const next = waiting.shift()!;
        written.push(next.chunk);
        next.done();
      }
    },
  };
}

describe('boundedLineWriter', () => {
  it('writes every line while the reader keeps up', () => {
    const sink = stalledSink();
    const write = boundedLineWriter(sink, 100);
    for (let i = 0; i < 50; i++) {
      write(`line ${i}`);
      sink.flush();
    }
    assert.equal(sink.written.length, 50);
    assert.equal(sink.written[49], 'line 49\n');
  });

  it('holds at most its limit for a stalled reader, drops the rest, and says how many once it caught up', () => {
    const sink = stalledSink();
    const write = boundedLineWriter(sink, 100);
    // Lines of 10 characters with their newline: 10 fit, 990 do not.
    for (let i = 0; i < 1000; i++) write(`line ${String(i).padStart(4, '0')}`);
    assert.equal(sink.waiting.length, 10);
    assert.equal(sink.waiting.reduce((n, w) => n + w.chunk.length, 0), 100);
    sink.flush();
    assert.deepEqual(sink.written.slice(0, 2), ['line 0000\n', 'line 0001\n']);
    assert.match(sink.written.at(-1)!, /^log lines dropped: 990 \(/);
    // And it writes again afterwards.
    write('after');
    sink.flush();
    assert.equal(sink.written.at(-1), 'after\n');
  });

  it('says when every line taken was written, for the process to exit after', async () => {
    const sink = stalledSink();
    const write = boundedLineWriter(sink, 100);
    await write.drained();
    write('one');
    write('two');
    let drained = false;
    const waiting = write.drained().then(() => (drained = true));
    await Promise.resolve();
    assert.equal(drained, false, 'not while lines wait for the reader');
    sink.flush();
    await waiting;
    assert.deepEqual(sink.written, ['one\n', 'two\n']);
  });

  it('writes nothing more once a write failed (the reader went away), and is drained then', async () => {
    let writes = 0;
    const write = boundedLineWriter({
      write(_chunk: string, done: (error?: Error | null) => void) {
        writes++;
        queueMicrotask(() => done(new Error('write EPIPE')));
      },
    });
    write('one');
    await write.drained();
    write('two');
    write('three');
    await write.drained();
    assert.equal(writes, 1, 'lines were still written to a sink that failed');
  });
});
