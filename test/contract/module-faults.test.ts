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
    server = await startServer({ config: { hosts: { 'faulty.test': { module: MODULE, channels: { 'room:*': { presenceEvents: true } } } } } });
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

  // The old code answered an auth's upgrade 500 (and left a first-frame socket waiting for good): the grant's read threw out
  // of admission; and let a connect's throw out of its task, an unhandled rejection with no word of which hook or socket.
  for (const [hook, token] of [['auth', 'grant-getter'], ['connect', 'connect-grant-getter']] as const) {
    it(`a ${hook} result whose fields throw when read is a malformed grant: logged, and the socket opens with none`, async () => {
      const client = await connect(server.port, { host: 'faulty.test', token });
      await server.waitForLog(new RegExp(`WARN  grant ignored host=faulty\\.test .*hook=${hook} problem=.*the grant cannot be read`));
      client.send('hi');
      assert.equal(await client.next(), 'got hi');
      client.ws.terminate();
      assert.equal(server.logs.some((line) => /unhandled rejection/.test(line)), false, server.logs.join('\n'));
    });
  }

  // The old code kept the app's object itself: once it held a cycle, every presence frame with it threw, and the
  // member's close threw midway (no close hook, no leave, no close line), out of the runtime's close listener.
  it('a presence info the app changes after granting it is what it was when granted', async () => {
    const ann = await connect(server.port, { host: 'faulty.test', token: 'member-ann', path: '/websocket?wsgate=1' });
    const bob = await connect(server.port, { host: 'faulty.test', token: 'member-bob', path: '/websocket?wsgate=1' });
    /** The next frame of `client` that `wanted` takes, parsed when it is JSON; frames before it are skipped. */
    const frameOf = async (client: typeof ann, wanted: (frame: Record<string, unknown>) => boolean) => {
      for (;;) {
        const text = await client.next();
        const frame = (text.startsWith('{') ? JSON.parse(text) : { text }) as Record<string, unknown>;
        if (wanted(frame)) return frame;
      }
    };
    const annId = (await frameOf(ann, (f) => f.wsgate === 'ready')).socket;
    // Bob is in the room once his own join is there; Ann's record changes after.
    await frameOf(bob, (f) => f.wsgate === 'joined');
    ann.send('mutate-info');
    await frameOf(ann, (f) => f.text === 'got mutate-info');
    bob.send(JSON.stringify({ wsgate: 'presence', channel: 'room:1' }));
    const presence = await frameOf(bob, (f) => f.wsgate === 'presence');
    assert.deepEqual((presence.members as Array<{ socket: string; info: unknown }>).find((m) => m.socket === annId)?.info, { name: 'ann' });
    ann.close();
    assert.deepEqual(await frameOf(bob, (f) => f.wsgate === 'leave'), { wsgate: 'leave', channel: 'room:1', socket: annId, info: { name: 'ann' } });
    assert.ok(await frameOf(bob, (f) => JSON.stringify(f).includes(`"closed":"${String(annId)}"`)));
    bob.ws.terminate();
  });
});
