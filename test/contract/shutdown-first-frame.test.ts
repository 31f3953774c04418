/**
 * SIGTERM while a `"tokenFrom": "message"` socket is open and has not sent its
 * auth frame yet: it is a socket like any other to its client, and is closed
 * with 1001 as the README says, not dropped by the exit (1006). So is one
 * whose host a reload removed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';

const skip = targetAvailable();
const HOST = { module: join(FIXTURES, 'hooks.ts'), tokenFrom: 'message' };

describe(`first-frame auth sockets at a stop or reload on ${TARGET}`, { skip }, () => {
  // Several: the exit must wait for every close frame, not only for the first to go (Deno wrote them after its exit began).
  it('closes those still waiting for their auth frame with 1001 on SIGTERM', async () => {
    const server = await startServer({ config: { hosts: { 'm.test': HOST } } });
    const waiting = await Promise.all(Array.from({ length: 8 }, () => connect(server.port, { host: 'm.test' })));
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.deepEqual(await Promise.all(waiting.map(async (client) => (await client.closed).code)), waiting.map(() => 1001));
  });

  it('closes one still waiting for its auth frame with 1001 when a reload removes its host', async () => {
    const server = await startServer({ config: { hosts: { 'm.test': HOST, 'n.test': HOST } } });
    try {
      const waiting = await connect(server.port, { host: 'm.test' });
      writeFileSync(server.configFile!, JSON.stringify({ hosts: { 'n.test': HOST } }));
      assert.equal((await fetch(`${server.url}/reload`, { method: 'POST' })).status, 200);
      assert.deepEqual(await waiting.closed, { code: 1001, reason: 'host no longer served' });
    } finally {
      await server.stop();
    }
  });
});
