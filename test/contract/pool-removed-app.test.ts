/**
 * A reload that removes an app from the config (from every host, `apps` and
 * the schedule) stops its resident pool: the jobs it has finish, then its
 * workers exit and /health no longer lists it. Before, the pool and its
 * workers stayed for good.
 */
import assert from 'node:assert/strict';
import { copyFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, stalledClient } from '../support/client.ts';
import { readEvents, waitFor } from '../support/events.ts';
import { alive } from '../support/processes.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

async function pools(server: Started): Promise<Record<string, unknown>> {
  return ((await (await fetch(`${server.url}/health`)).json()) as { pools: Record<string, unknown> }).pools;
}

describe(`a reload that removes an app on ${TARGET}`, { skip, timeout: 30_000 }, () => {
  it('lets its jobs finish, then stops its workers and drops its pool', async () => {
    const dir = tempDir();
    const kept = join(dir, 'kept.php');
    const gone = join(dir, 'gone.php');
    copyFileSync(APP, kept);
    copyFileSync(APP, gone);
    const events = join(dir, 'events.jsonl');
    const marker = join(dir, 'release');
    const hostsOf = (gone?: string) => ({ 'kept.test': { app: kept, build: false }, ...(gone && { 'gone.test': { app: gone, build: false } }) });
    const server = await startServer({ env: { WSGATE_TEST_EVENTS: events }, config: { hosts: hostsOf(gone) } });
    try {
      const keeper = await connect(server.port, { host: 'kept.test', token: 'k' });
      const client = await connect(server.port, { host: 'gone.test', token: 'g' });
      client.send(JSON.stringify({ cmd: 'hold', marker }));
      const ofGone = (at: string, hook: string) => readEvents(events).filter((e) => e.at === at && e.hook === hook && e.argv[1] === 'gone.test');
      await waitFor('the held job running', () => ofGone('start', 'receive').length > 0);

      writeFileSync(server.configFile!, JSON.stringify({ hosts: hostsOf() }));
      assert.equal((await fetch(`${server.url}/reload`, { method: 'POST' })).status, 200);
      assert.deepEqual(await client.closed, { code: 1001, reason: 'host no longer served' });
      assert.ok(realpathSync(gone) in (await pools(server)), 'the pool stays while its job runs');

      writeFileSync(marker, '');
      await waitFor('the held job ended', () => ofGone('end', 'receive').length > 0);
      await waitFor("the removed host's close hook ran", () => ofGone('end', 'close').length > 0);
      const pids = new Set(readEvents(events).filter((e) => e.at === 'start' && e.argv[1] === 'gone.test').map((e) => e.pid!));
      await waitFor('every worker of the removed app exited', () => ![...pids].some(alive), 5000);
      await waitFor('its pool gone from /health', async () => !(realpathSync(gone) in (await pools(server))), 5000);
      assert.ok(realpathSync(kept) in (await pools(server)), "the kept app's pool stays");
      keeper.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  it('runs the close hook of its socket that never answers the close at the reload, then drops the pool', async () => {
    const dir = tempDir();
    const gone = join(dir, 'gone.php');
    copyFileSync(APP, gone);
    const events = join(dir, 'events.jsonl');
    const server = await startServer({ env: { WSGATE_TEST_EVENTS: events }, config: { hosts: { 'kept.test': { app: APP, build: false }, 'gone.test': { app: gone, build: false } } } });
    try {
      // It never answers the close the reload sends: the gateway does not wait for it to run the close hook.
      const stalled = await stalledClient(server.port, { host: 'gone.test', token: 'late' });
      const closes = () => readEvents(events).filter((e) => e.at === 'end' && e.hook === 'close' && e.argv[1] === 'gone.test');
      writeFileSync(server.configFile!, JSON.stringify({ hosts: { 'kept.test': { app: APP, build: false } } }));
      assert.equal((await fetch(`${server.url}/reload`, { method: 'POST' })).status, 200);
      await waitFor('its close hook ran', () => closes().length > 0, 5000);
      await waitFor('the idle pool of the removed app gone', async () => !(realpathSync(gone) in (await pools(server))), 5000);
      assert.equal(closes().length, 1);
      assert.ok(!stalled.destroyed, 'the socket had not gone');
      stalled.destroy();
    } finally {
      await server.stop();
    }
  });
});
