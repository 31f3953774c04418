/**
 * Channels named by an upgrade path's parameters (`/ws/rooms/{room}` joins
 * `room:{room}`) come from the client's URL, so they must be channel names
 * like any other: 1 to 200 characters, no control characters (README,
 * Channels). A name the bridge could never address (`/presence`,
 * `channel:` casts refuse it) must not be made by a URL either.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

describe(`channels from path parameters on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({
      config: { paths: { '/websocket': {}, '/ws/rooms/{room}': { channels: ['room:{room}'] }, '/ws/topics/{topic}': { channels: ['{topic}'] } }, hosts: { 'p.test': { module: join(FIXTURES, 'hooks.ts') } } },
    });
  });
  after(async () => {
    await server?.stop();
  });

  it('refuses an upgrade whose path would name a channel with a control character', async () => {
    assert.equal(await upgradeStatus(server.port, { host: 'p.test', token: 't', path: '/ws/rooms/a%0Ab' }), 400);
    assert.equal(await upgradeStatus(server.port, { host: 'p.test', token: 't', path: '/ws/rooms/%00' }), 400);
    await server.waitForLog(/upgrade refused host=p\.test .*reason=".*control characters/);
  });

  it('refuses an upgrade whose path would name a channel over 200 characters', async () => {
    assert.equal(await upgradeStatus(server.port, { host: 'p.test', token: 't', path: `/ws/rooms/${'x'.repeat(300)}` }), 400);
  });

  it('refuses an upgrade whose path would name the host-wide or token stream as a channel', async () => {
    // A socket in channel "@all" would read the host's @all history with the channel's limits, and could not tell the two apart.
    assert.equal(await upgradeStatus(server.port, { host: 'p.test', token: 't', path: '/ws/topics/%40all' }), 400);
    assert.equal(await upgradeStatus(server.port, { host: 'p.test', token: 't', path: '/ws/topics/@token' }), 400);
    await server.waitForLog(/upgrade refused host=p\.test .*reason=".*names the stream of host-wide casts/);
  });

  it('still takes a parameter that makes a good name, escapes and all', async () => {
    const c = await connect(server.port, { host: 'p.test', token: 't', path: '/ws/rooms/caf%C3%A9%20b' });
    const res = await fetch(`${server.url}/presence?host=p.test&channel=${encodeURIComponent('room:café b')}`);
    assert.equal(((await res.json()) as { sockets: number }).sockets, 1);
    c.ws.terminate();
  });
});
