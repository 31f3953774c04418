/**
 * Reload and hook modules: an edited module is imported anew (README: "modules
 * re-imported"), on every runtime.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { upgradeStatus } from '../support/client.ts';
import { TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

describe(`reload with hook modules on ${TARGET}`, { skip }, () => {
  it('imports an edited module anew', async () => {
    const module = join(tempDir(), 'hooks.mjs');
    writeFileSync(module, 'export function auth() { return true; }\n');
    const server = await startServer({ config: { hosts: { 'm.test': { module } } } });
    try {
      assert.equal(await upgradeStatus(server.port, { host: 'm.test', token: 't' }), 101);
      writeFileSync(module, 'export function auth() { return false; }\n');
      const reload = await fetch(`${server.url}/reload`, { method: 'POST' });
      assert.equal(reload.status, 200, await reload.text());
      assert.equal(await upgradeStatus(server.port, { host: 'm.test', token: 't' }), 401, 'the edited module decides');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
