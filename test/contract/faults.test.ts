/**
 * Faults cost only their own event: hooks that hang, crash, flood stdout or
 * print invalid UTF-8, and module code that leaves a rejection or an
 * exception behind. The process keeps running and other sockets keep working.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { APP, FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

describe(`faults on ${TARGET}`, { skip }, () => {
  let server: Started;
  let bystander: Client;
  before(async () => {
    server = await startServer({ config: { timeout: 2, hosts: { 'app.test': APP, 'mod.test': { module: join(FIXTURES, 'hooks.ts') } } } });
    bystander = await connect(server.port, { host: 'app.test', token: 'bystander' });
  });
  after(async () => {
    bystander?.ws.terminate();
    await server.stop();
  });

  /** After each fault: the process answers and another socket still round-trips. */
  async function stillServing() {
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    bystander.send('are you there');
    assert.equal(await bystander.next(), 'are you there');
    assert.equal(server.child.exitCode, null, 'the process is running');
  }

  it('a hook that hangs is killed after the timeout', async () => {
    const c = await connect(server.port, { host: 'app.test', token: 'hang' });
    c.send(JSON.stringify({ cmd: 'sleep', seconds: 30 }));
    await server.waitForLog(/hook failed host=app\.test .*timed out after 2000 ms/);
    await stillServing();
    c.ws.terminate();
  });

  it('a hook that floods stdout streams it to its own socket and nothing breaks', async () => {
    const c = await connect(server.port, { host: 'app.test', token: 'flood' });
    c.send(JSON.stringify({ cmd: 'flood', lines: 5000 }));
    for (;;) if ((await c.next()) === 'flood done') break;
    assert.equal(c.received.length, 5001);
    await stillServing();
    c.ws.terminate();
  });

  it('an auth hook that prints megabytes is read to its end without keeping it all', async () => {
    const c = await connect(server.port, { host: 'app.test', token: 'flood' });
    c.ws.terminate();
    await stillServing();
  });

  it('invalid UTF-8 from a hook reaches the client as valid text', async () => {
    const c = await connect(server.port, { host: 'app.test', token: 'utf8' });
    c.send(JSON.stringify({ cmd: 'badutf8' }));
    assert.equal(await c.next(), 'bad \ufffd\ufffd bytes \ufffd');
    c.send('after');
    assert.equal(await c.next(), 'after', 'the socket was not closed with 1007');
    c.ws.terminate();
  });

  it('a stray rejection or a throw from a timer in a module is logged, not fatal', async () => {
    const c = await connect(server.port, { host: 'mod.test', token: 'stray' });
    c.send('stray');
    await server.waitForLog(/ERROR unhandled rejection error=.*a stray rejection nobody awaits/);
    c.send('throw-later');
    await server.waitForLog(/ERROR uncaught exception error=.*thrown from a timer/);
    c.send('x');
    assert.equal(await c.next(), 'module got stray');
    await stillServing();
    c.ws.terminate();
  });
});
