/**
 * The log's reader goes away (a logger that died, a closed pipe): each line
 * the gateway writes then fails with EPIPE. That failure must not become an
 * error the gateway logs, which fails again: in that loop Node spun a core
 * and never saw SIGTERM. The gateway goes on serving and stops when told.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';

const skip = targetAvailable();

/** An upgrade for a host not configured: refused, and a log line. */
const refusal = (port: number) =>
  new Promise<number>((resolve, reject) => {
    const headers = { host: 'nope.test', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
    const req = request({ port, host: '127.0.0.1', path: '/websocket', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });

describe(`a log reader that went away on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('leaves the gateway serving, and SIGTERM still stops it', async () => {
    const server = await startServer({ config: { hosts: { 'a.test': { app: APP } } } });
    try {
      server.child.stderr!.destroy();
      server.child.stdout!.destroy();
      for (let i = 0; i < 5; i++) assert.ok((await refusal(server.port)) >= 400);
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
      // A guard, not a wait: the old code never exits.
      const outcome = await Promise.race([server.stop('SIGTERM'), new Promise((resolve) => setTimeout(resolve, 20_000, 'still running 20 s after SIGTERM'))]);
      assert.equal(outcome, 0);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
