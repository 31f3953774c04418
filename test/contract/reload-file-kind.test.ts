/**
 * A deploy that turns a resident host's file from a Phlo app into a plain
 * PHP hooks file at the same path (or back), then reloads: the pool is keyed
 * by the file, and its workers must be started the new way (through the
 * SDK's runner), not the way the pool was first made.
 */
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

const HOOKS = `<?php
function wsReceive(string $host, string $token, string $socket, $message)
{
    echo 'hooks file got ', $message, "\\n";
}
`;

describe(`a reload that turns an app into a hooks file on ${TARGET}`, { skip }, () => {
  it('starts the workers of the file the new way', async () => {
    const dir = tempDir();
    const file = join(dir, 'app.php');
    copyFileSync(APP, file);
    writeFileSync(join(dir, 'version.txt'), 'one');
    const server = await startServer({ config: { hosts: { 'r.test': { app: file, build: false } } } });
    try {
      const before = await connect(server.port, { host: 'r.test', token: 't' });
      before.send(JSON.stringify({ cmd: 'version' }));
      assert.equal(await before.next(), 'version one');
      before.ws.terminate();

      writeFileSync(file, HOOKS);
      writeFileSync(server.configFile!, JSON.stringify({ hosts: { 'r.test': { hooks: file, build: false } } }));
      const reload = await fetch(`${server.url}/reload`, { method: 'POST' });
      assert.equal(reload.status, 200, await reload.text());

      const after = await connect(server.port, { host: 'r.test', token: 't' });
      after.send('hello');
      assert.equal(await after.next(), 'hooks file got hello', 'a worker started through the SDK runner');
      after.ws.terminate();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
