/**
 * A first-frame auth socket (`"tokenFrom": "message"`) is held to
 * limits.frame from its first frame on, before it has a token: on Deno,
 * which has no frame limit of its own, the auth frame was read whatever its
 * size, and a token over the limit was taken.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

describe(`the first frame of a first-frame auth socket on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { limits: { frame: 1024 }, hosts: { 'm.test': { module: join(FIXTURES, 'hooks.ts'), tokenFrom: 'message' } } } });
  });
  after(() => server?.stop());

  it('closes with 1009 on an auth frame over limits.frame, and runs no auth hook', { timeout: 15_000 }, async () => {
    const c = await connect(server.port, { host: 'm.test' });
    c.send(JSON.stringify({ type: 'auth', token: 'x'.repeat(4000) }));
    assert.equal((await c.closed).code, 1009);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /wsgate_hook_runs_total\{[^}]*hook="auth"/);
  });

  it('still takes an auth frame within the limit', async () => {
    const c = await connect(server.port, { host: 'm.test' });
    c.send(JSON.stringify({ type: 'auth', token: 'first-frame' }));
    c.send('hi');
    assert.equal(await c.next(), 'module got hi');
    c.ws.terminate();
  });
});
