/**
 * With "dispatchAnyApp": true, every app path a /dispatch caller names gets a
 * pool: those of apps that are not configured must go once idle, or the
 * caller grows wsgate's map of pools (and /health, and the metrics) for good.
 */
import assert from 'node:assert/strict';
import { copyFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

async function pools(server: Started): Promise<Record<string, { workers: number }>> {
  return ((await (await fetch(`${server.url}/health`)).json()) as { pools: Record<string, { workers: number }> }).pools;
}

async function echo(server: Started, app: string): Promise<unknown> {
  const response = await fetch(`${server.url}/dispatch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ app, target: 'jobs::echo', args: [1] }) });
  return response.json();
}

describe(`/dispatch with dispatchAnyApp on ${TARGET}`, { skip, timeout: 30_000 }, () => {
  it("removes the pool of an app that is not configured once it idles, and keeps a configured app's", async () => {
    const stranger = join(tempDir(), 'app.php');
    copyFileSync(APP, stranger);
    const real = realpathSync(stranger);
    const configured = realpathSync(APP);
    const server = await startServer({ config: { dispatchAnyApp: true, pool: { idle: 0.3 }, hosts: { 'r.test': { app: APP, build: false } } } });
    try {
      assert.deepEqual(await echo(server, APP), { status: 'ok', result: [1] });
      // Timed from before the request: its job ends, and its idle time begins, after this; the answer may reach a busy
      // test process well after it.
      const asked = performance.now();
      assert.deepEqual(await echo(server, stranger), { status: 'ok', result: [1] });
      assert.ok(real in (await pools(server)), 'the stranger has a pool while it works');
      // Its worker is reaped after 0.3 s idle; then the pool itself goes.
      await waitFor('the idle pool of the app that is not configured removed', async () => !(real in (await pools(server))));
      assert.ok(performance.now() - asked >= 300, 'not before its idle time');
      assert.ok(configured in (await pools(server)), "the configured app's pool stays");
      assert.deepEqual(await echo(server, stranger), { status: 'ok', result: [1] }, 'a new pool serves the stranger again');
    } finally {
      await server.stop();
    }
  });
});
