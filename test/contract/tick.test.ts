/**
 * The minute tick (CONTRACT section 6) against the way Phlo itself reports a
 * missing tasks class: the first failing tick drops such an app silently.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

describe(`the tick on ${TARGET}`, { skip }, () => {
  it('drops a one-shot app whose CLI reports the missing tasks class as JSON on stderr (a Phlo debug build)', async () => {
    const server = await startServer({
      config: { tick: { every: 0.2 }, hosts: { 'n.test': { app: join(FIXTURES, 'notasks-phlo.php'), build: true } } },
    });
    try {
      await server.waitForLog(/tick dropped app=\S+notasks-phlo\.php reason="no tasks class"/);
      assert.ok(!server.logs.some((l) => /tick failed/.test(l)), server.logs.filter((l) => /tick/.test(l)).join('\n'));
    } finally {
      await server.stop();
    }
  });

  it('logs each distinct failure of a one-shot app once, telling them apart by what the app printed', async () => {
    const server = await startServer({
      env: { WSGATE_TEST_TICKS: join(tempDir(), 'ticks') },
      config: { tick: { every: 0.2 }, hosts: { 'f.test': { app: join(FIXTURES, 'tick-fails.php'), build: true } } },
    });
    try {
      await server.waitForLog(/tick failed .*database unreachable/);
      // Both failures exit with code 1; only stderr says what went wrong.
      await server.waitForLog(/tick failed .*undefined method report::daily/);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(server.logs.filter((l) => /tick failed/.test(l)).length, 2, 'each distinct failure once');
    } finally {
      await server.stop();
    }
  });
});
