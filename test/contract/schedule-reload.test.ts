/**
 * A schedule entry never runs twice at once, a reload included: a run the
 * old config started and that is still going makes the new config's next
 * run of that entry skip, as it would have without the reload.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';

const skip = targetAvailable();

describe(`schedule across a reload on ${TARGET}`, { skip }, () => {
  const firstRunSpansReload = async (reloaded: (config: Record<string, unknown>) => Record<string, unknown>) => {
    const config = { tick: false, schedule: [{ app: APP, target: 'tasks::run', every: 0.2 }], hosts: { 'r.test': APP } };
    const server = await startServer({
      // Workers boot slowly, so the first run waits for one, and still waits after the reload (which restarts the boot).
      env: { WSGATE_TEST_BOOT_MS: '1500' },
      config,
    });
    try {
      await server.waitForLog(/schedule skipped entry=schedule\[0\] /);
      writeFileSync(server.configFile!, JSON.stringify(reloaded(config)));
      assert.equal((await fetch(`${server.url}/reload`, { method: 'POST' })).status, 200);
      // The new config's scheduler ticks while the first run still waits: it must see that run and skip.
      const pool = async () => ((await (await fetch(`${server.url}/health`)).json()) as { pools: Record<string, { queued: number; done: number }> }).pools[APP]!;
      let most = 0;
      await waitFor('the first run to end', async () => {
        const { queued, done } = await pool();
        most = Math.max(most, queued);
        return done >= 1 || undefined;
      });
      assert.equal(most, 1, 'one run of the entry at a time, never a second queued beside the first');
    } finally {
      await server.stop();
    }
  };

  it('skips the next run while a run started before the reload is still going', () => firstRunSpansReload((config) => config));

  it('skips it too when the reload moved the entry to another place in the list', () =>
    firstRunSpansReload((config) => ({ ...config, schedule: [{ app: APP, target: 'tasks::other', every: 3600 }, ...(config.schedule as unknown[])] })));
});
