/**
 * A reload step that never finishes: a hook module whose top-level await
 * never settles, a config file that is a FIFO nobody writes (as a hung mount
 * reads). Reloads run one at a time, so without a bound the stuck one would
 * hold every later reload for good; past `reloadTimeout` it fails, naming the
 * step, changes nothing, and the next reload runs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { openSync, closeSync, constants, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { upgradeStatus } from '../support/client.ts';
import { TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

describe(`a reload whose step never finishes on ${TARGET}`, { skip }, () => {
  it('fails past reloadTimeout naming the step, keeps the old hooks, and lets the next reload run', async () => {
    const dir = tempDir();
    const module = join(dir, 'hooks.mjs');
    writeFileSync(module, 'export function auth() { return true; }\n');
    const config = { reloadTimeout: 1, hosts: { 'm.test': { module } } };
    const server = await startServer({ config });
    try {
      writeFileSync(module, 'await new Promise(() => {});\nexport function auth() { return false; }\n');
      const began = performance.now();
      const stuck = await fetch(`${server.url}/reload`, { method: 'POST' });
      const body = (await stuck.json()) as { problems?: string[] };
      assert.equal(stuck.status, 400, JSON.stringify(body));
      assert.match(body.problems?.join('\n') ?? '', /importing the hook modules did not finish within 1 s \(reloadTimeout\)/);
      assert.ok(performance.now() - began < 10_000, 'the answer comes once the step is given up, not later');
      await server.waitForLog(/reload failed problems="importing the hook modules/);
      assert.equal(await upgradeStatus(server.port, { host: 'm.test', token: 't' }), 101, 'the old module still serves');

      // The module fixed: the next reload runs at once, not behind the stuck one.
      writeFileSync(module, 'export function auth() { return false; }\n');
      const fixed = await fetch(`${server.url}/reload`, { method: 'POST' });
      assert.equal(fixed.status, 200, await fixed.text());
      assert.equal(await upgradeStatus(server.port, { host: 'm.test', token: 't' }), 401, 'the fixed module decides');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('fails a reload whose config file cannot be read to its end, and reads the next one', async () => {
    const dir = tempDir();
    const config = { reloadTimeout: 1, hosts: { 'm.test': { module: join(dir, 'hooks.mjs') } } };
    writeFileSync(join(dir, 'hooks.mjs'), 'export function auth() { return true; }\n');
    const server = await startServer({ config });
    const file = server.configFile!;
    const saved = join(dir, 'saved.json');
    renameSync(file, saved);
    // A FIFO with no writer: opening it to read waits for one, as a read from a hung mount waits.
    execFileSync('mkfifo', [file]);
    try {
      const stuck = await fetch(`${server.url}/reload`, { method: 'POST' });
      const body = (await stuck.json()) as { problems?: string[] };
      assert.equal(stuck.status, 400, JSON.stringify(body));
      assert.match(body.problems?.join('\n') ?? '', /reading the config did not finish within 1 s \(reloadTimeout\)/);
      assert.equal(await upgradeStatus(server.port, { host: 'm.test', token: 't' }), 101, 'the gateway serves on');
    } finally {
      // Lets the stuck read go (it gets an empty file and ends), so that no thread of the server waits on it for good.
      try {
        closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // ENXIO: nobody has it open to read (the runtime gave up its open).
      }
      renameSync(saved, file);
    }
    try {
      // Until the given-up read ends, a reload would start another that might hang as well: it is refused.
      await server.waitForLog(/reading the config, given up \d+ s ago, finished after all/);
      const next = await fetch(`${server.url}/reload`, { method: 'POST' });
      assert.equal(next.status, 200, await next.text());
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
