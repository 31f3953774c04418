/**
 * Upgrades that wait on a resident auth hook when the gateway stops: the
 * hook never said no, so the client must not be told its token is bad (401,
 * which clients take as "give up"); it is told to come back (503), or loses
 * its connection, as any client of a server that went away.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { upgradeStatus } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

describe(`upgrades waiting on a resident auth hook at stop on ${TARGET}`, { skip, timeout: 30_000 }, () => {
  it('are answered 503 or dropped, never 401', async () => {
    const server = await startServer({
      env: { WSGATE_TEST_HOLD: join(tempDir(), 'never') },
      config: { pool: { cap: 1 }, hosts: { 'a.test': { app: APP, build: false, pool: { writeAhead: false } } } },
    });
    try {
      const health = async () => Object.values(((await (await fetch(`${server.url}/health`)).json()) as { pools: Record<string, { busy: number; queued: number }> }).pools)[0];
      // Bun ends the connections of upgrades still in flight when it stops listening: a dropped connection, not a status.
      const upgrade = (token: string) => upgradeStatus(server.port, { host: 'a.test', token }).catch(() => 'dropped' as const);
      const running = upgrade('gated0');
      await waitFor('a busy worker', async () => (await health())?.busy === 1 || undefined);
      const queued = upgrade('gated1');
      await waitFor('a job in the queue', async () => (await health())?.queued === 1 || undefined);
      await server.stop();
      for (const [name, status] of [['the queued upgrade', await queued], ['the running upgrade', await running]] as const) {
        assert.ok(status === 503 || status === 'dropped', `${name}: ${status}`);
      }
    } finally {
      await server.stop();
    }
  });
});
