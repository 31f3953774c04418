/**
 * A job written ahead is handed back only when the worker cannot have
 * started it. An answer (done or error) is what lets PHP go on to the next
 * job in its stdin, whatever id it names: one naming a job the worker was
 * not running may have been the answer to the one it ran.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from '../../src/hooks/pool/worker.ts';
import { scriptedChild as scripted } from '../support/scripted-worker.ts';

describe('a worker that answers a job it was not running while a job waits behind', () => {
  for (const answer of ['{"id":"x.1","t":"done","result":true}', '{"id":"x.1","t":"error","message":"no"}']) {
    it(`fails the job behind rather than hand it back to run again (${JSON.parse(answer).t})`, async () => {
      const { child, say } = scripted();
      const worker = new Worker(['php'], () => child, { onExit() {}, onStderr() {}, writesAhead: () => true }, 10_000);
      say('{"t":"ready"}\n');
      await worker.ready;
      const job = { target: 'websocket::receive', args: [], stream: false };
      const running = worker.run(job, undefined, 10_000);
      const behind = worker.run(job, undefined, 10_000);
      // An answer under the wrong id: PHP is done with its job and reads the next one, which it may have started before the kill.
      say(`${answer}\n`);
      const [first, second] = await Promise.all([running, behind]);
      assert.equal(first.ok, false);
      assert.match(!first.ok ? first.error : '', /which it was not running/);
      assert.equal(second.ok, false);
      assert.equal(!second.ok && second.notStarted, undefined, 'the job behind may have started: it must not run again elsewhere');
      await worker.exited;
    });
  }

  it('still hands the job behind back for a line of a job it was not running (not an answer: PHP did not go on)', async () => {
    const { child, say } = scripted();
    const worker = new Worker(['php'], () => child, { onExit() {}, onStderr() {}, writesAhead: () => true }, 10_000);
    say('{"t":"ready"}\n');
    await worker.ready;
    const job = { target: 'websocket::receive', args: [], stream: true };
    const running = worker.run(job, () => {}, 10_000);
    const behind = worker.run(job, () => {}, 10_000);
    say('{"id":"x.1","t":"line","data":"hi"}\n');
    const [, second] = await Promise.all([running, behind]);
    assert.equal(!second.ok && second.notStarted, true);
    await worker.exited;
  });
});
