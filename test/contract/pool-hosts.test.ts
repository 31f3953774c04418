/**
 * Hosts that share one app share its resident pool and its queue: one host's
 * flood of upgrades must not keep another host's out.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { upgradeStatus } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
// One job at a time, so the queue's bound is what the test sees (writing ahead would hold one job more).
const resident = { app: APP, build: false, pool: { maxQueue: 3, writeAhead: false } };

async function pool(server: Started): Promise<{ busy: number; queued: number }> {
  const health = (await (await fetch(`${server.url}/health`)).json()) as { pools: Record<string, { busy: number; queued: number }> };
  return Object.values(health.pools)[0] ?? { busy: 0, queued: 0 };
}

describe(`a resident pool shared by hosts on ${TARGET}`, { skip, timeout: 30_000 }, () => {
  it("lets another host's upgrade wait in a queue one host's flood has filled, in place of that host's newest", async () => {
    const gate = join(tempDir(), 'open');
    const server = await startServer({
      env: { WSGATE_TEST_HOLD: gate },
      config: { pool: { cap: 1 }, hosts: { 'a.test': resident, 'b.test': resident } },
    });
    try {
      // a.test's auth hooks wait for the gate: one runs, three fill the queue, the next is refused at once.
      // A connection dropped (the server stopping after a failed assertion) is a status of its own, not an unhandled rejection.
      const upgrade = (host: string, token: string) => upgradeStatus(server.port, { host, token }).catch((error: Error) => error.message);
      const flood = [upgrade('a.test', 'gated0')];
      await waitFor('a busy worker', async () => (await pool(server)).busy === 1 || undefined);
      for (let i = 1; i <= 3; i++) flood.push(upgrade('a.test', `gated${i}`));
      await waitFor('a full queue', async () => (await pool(server)).queued === 3 || undefined);
      assert.equal(await upgrade('a.test', 'gated4'), 503, "the queue is full for a.test's own");
      // b.test holds no place: a.test's newest waiting upgrade gives its place up, and is refused instead.
      const other = upgrade('b.test', 'gated-b');
      const first = await Promise.race([other.then((status) => `b.test ${status}`), flood[3]!.then((status) => `a.test's newest ${status}`)]);
      assert.equal(first, "a.test's newest 503", "b.test's upgrade waits, and a.test's newest waiting one is refused for it");
      await server.waitForLog(/hook refused host=a\.test .*shared between hosts/);
      writeFileSync(gate, '');
      assert.equal(await other, 101, "b.test's upgrade waited and got in");
      assert.deepEqual(await Promise.all(flood.slice(0, 3)), [101, 101, 101], "a.test's others still got in");
    } finally {
      writeFileSync(gate, '');
      await server.stop();
    }
  });
});
