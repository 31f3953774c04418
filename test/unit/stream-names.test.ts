// `@all` and `@token` are the names of a host's streams (docs/PROTOCOL.md),
// keyed, read and framed as such: a client must not make either a channel
// it is in, or it reads the host's stream with a channel rule's limits.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startCore } from '../support/core.ts';
import type { Core } from '../support/core.ts';

describe('channels named like streams', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('refuses a client subscribe to "@all" or "@token", so the host-wide history keeps its own size', async () => {
    // The host keeps 100 host-wide casts; every channel keeps 1. A channel "@all" would share the host's stream.
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts', clientChannels: true, history: { size: 100, ttl: 600 }, channels: { '*': { history: { size: 1, ttl: 600 } } } } } }, {
      'a.test': { subscribe: () => true },
    });
    for (let n = 1; n <= 10; n++) core.gateway.cast('a.test', { kind: 'all' }, { n }, undefined);
    const s = await core.connect('a.test', 'ann', { aware: true });
    s.take();
    core.send(s, '{"wsgate":"subscribe","channel":"@all","since":{"epoch":"x","offset":0}}');
    core.send(s, '{"wsgate":"subscribe","channel":"@token"}');
    await core.settle();
    const frames = s.take() as Array<Record<string, unknown>>;
    assert.deepEqual(
      frames.map((f) => [f.wsgate, f.channel]),
      [
        ['error', '@all'],
        ['error', '@token'],
      ],
    );
    assert.equal(s.client.channels?.size ?? 0, 0);
    assert.equal(core.gateway.history('a.test', { channel: '@all' })!.publications.length, 10, 'all ten host-wide casts are still held');
  });

  it('still lets a client leave and ask about any channel name', async () => {
    core = startCore({ hosts: { 'a.test': { module: '/tmp/hooks.ts', clientChannels: true } } }, { 'a.test': {} });
    const s = await core.connect('a.test', 'ann', { aware: true });
    s.take();
    core.send(s, '{"wsgate":"unsubscribe","channel":"@all"}');
    await core.settle();
    assert.deepEqual(s.take(), [{ wsgate: 'unsubscribed', channel: '@all' }]);
  });
});
