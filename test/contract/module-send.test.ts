/**
 * A module hook's send() outside receive (connect, subscribe) reaches its
 * socket as one raw text frame, through the cast path, as its doc says.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

describe(`module send() outside receive on ${TARGET}`, { skip }, () => {
  let server: Started;
  const open: Client[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { 'send.test': { module: join(FIXTURES, 'send-hooks.ts'), clientChannels: true } } } });
  });
  after(async () => {
    for (const c of open) c.ws.terminate();
    await server?.stop();
  });

  /** The id of the first socket opened on send.test, from its open log line. */
  const firstSocket = async () => /socket=([0-9a-f]{16})/.exec(await server.waitForLog(/ open host=send\.test socket=[0-9a-f]{16}/))![1]!;

  it('a connect hook\'s send() arrives as it was given, not JSON-serialised', async () => {
    const client = await connect(server.port, { host: 'send.test', token: 't' });
    open.push(client);
    const socket = await firstSocket();
    assert.equal(await client.next(), `hello ${socket}`);
    assert.equal(await client.next(), '{"already":"json"}');
    // receive still answers in its own order after them.
    client.send('ping');
    assert.equal(await client.next(), 'echo ping');
  });

  it('a subscribe hook\'s send() reaches the socket too, and an opted-in socket gets it unwrapped', async () => {
    const client = await connect(server.port, { host: 'send.test', token: 'u', path: '/websocket?wsgate=1' });
    open.push(client);
    const ready = JSON.parse(await client.next());
    assert.equal(ready.wsgate, 'ready');
    assert.equal(await client.next(), `hello ${ready.socket}`);
    assert.equal(await client.next(), '{"already":"json"}');
    client.send(JSON.stringify({ wsgate: 'subscribe', channel: 'room:1' }));
    const frames = [await client.next(), await client.next()];
    assert.ok(frames.includes('joining room:1'), JSON.stringify(frames));
  });
});
