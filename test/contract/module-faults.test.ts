/**
 * A module host's hooks are the app's code and may be buggy: whatever one
 * throws or returns, the event it ran for ends (logged), and the gateway and
 * the other sockets go on.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const MODULE = join(FIXTURES, 'faulty-hooks.ts');

describe(`faulty module hooks on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { hosts: { 'faulty.test': { module: MODULE } } } });
  });
  after(async () => {
    await server?.stop();
  });

  // The old code's failure was a hang: the upgrade waited until the client gave up.
  it('an auth hook that throws a value with no text form refuses the upgrade at once', { timeout: 15_000 }, async () => {
    assert.equal(await upgradeStatus(server.port, { host: 'faulty.test', token: 'throw-bare' }), 401);
    await server.waitForLog(/ERROR hook failed host=faulty\.test .*hook=auth/);
    assert.equal(server.logs.some((line) => /unhandled rejection/.test(line)), false, server.logs.join('\n'));
  });

  // The old code answered the upgrade 500 (and left a first-frame socket waiting for good): the grant's read threw out of admission.
  it('an auth result whose fields throw when read is a malformed grant: logged, and the socket opens with none', async () => {
    const client = await connect(server.port, { host: 'faulty.test', token: 'grant-getter' });
    await server.waitForLog(/WARN  grant ignored host=faulty\.test .*hook=auth problem=.*the grant cannot be read/);
    client.send('hi');
    assert.equal(await client.next(), 'got hi');
    client.ws.terminate();
  });

  // The old code let the throw out of the connect task: an unhandled rejection, with no word of which hook or socket.
  it('a connect result whose fields throw when read is a malformed grant too', async () => {
    const client = await connect(server.port, { host: 'faulty.test', token: 'connect-grant-getter' });
    await server.waitForLog(/WARN  grant ignored host=faulty\.test .*hook=connect problem=.*the grant cannot be read/);
    client.send('hi');
    assert.equal(await client.next(), 'got hi');
    client.ws.terminate();
    assert.equal(server.logs.some((line) => /unhandled rejection/.test(line)), false, server.logs.join('\n'));
  });
});
