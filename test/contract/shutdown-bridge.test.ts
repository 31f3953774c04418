/**
 * SIGTERM runs the close hooks (README, Signals), and a close hook may call
 * back into the gateway (wsCast, wsSubscribe...): the bridge of its own
 * stays up until those hooks are done.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

const HOOKS = `<?php
function wsAuth(string $host, string $token, string $socket) { return true; }
function wsClose(string $host, string $token, string $socket) {
    $sent = wsCast(['left' => $token], 'all', $socket, $host);
    fwrite(STDERR, "close cast sent $sent\\n");
}
`;

describe(`SIGTERM with a bridge of its own on ${TARGET}`, { skip }, () => {
  it("keeps the bridge up for the close hooks' casts", async () => {
    const dir = tempDir();
    const hooks = join(dir, 'hooks.php');
    writeFileSync(hooks, HOOKS);
    const server = await startServer({ config: { bridge: { path: join(dir, 'bridge.sock') }, hosts: { 'p.test': { hooks } } } });
    const client = await connect(server.port, { host: 'p.test', token: 'leaving' });
    assert.equal(await server.stop('SIGTERM'), 0);
    assert.equal((await client.closed).code, 1001);
    assert.ok(server.logs.some((l) => /close cast sent 0/.test(l)), `the close hook's cast reached the bridge:\n${server.logs.join('\n')}`);
  });
});
