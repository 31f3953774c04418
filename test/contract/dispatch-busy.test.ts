/**
 * An async /dispatch to a resident app whose pool queue is full: refused
 * with 503 at once, as a sync one is and as a full one-shot queue makes an
 * async one answer, instead of a 202 for a job that never waits.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

async function dispatch(server: Started, body: unknown) {
  const response = await fetch(`${server.url}/dispatch`, { method: 'POST', body: JSON.stringify(body) });
  return { status: response.status, text: await response.text() };
}

async function pool(server: Started) {
  const health = (await (await fetch(`${server.url}/health`)).json()) as { pools: Record<string, { busy: number; queued: number }> };
  return health.pools[APP]!;
}

describe(`async /dispatch to a full resident pool on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: Client[] = [];
  before(async () => {
    server = await startServer({
      // One job at a time and one place in the queue (writing ahead would hold one job more).
      config: { pool: { cap: 1 }, hosts: { 'p.test': { app: APP, build: false, pool: { maxQueue: 1, writeAhead: false } } } },
    });
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server.stop();
  });

  it('answers 503 naming the full queue, as a sync one does, and queues nothing', async () => {
    const holder = await connect(server.port, { host: 'p.test', token: 'holder' });
    clients.push(holder);
    const marker = join(tempDir(), 'release');
    holder.send(JSON.stringify({ cmd: 'hold', marker }));
    await waitFor('a busy worker', async () => (await pool(server)).busy === 1 || undefined);
    const waiting = dispatch(server, { app: APP, target: 'jobs::echo', args: ['waits'] });
    await waitFor('a queued job', async () => (await pool(server)).queued === 1 || undefined);

    const sync = await dispatch(server, { app: APP, target: 'jobs::echo', args: ['sync'] });
    assert.equal(sync.status, 503, sync.text);
    const async = await dispatch(server, { app: APP, target: 'jobs::echo', args: ['async'], async: true });
    assert.equal(async.status, 503, `an async dispatch that cannot wait is refused, not accepted: ${async.text}`);
    assert.match(JSON.parse(async.text).message, /queue full: 1 jobs already wait/);
    assert.equal((await pool(server)).queued, 1);

    writeFileSync(marker, '');
    assert.equal(await holder.next(5000), 'woke');
    assert.equal((await waiting).status, 200);
    const fits = await dispatch(server, { app: APP, target: 'jobs::echo', args: ['fits'], async: true });
    assert.equal(fits.status, 202, 'with room in the queue, an async dispatch is accepted');
  });
});
