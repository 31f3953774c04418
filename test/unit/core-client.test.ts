/** The core's Client: its state, its count of waiting messages and its rate limit share fields, and must not mix. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Client } from '../../src/core/client.ts';
import type { Authorized } from '../../src/core/client.ts';
import type { Route } from '../../src/core/route.ts';
import { AWARE, PLAIN } from '../../src/protocols/wsgate/protocol.ts';
import { ROOT } from '../support/server.ts';

const authorized = (more: Partial<Authorized> = {}): Authorized => ({ id: 'a'.repeat(16), serial: 0, host: 'h', token: 't', route: {} as Route, tokenHash: 'hash', client: { protocol: PLAIN }, ...more });
const limits = { messagesPerSecond: 10, messageBurst: 3 };

describe('core Client', () => {
  it('counts waiting messages through every state, and the count never changes the state', async () => {
    const client = new Client(authorized());
    assert.equal(client.open, false);
    client.attach({}, limits, 0);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (let i = 0; i < 300; i++) client.enqueueMessage(() => gate);
    assert.equal(client.waiting, 300);
    assert.equal(client.open, true);
    assert.equal(client.closing, false);
    assert.equal(client.startClosing(), true);
    assert.equal(client.startClosing(), false, 'closing once');
    assert.equal(client.waiting, 300, 'closing keeps the count');
    assert.equal(client.closing, true);
    release();
    await client.enqueue(async () => {});
    assert.equal(client.waiting, 0);
    assert.equal(client.closing, true, 'draining keeps the state');
    assert.equal(client.markClosed(), true);
    assert.equal(client.open, false);
    assert.equal(client.markClosed(), false);
  });
  it('takes a message that failed off its count of waiting ones, runs the next, and lets the failure reach the stray handler', () => {
    // In a process of its own: the test runner takes any unhandled rejection in its own process for a failed test.
    const script = `
      import { Client } from './src/core/client.ts';
      import { PLAIN } from './src/protocols/wsgate/protocol.ts';
      let stray;
      process.on('unhandledRejection', (error) => (stray = String(error)));
      const client = new Client({ id: 'a'.repeat(16), serial: 0, host: 'h', token: 't', route: {}, tokenHash: 'x', client: { protocol: PLAIN } });
      client.enqueueMessage(() => Promise.reject(new Error('a task broke')));
      let ran = false;
      client.enqueueMessage(async () => void (ran = true));
      await client.enqueue(async () => {});
      setImmediate(() => console.log(JSON.stringify({ ran, waiting: client.waiting, stray })));
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.deepEqual(JSON.parse(run.stdout), { ran: true, waiting: 0, stray: 'Error: a task broke' }, run.stderr);
  });
  it('fills its allowance by the time since the last frame, which is also its last seen', () => {
    const client = new Client(authorized());
    client.attach({}, limits, 1000);
    assert.equal(client.lastSeen, 1000);
    assert.deepEqual([0, 1, 2, 3].map(() => client.takeMessage(limits, 1000)), [true, true, true, false], 'a burst of 3');
    assert.equal(client.takeMessage(limits, 1050), false, '0.5 of a message after 50 ms');
    assert.equal(client.takeMessage(limits, 1100), true, 'one whole after 100 ms more');
    assert.equal(client.lastSeen, 1100);
    assert.deepEqual([0, 1, 2, 3].map(() => client.takeMessage(limits, 10_000)), [true, true, true, false], 'refilled to the burst, no more');
  });
  it('keeps what only some clients have, and forgets what the open used', () => {
    const recover = new Map([['room', { epoch: 'e', offset: 4 }]]);
    const client = new Client(authorized({ params: { room: 'r1' }, grant: { info: { name: 'ann' }, channels: ['b'] }, pathChannels: ['a'], client: { protocol: AWARE, recover } }));
    assert.deepEqual(client.params, { room: 'r1' });
    assert.deepEqual(client.info, { name: 'ann' });
    assert.equal(client.aware, true);
    assert.deepEqual(client.takeGranted(), ['a', 'b']);
    assert.equal(client.takeGranted(), undefined, 'once');
    assert.equal(client.takeTokenHash(), 'hash');
    assert.equal(client.takeTokenHash(), undefined);
    assert.deepEqual(client.recoverOf('room'), { epoch: 'e', offset: 4 });
    assert.deepEqual(client.takeRecover('room'), { epoch: 'e', offset: 4 });
    assert.equal(client.recoverOf('room'), undefined);
    assert.deepEqual(client.params, { room: 'r1' }, 'kept after the handover is used');
    client.channels = new Set(['x']);
    client.setInfo(undefined);
    assert.equal(client.info, undefined);
    assert.deepEqual([...client.channels], ['x']);
    const plain = new Client(authorized());
    assert.equal(plain.params, undefined);
    assert.equal(plain.channels, undefined);
    assert.equal(plain.aware, false);
  });
});
