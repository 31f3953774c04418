/**
 * Attack: a page in the user's browser (or a reconnect storm) opens upgrades
 * as fast as it can with an Origin the host does not allow. Each refusal
 * costs the gateway almost nothing, but each was one log line: thousands a
 * second fill the disk and bury real events. Per kind and host, a few lines a
 * second are written whole; the rest are counted into one summary line, and
 * /metrics still counts every one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { upgradeStatus } from '../support/client.ts';
import { accounted, untilAccounted } from '../support/log-accounting.ts';

const FLOOD = 500;
const REFUSED = / upgrade refused host=app\.test origin=https:\/\/evil\.test reason="origin not allowed"/;
const SUMMARY = / upgrade refused host=app\.test kind=origin .*suppressed=(\d+)/;

describe(`a flood of refused upgrades on ${TARGET}`, { skip: targetAvailable() }, () => {
  it('logs a few whole lines and one summary with the count, and /metrics counts each', async () => {
    const server = await startServer({ config: { hosts: { 'app.test': APP } } });
    try {
      const headers = { origin: 'https://evil.test' };
      // 25 at a time: as fast as the gateway answers, without a socket per refusal open at once.
      for (let sent = 0; sent < FLOOD; sent += 25) {
        const statuses = await Promise.all(Array.from({ length: 25 }, () => upgradeStatus(server.port, { host: 'app.test', token: 't', headers })));
        assert.deepEqual(new Set(statuses), new Set([403]));
      }
      await untilAccounted(server, REFUSED, SUMMARY, FLOOD);
      const { whole, summed, summaries } = accounted(server.logs, REFUSED, SUMMARY);
      assert.equal(whole + summed, FLOOD, 'every refusal is a line or counted in a summary, once');
      assert.ok(summaries >= 1, 'a summary line says how many were not written');
      // A few lines a second (and a summary each second) while it lasts: far fewer than the refusals, however slow the machine.
      assert.ok(whole + summaries < FLOOD / 5, `${whole} whole lines and ${summaries} summaries for ${FLOOD} refusals`);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`wsgate_upgrades_total\\{host="app\\.test",result="refused",reason="origin"\\} ${FLOOD}\\b`));
    } finally {
      await server.stop();
    }
  });
});
