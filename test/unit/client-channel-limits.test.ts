// What a client may ask of the gateway on a clientChannels host: at most
// limits.channelsPerSocket channels of its own choosing, and presence
// answers that are not rebuilt while nothing in the channel changed.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { parseConfig } from '../../src/config/config.ts';
import { ConfigError } from '../../src/config/problems.ts';
import type { HookContext } from '../../src/hooks/runners/module.ts';
import { startCore } from '../support/core.ts';
import type { Core, FakeSocket } from '../support/core.ts';

const MODULE = { module: '/tmp/hooks.ts' };

function problems(file: Record<string, unknown>): string[] {
  try {
    parseConfig(file, 'f.json', '/');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

/** Counts every read of a client's token: building a presence answer hashes each member's. */
function countTokenReads(socket: FakeSocket): { reads: number } {
  const counter = { reads: 0 };
  const token = socket.client.token;
  Object.defineProperty(socket.client, 'token', {
    configurable: true,
    get() {
      counter.reads++;
      return token;
    },
  });
  return counter;
}

describe('limits.channelsPerSocket in the config', () => {
  it('defaults to 128, or takes the one configured, among the limits', () => {
    const config = parseConfig({ clientChannels: true, hosts: { 'a.test': MODULE, 'b.test': { ...MODULE, clientChannels: false } } }, 'f.json', '/');
    assert.equal(config.limits.channelsPerSocket, 128);
    const set = parseConfig({ limits: { channelsPerSocket: 7 }, hosts: { 'a.test': { ...MODULE, clientChannels: true } } }, 'f.json', '/');
    assert.equal(set.limits.channelsPerSocket, 7);
    // Read from the live limits, as every limit is: a host carries no copy a reload could leave behind.
    for (const host of [...config.hosts, ...set.hosts]) assert.equal('channelsPerSocket' in host, false, host.key);
  });

  it('takes a whole number of at least 1, and says what was wrong', () => {
    assert.deepEqual(problems({ limits: { channelsPerSocket: 0 }, hosts: { a: MODULE } }), ['f.json: limits.channelsPerSocket: expected at least 1, got 0']);
    assert.deepEqual(problems({ limits: { channelsPerSocket: 2.5 }, hosts: { a: MODULE } }), ['f.json: limits.channelsPerSocket: expected a whole number, got 2.5']);
    assert.deepEqual(problems({ limits: { channelsPerSocket: '9' }, hosts: { a: MODULE } }), ['f.json: limits.channelsPerSocket: expected a number of channels, got "9"']);
  });
});

describe('channels a client joins itself', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('refuses a subscribe beyond limits.channelsPerSocket without asking the hook, and keeps the socket open', async () => {
    const asked: string[] = [];
    const got: string[] = [];
    core = startCore({ hosts: { 'a.test': { ...MODULE, clientChannels: true } }, limits: { channelsPerSocket: 2 } }, {
      'a.test': { subscribe: ({ channel }: HookContext) => {
        asked.push(channel!);
        return true;
      }, receive: ({ message }) => void got.push(message!) },
    });
    const s = await core.connect('a.test', 'ann');
    for (const channel of ['a', 'b', 'c', 'a']) core.send(s, JSON.stringify({ wsgate: 'subscribe', channel }));
    core.send(s, 'still talking');
    await core.settle();
    assert.deepEqual(s.take(), [
      { wsgate: 'subscribed', channel: 'a', ok: true },
      { wsgate: 'subscribed', channel: 'b', ok: true },
      { wsgate: 'subscribed', channel: 'c', ok: false, reason: 'a socket may be in at most 2 channels (limits.channelsPerSocket)' },
      { wsgate: 'subscribed', channel: 'a', ok: true },
    ]);
    assert.deepEqual(asked, ['a', 'b', 'a'], 'a client at its limit costs no hook run');
    assert.deepEqual(got, ['still talking']);
    assert.equal(s.closed, undefined);
    assert.equal(core.gateway.cast('a.test', { kind: 'channel', channel: 'c' }, 1, undefined), 0);
    assert.equal(core.lines.filter((line) => line.endsWith(` INFO  subscribe refused host=a.test socket=${s.client.id} channel=c`)).length, 1);
    // A channel left makes room again.
    core.send(s, JSON.stringify({ wsgate: 'unsubscribe', channel: 'a' }));
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'c' }));
    await core.settle();
    assert.deepEqual(s.take(), [{ wsgate: 'unsubscribed', channel: 'a' }, { wsgate: 'subscribed', channel: 'c', ok: true }]);
  });

  it('counts the channels the app joined it to, and never refuses the app', async () => {
    core = startCore({ hosts: { 'a.test': { ...MODULE, clientChannels: true } }, limits: { channelsPerSocket: 2 } }, {
      'a.test': { connect: () => ({ channels: ['g1', 'g2', 'g3'] }), subscribe: () => true },
    });
    const s = await core.connect('a.test', 'ann');
    assert.equal((await core.gateway.subscribeEverywhere('a.test', { kind: 'token', token: 'ann' }, 'g4', true)).value, 1);
    for (const channel of ['g1', 'g2', 'g3', 'g4']) assert.equal(core.gateway.cast('a.test', { kind: 'channel', channel }, 1, undefined), 1, channel);
    s.take();
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'mine' }));
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'g1' }));
    await core.settle();
    assert.deepEqual(s.take(), [
      { wsgate: 'subscribed', channel: 'mine', ok: false, reason: 'a socket may be in at most 2 channels (limits.channelsPerSocket)' },
      { wsgate: 'subscribed', channel: 'g1', ok: true },
    ]);
  });

  it('checks the limit again when the hook answers: the app may have joined it to more meanwhile', async () => {
    let letHookAnswer!: () => void;
    const hookAnswers = new Promise<void>((resolve) => (letHookAnswer = resolve));
    core = startCore({ hosts: { 'a.test': { ...MODULE, clientChannels: true } }, limits: { channelsPerSocket: 2 } }, {
      'a.test': { subscribe: async ({ channel }: HookContext) => (channel === 'slow' ? hookAnswers.then(() => true) : true) },
    });
    const s = await core.connect('a.test', 'ann');
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'first' }));
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'slow' }));
    await core.settle();
    assert.deepEqual(s.take(), [{ wsgate: 'subscribed', channel: 'first', ok: true }]);
    assert.equal((await core.gateway.subscribeEverywhere('a.test', { kind: 'token', token: 'ann' }, 'by-app', true)).value, 1);
    letHookAnswer();
    await core.settle();
    assert.deepEqual(s.take(), [{ wsgate: 'subscribed', channel: 'slow', ok: false, reason: 'a socket may be in at most 2 channels (limits.channelsPerSocket)' }]);
    assert.equal(core.gateway.cast('a.test', { kind: 'channel', channel: 'slow' }, 1, undefined), 0);
  });

  it("applies a reload's new limit to the next subscribe, also of a client that opened before it", async () => {
    core = startCore({ hosts: { 'a.test': { ...MODULE, clientChannels: true } }, limits: { channelsPerSocket: 2 } }, { 'a.test': { subscribe: () => true } });
    const s = await core.connect('a.test', 'ann');
    for (const channel of ['a', 'b', 'c']) core.send(s, JSON.stringify({ wsgate: 'subscribe', channel }));
    await core.settle();
    assert.deepEqual(s.take().map((frame) => (frame as { ok: boolean }).ok), [true, true, false]);
    const route = s.client.route;
    const raised = { ...core.config, limits: { ...core.config.limits, channelsPerSocket: 3 } };
    core.gateway.reload(raised, new Map([['a.test', route]]));
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'c' }));
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'd' }));
    await core.settle();
    assert.deepEqual(s.take(), [
      { wsgate: 'subscribed', channel: 'c', ok: true },
      { wsgate: 'subscribed', channel: 'd', ok: false, reason: 'a socket may be in at most 3 channels (limits.channelsPerSocket)' },
    ]);
    const lowered = { ...core.config, limits: { ...core.config.limits, channelsPerSocket: 1 } };
    core.gateway.reload(lowered, new Map([['a.test', route]]));
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'd' }));
    await core.settle();
    assert.deepEqual(s.take(), [{ wsgate: 'subscribed', channel: 'd', ok: false, reason: 'a socket may be in at most 1 channels (limits.channelsPerSocket)' }]);
    assert.equal(core.gateway.cast('a.test', { kind: 'channel', channel: 'c' }, 1, undefined), 1, 'a lower limit takes no channel away');
  });
});

describe("a client's presence requests", () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  const start = () =>
    startCore({ hosts: { 'a.test': { ...MODULE, clientChannels: true } } }, {
      'a.test': { connect: ({ token }: HookContext) => ({ channels: ['lobby'], info: { name: token } }), subscribe: () => true },
    });

  /** The members a presence request answers. */
  const ask = async (c: Core, s: FakeSocket) => {
    c.send(s, JSON.stringify({ wsgate: 'presence', channel: 'lobby' }));
    await c.settle();
    const frames = s.take() as Array<{ wsgate: string; members: unknown[] }>;
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.wsgate, 'presence');
    return frames[0]!.members;
  };
  /** What GET /presence says of the channel, built anew. */
  const bridge = async (c: Core) => (await c.gateway.presenceEverywhere('a.test', 'lobby')).value.members;

  it('are answered again without hashing every member, and anew once someone joins, leaves or closes', async () => {
    core = start();
    const [ann, bob, cy] = [await core.connect('a.test', 'ann'), await core.connect('a.test', 'bob'), await core.connect('a.test', 'cy')];
    for (const s of [ann, bob, cy]) s.take();
    const reads = [ann, bob, cy].map(countTokenReads);
    const hashed = () => reads.reduce((sum, counter) => sum + counter.reads, 0);

    const first = await ask(core, ann);
    assert.deepEqual(first, await bridge(core));
    assert.deepEqual(first.map((m) => (m as { info: unknown }).info), [{ name: 'ann' }, { name: 'bob' }, { name: 'cy' }]);
    let before = hashed();
    for (let i = 0; i < 5; i++) assert.deepEqual(await ask(core, bob), first);
    assert.equal(hashed(), before, 'no token was read again');

    // Each change gives the answer GET /presence gives, and that answer is then kept in turn.
    const changes: Array<[string, () => Promise<void>]> = [
      ['a join', async () => void (await core!.connect('a.test', 'dee'))],
      ['a leave', async () => {
        core!.send(cy, JSON.stringify({ wsgate: 'unsubscribe', channel: 'lobby' }));
        await core!.settle();
        cy.take();
      }],
      ['a close', async () => {
        core!.gateway.closed(bob.client, 1000);
        await core!.settle();
      }],
    ];
    let previous = first;
    for (const [what, change] of changes) {
      await change();
      ann.take();
      const now = await ask(core, ann);
      assert.notDeepEqual(now, previous, `${what} changes the answer`);
      assert.deepEqual(now, await bridge(core), `after ${what}`);
      before = hashed();
      assert.deepEqual(await ask(core, ann), now);
      assert.equal(hashed(), before, `after ${what}, the new answer is kept`);
      previous = now;
    }
    assert.deepEqual(previous.map((m) => (m as { info: unknown }).info), [{ name: 'ann' }, { name: 'dee' }]);
  });

  it("are answered anew once a member's info comes after it joined: its connect hook answers after its path's channels", async () => {
    let letEveIn!: () => void;
    const eveConnects = new Promise<void>((resolve) => (letEveIn = resolve));
    core = startCore({ paths: { '/websocket': {}, '/lobby': { channels: ['lobby'] } }, hosts: { 'a.test': { ...MODULE, clientChannels: true } } }, {
      'a.test': {
        connect: async ({ token }: HookContext) => {
          if (token === 'eve') await eveConnects;
          return { channels: ['lobby'], info: { name: token } };
        },
        subscribe: () => true,
      },
    });
    const ann = await core.connect('a.test', 'ann');
    const eve = await core.connect('a.test', 'eve', { path: '/lobby' });
    for (const s of [ann, eve]) s.take();
    const infos = (members: unknown[]) => members.map((m) => (m as { info?: unknown }).info);
    const before = await ask(core, ann);
    assert.deepEqual(infos(before), [{ name: 'ann' }, undefined], 'in the lobby by its path, its connect hook still running');
    assert.deepEqual(await ask(core, ann), before);

    letEveIn();
    await core.settle();
    const reads = [ann, eve].map(countTokenReads);
    const now = await ask(core, ann);
    assert.deepEqual(infos(now), [{ name: 'ann' }, { name: 'eve' }]);
    assert.deepEqual(now, await bridge(core));
    const hashed = reads.reduce((sum, counter) => sum + counter.reads, 0);
    assert.deepEqual(await ask(core, ann), now);
    assert.equal(reads.reduce((sum, counter) => sum + counter.reads, 0), hashed, 'the new answer is kept in turn');
  });
});
