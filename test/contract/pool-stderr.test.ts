/**
 * Whose a resident worker's stderr is: a job is logged with what it printed
 * while it ran, never with what the worker printed after answering the job
 * before it, whether the next job was written ahead (it waited in stdin) or
 * handed over as the answer came in. That output is logged as the worker's.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP = join(FIXTURES, 'stderr-worker.php');

async function pool(server: Started) {
  const health = (await (await fetch(`${server.url}/health`)).json()) as { pools: Record<string, { busy: number; queued: number; pipelined: number }> };
  return health.pools[APP]!;
}

async function whoami(c: Client): Promise<string> {
  c.send(JSON.stringify({ cmd: 'whoami' }));
  return c.next();
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

for (const writeAhead of [true, false]) {
  describe(`resident worker stderr on ${TARGET}, writeAhead ${writeAhead}`, { skip }, () => {
    let server: Started;
    const clients: Client[] = [];
    before(async () => {
      // One worker: the second job goes to the worker that answers the first.
      server = await startServer({ config: { pool: { cap: 1 }, hosts: { 's.test': { app: APP, build: false, pool: { writeAhead } } } } });
    });
    after(async () => {
      for (const c of clients) c.ws.terminate();
      await server.stop();
    });

    it(`logs what the worker prints after an answer as its own, not the ${writeAhead ? 'written-ahead' : 'next'} job's, and a running job's stderr with it`, async () => {
      const [a, b] = [await connect(server.port, { host: 's.test', token: 'first' }), await connect(server.port, { host: 's.test', token: 'second' })];
      clients.push(a, b);
      const [socketA, socketB] = [await whoami(a), await whoami(b)];
      const dir = tempDir();
      const [ma, mb] = [join(dir, 'a'), join(dir, 'b')];

      a.send(JSON.stringify({ cmd: 'tail', marker: ma }));
      await waitFor('the first job running', async () => (await pool(server)).busy === 1 || undefined);
      b.send(JSON.stringify({ cmd: 'steps', marker: mb }));
      await waitFor(writeAhead ? 'the second job written ahead' : 'the second job queued', async () => {
        const p = await pool(server);
        return (writeAhead ? p.pipelined : p.queued) === 1 || undefined;
      });
      // The first job answers, then the worker writes the tail, then it takes up the second job.
      writeFileSync(ma, '');
      await waitFor('the second job started', () => existsSync(`${mb}.started`));
      writeFileSync(`${mb}.1`, '');
      assert.equal(await b.next(), 'one');
      writeFileSync(`${mb}.2`, '');
      assert.equal(await b.next(), 'two');
      writeFileSync(`${mb}.3`, '');

      const second = await server.waitForLog(new RegExp(`hook stderr host=s\\.test socket=${escape(socketB)} hook=receive`));
      assert.match(second, /own-stderr-while-running/, 'the second job is logged with what it printed while it ran');
      assert.doesNotMatch(second, /tail-after-answer/, 'the second job is not blamed for what the worker printed after the first one');
      const tail = await server.waitForLog(/tail-after-answer/);
      // The worker's own; or, had the pipes been read out of order, the first job's: never the second's.
      assert.ok(/ worker stderr app=/.test(tail) || tail.includes(`socket=${socketA}`), tail);
      for (const line of server.logs.filter((l) => l.includes('tail-after-answer'))) assert.ok(!line.includes(socketB), line);
    });
  });
}
