/**
 * Reload and hook modules: an edited module is imported anew (README: "modules
 * re-imported"), on every runtime; one that does not load (a syntax error, a
 * non-function export) is a config with errors: it changes nothing, says why,
 * and a reload once it is fixed loads the fixed one.
 */
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

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

  it('changes nothing when a module does not load, answers 400 with the problem, and takes the fixed module later', async () => {
    const dir = tempDir();
    const app = join(dir, 'app.php');
    copyFileSync(APP, app);
    writeFileSync(join(dir, 'version.txt'), 'one');
    const module = join(dir, 'hooks.mjs');
    writeFileSync(module, 'export function auth() { return true; }\n');
    const hosts = { 'r.test': { app, build: false }, 'm.test': { module } };
    const server = await startServer({ config: { hosts } });
    try {
      const php = await connect(server.port, { host: 'r.test', token: 'stay' });
      php.send(JSON.stringify({ cmd: 'version' }));
      assert.equal(await php.next(), 'version one');

      // A deploy: new PHP code, a new host, and a module that does not load.
      writeFileSync(join(dir, 'version.txt'), 'two');
      writeFileSync(module, 'export function auth( {\n');
      writeFileSync(server.configFile!, JSON.stringify({ hosts: { ...hosts, 'new.test': { module } } }));
      const response = await fetch(`${server.url}/reload`, { method: 'POST' });
      const body = (await response.json()) as { problems?: string[] };
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(body.problems?.join('\n') ?? '', /hooks\.mjs/);
      await server.waitForLog(/reload failed problems=.*hooks\.mjs/);

      php.send(JSON.stringify({ cmd: 'version' }));
      assert.equal(await php.next(), 'version one', 'a failed reload leaves the resident workers alone');
      assert.equal(await upgradeStatus(server.port, { host: 'new.test', token: 't' }), 401, 'nor does it add a host');
      assert.equal(await upgradeStatus(server.port, { host: 'm.test', token: 't' }), 101, 'the old module still serves');

      writeFileSync(module, 'export function auth() { return false; }\n');
      const again = await fetch(`${server.url}/reload`, { method: 'POST' });
      assert.equal(again.status, 200, await again.text());
      assert.equal(await upgradeStatus(server.port, { host: 'm.test', token: 't' }), 401, 'the fixed module is the one loaded');
      php.ws.terminate();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
