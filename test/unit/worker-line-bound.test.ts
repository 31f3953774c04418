/**
 * limits.hookLine bounds a line of hook output, whatever runs the hook. A
 * resident worker's frame may be twice as long (room for the JSON escaping
 * of its line), but the line it carries may not be longer than the bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readyWorker } from '../support/scripted-worker.ts';

describe('a resident worker that streams a line over limits.hookLine in a frame within twice the bound', () => {
  it('is killed, its job failed, and the line is not sent', async () => {
    const { worker, say } = await readyWorker(1000);
    const lines: string[] = [];
    const running = worker.run({ target: 'websocket::receive', args: [], stream: true }, (line) => lines.push(line), 10_000);
    // 1500 bytes of line, no escaping: a frame of about 1530 bytes, under the frame bound of 2000.
    say(`{"id":"${worker.number}.1","t":"line","data":"short"}\n{"id":"${worker.number}.1","t":"line","data":"${'x'.repeat(1500)}"}\n`);
    say(`{"id":"${worker.number}.1","t":"done","result":true}\n`);
    const outcome = await running;
    assert.deepEqual(lines, ['short']);
    assert.equal(outcome.ok, false);
    assert.match(!outcome.ok ? outcome.error : '', /a line of output is longer than 1000 bytes/);
    await worker.exited;
  });

  it('still sends a line within the bound whose escaped frame is longer than the bound', async () => {
    const { worker, say } = await readyWorker(1000);
    const lines: string[] = [];
    const running = worker.run({ target: 'websocket::receive', args: [], stream: true }, (line) => lines.push(line), 10_000);
    say(`{"id":"${worker.number}.1","t":"line","data":"${'\\"'.repeat(900)}"}\n{"id":"${worker.number}.1","t":"done","result":true}\n`);
    const outcome = await running;
    assert.equal(outcome.ok, true);
    assert.deepEqual(lines, ['"'.repeat(900)]);
    worker.kill('test over');
    await worker.exited;
  });
});
