/**
 * The minute tick (CONTRACT section 6) against the way Phlo itself reports a
 * missing tasks class: the first failing tick drops such an app silently.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';

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
});
