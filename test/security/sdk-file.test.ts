/**
 * The SDK file PHP runs as wsgate's user, against the real server: another
 * local user who creates the SDK's file first in the shared temp folder
 * must not have their code run (and answer hooks) in its place.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sha256Hex } from '../../src/core/ids.ts';
import { WSGATE_PHP } from '../../src/hooks/sdk/wsgate-php.ts';
import { upgradeStatus } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

describe(`an SDK file planted in the temp folder on ${TARGET}`, { skip }, () => {
  it('is not run: the hooks answer as the hooks file says', async () => {
    const tmp = tempDir();
    chmodSync(tmp, 0o1777); // shared, as /tmp is
    const marker = join(tempDir(), 'planted-ran');
    // The name the SDK went under: computable by anyone who has the same wsgate.
    const planted = join(tmp, `wsgate-sdk-${sha256Hex(WSGATE_PHP).slice(0, 12)}.php`);
    writeFileSync(planted, `<?php file_put_contents(${JSON.stringify(marker)}, 'ran'); echo "false\\n";`);
    const hooks = join(FIXTURES, 'ws.php');
    const server = await startServer({
      env: { TMPDIR: tmp },
      config: { hosts: { 'oneshot.test': { hooks, build: true }, 'resident.test': { hooks, build: false } } },
    });
    try {
      assert.equal(await upgradeStatus(server.port, { host: 'oneshot.test', token: 'ok' }), 101);
      assert.equal(await upgradeStatus(server.port, { host: 'resident.test', token: 'ok' }), 101);
      assert.equal(await upgradeStatus(server.port, { host: 'oneshot.test', token: 'refuse' }), 401, 'the real wsAuth ran');
      assert.equal(existsSync(marker), false, 'the planted file ran as wsgate\'s user');
    } finally {
      await server.stop();
    }
  });
});
