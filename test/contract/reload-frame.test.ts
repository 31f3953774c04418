/**
 * A reload that raises limits.frame: ws on Node checks the frame size itself
 * and must check new sockets against the new limit, or a frame the config
 * allows is closed with 1009. Bun cannot change it while serving, and says so.
 * No runtime changes its ping interval while serving: a keepalive change says so.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();
const MODULE = { module: join(FIXTURES, 'hooks.ts') };

describe(`a reload that raises limits.frame on ${TARGET}`, { skip }, () => {
  it('lets a frame under the new limit through', async () => {
    const config = { limits: { frame: 1024 }, hosts: { 'm.test': MODULE } };
    const server = await startServer({ config });
    try {
      writeFileSync(server.configFile!, JSON.stringify({ ...config, limits: { frame: 4096 } }));
      assert.equal((await fetch(`${server.url}/reload`, { method: 'POST' })).status, 200);
      if (TARGET === 'bun' || TARGET === 'binary') {
        // Bun takes its frame limit once, at Bun.serve: the log says the higher one waits for a restart.
        await server.waitForLog(/reload note="limits\.frame: a higher limit takes effect at the next restart on this runtime"/);
        return;
      }
      const c = await connect(server.port, { host: 'm.test', token: 't' });
      c.send('y'.repeat(2000));
      assert.equal(await c.next(), `module got ${'y'.repeat(2000)}`);
      c.ws.terminate();
    } finally {
      await server.stop();
    }
  });
});

describe(`a reload that changes keepalive on ${TARGET}`, { skip }, () => {
  it('says the change waits for a restart', async () => {
    const config = { keepalive: 30, hosts: { 'm.test': MODULE } };
    const server = await startServer({ config });
    try {
      writeFileSync(server.configFile!, JSON.stringify({ ...config, keepalive: 5 }));
      assert.equal((await fetch(`${server.url}/reload`, { method: 'POST' })).status, 200);
      await server.waitForLog(/reload note="keepalive changes take effect at the next restart"/);
    } finally {
      await server.stop();
    }
  });
});

describe(`a reload that cannot build a host's runner on ${TARGET}`, { skip }, () => {
  it('fails with the problem and changes nothing, the hosts served before included', async () => {
    const tmp = join(tempDir(), 'tmp');
    mkdirSync(tmp);
    const config = { hosts: { 'm.test': MODULE } };
    const server = await startServer({ config, env: { TMPDIR: tmp } });
    try {
      // From now on the SDK's file cannot be written: its temp folder is a file (root could write through mode bits).
      rmSync(tmp, { recursive: true });
      writeFileSync(tmp, '');
      writeFileSync(server.configFile!, JSON.stringify({ hosts: { 'sdk.test': { hooks: join(FIXTURES, 'ws.php') } } }));
      const answer = await fetch(`${server.url}/reload`, { method: 'POST' });
      const body = (await answer.json()) as { status: string; problems?: string[] };
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(body.status, 'error');
      assert.match(body.problems?.join('\n') ?? '', /sdk\.test/);
      const c = await connect(server.port, { host: 'm.test', token: 't' });
      c.send('still here');
      assert.equal(await c.next(), 'module got still here');
      c.ws.terminate();
    } finally {
      await server.stop();
    }
  });
});
