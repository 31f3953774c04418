/**
 * A config read that is stuck (a FIFO nobody writes, as a hung mount reads)
 * holds one of the runtime's few file-system threads until it ends, given up
 * or not. Reloads asked while it hangs (a SIGHUP every minute) must not each
 * start another: past Node's four, every file-system call of the gateway
 * (a /dispatch's realpath, a webhook's DNS lookup) would wait behind them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

describe(`reloads while a config read is stuck on ${TARGET}`, { skip }, () => {
  it('start no more stuck reads than a few: the gateway keeps its file-system threads, and reloads once the read ends', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'hooks.mjs'), 'export function auth() { return true; }\n');
    const server = await startServer({ config: { reloadTimeout: 1, apps: [APP], hosts: { 'm.test': { module: join(dir, 'hooks.mjs') } } } });
    const file = server.configFile!;
    const saved = join(dir, 'saved.json');
    renameSync(file, saved);
    execFileSync('mkfifo', [file]);
    let fifo = file;
    /** Lets the stuck reads go (they get an empty file, and end); whether any was waiting. */
    const release = () => {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        return true;
      } catch {
        // ENXIO: nobody has it open to read.
        return false;
      }
    };
    try {
      const problems: string[] = [];
      // More than the file-system threads Node (four) and Bun (one a core) have.
      for (let i = 0; i < 5; i++) {
        const stuck = await fetch(`${server.url}/reload`, { method: 'POST' });
        const body = await stuck.text();
        assert.equal(stuck.status, 400, body);
        problems.push(body);
      }
      const dispatched = await fetch(`${server.url}/dispatch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ app: APP, target: 'jobs::echo', args: ['still'] }),
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(dispatched.status, 200, await dispatched.text());
      assert.match(problems.at(-1)!, /reading the config has not finished/, 'a reload while earlier ones hang is refused at once, naming what hangs');

      // The stuck reads let go: reloads run again.
      release();
      fifo = join(dir, 'stuck.fifo');
      renameSync(file, fifo);
      renameSync(saved, file);
      await waitFor('the given-up read to end', () => server.logs.filter((line) => line.includes('finished after all')).length === 1);
      const fixed = await fetch(`${server.url}/reload`, { method: 'POST' });
      assert.equal(fixed.status, 200, await fixed.text());
    } finally {
      // Reads queued behind the stuck ones open it in turn: each is let go as it comes.
      for (let quiet = 0; quiet < 10; quiet = release() ? 0 : quiet + 1) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await server.stop(), 0);
    }
  });
});
