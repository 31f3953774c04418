// The core in-process (test/support/core.ts): a connection's life, casts,
// channels, presence, history and replay, with module hooks and a fake wire.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { startCore } from '../support/core.ts';
import type { Core } from '../support/core.ts';
import type { HookContext } from '../../src/hooks/runners/module.ts';

const MODULE = { module: '/tmp/hooks.ts' };

describe('core in-process', () => {
  let core: Core | undefined;
  afterEach(async () => {
    await core?.stop();
    core = undefined;
  });

  it('refuses an upgrade its auth hook refuses, and one for a host that is not configured', async () => {
    core = startCore({ hosts: { 'a.test': MODULE } }, { 'a.test': { auth: ({ token }) => token !== 'no' } });
    assert.deepEqual(await core.refused('a.test', 'no'), { status: 401, reason: 'unauthorized' });
    assert.deepEqual(await core.refused('b.test', 'yes'), { status: 401, reason: 'host not configured' });
    assert.match(core.gateway.metricsText(), /wsgate_upgrades_total\{host="a.test",result="refused",reason="auth_refused"\} 1/);
    assert.match(core.gateway.metricsText(), /wsgate_upgrades_total\{host="",result="refused",reason="host_not_configured"\} 1/);
    // One log line each, from the refusal event, with the token only as a short hash.
    assert.equal(core.lines.filter((line) => / INFO  upgrade refused host=a\.test socket=\w+ token=\w+ reason="auth returned false"$/.test(line)).length, 1);
    assert.equal(core.lines.filter((line) => / WARN  upgrade refused host=b\.test token=\w+ reason="host not configured"$/.test(line)).length, 1);
    assert.equal(core.lines.some((line) => line.includes('token=no ') || line.endsWith('token=no')), false);
  });

  it('runs connect, receive and close in order, with receive output back to the socket', async () => {
    const seen: string[] = [];
    core = startCore({ hosts: { 'a.test': MODULE } }, {
      'a.test': {
        connect: ({ socket }) => void seen.push(`connect ${socket}`),
        receive: async ({ message, send }) => {
          seen.push(`receive ${message}`);
          await new Promise((resolve) => setTimeout(resolve, message === 'slow' ? 20 : 0));
          send(`echo ${message}`);
        },
        close: ({ socket }) => void seen.push(`close ${socket}`),
      },
    });
    const s = await core.connect('a.test', 'ann');
    const id = s.client.id;
    core.send(s, 'slow');
    core.send(s, 'fast');
    await new Promise((resolve) => setTimeout(resolve, 40));
    await core.settle();
    assert.deepEqual(s.take(), ['echo slow', 'echo fast'], 'one lane: the second waits for the first');
    core.gateway.closed(s.client, 1000);
    await core.settle();
    assert.deepEqual(seen, [`connect ${id}`, 'receive slow', 'receive fast', `close ${id}`]);
    assert.equal(core.gateway.hub.size, 0);
  });

  it('casts to all, a token and a channel with exact counts, and frames them for aware clients only', async () => {
    core = startCore({ hosts: { 'a.test': { ...MODULE, channels: { 'room:*': { history: { size: 10, ttl: 60 } } } } } }, {
      'a.test': { connect: ({ token }) => ({ channels: token === 'in' ? ['room:1'] : [] }) },
    });
    const plain = await core.connect('a.test', 'in');
    const aware = await core.connect('a.test', 'in', { aware: true });
    const out = await core.connect('a.test', 'out');
    plain.take();
    const [ready] = aware.take().slice(-1) as Array<{ wsgate: string }>;
    assert.equal(ready?.wsgate, 'joined', 'the aware client is told it joined room:1 (after ready)');
    out.take();
    assert.equal(core.gateway.cast('a.test', { kind: 'channel', channel: 'room:1' }, { n: 1 }, undefined), 2);
    assert.deepEqual(plain.take(), [{ n: 1 }]);
    const epoch = core.gateway.history('a.test', { channel: 'room:1' })!.top.epoch;
    assert.deepEqual(aware.take(), [{ wsgate: 'pub', channel: 'room:1', epoch, offset: 1, data: { n: 1 } }]);
    assert.deepEqual(out.take(), []);
    assert.equal(core.gateway.cast('a.test', { kind: 'token', token: 'out' }, 'x', undefined), 1);
    assert.equal(core.gateway.cast('a.test', { kind: 'all' }, 'y', plain.client.id), 2);
    assert.deepEqual(plain.take(), []);
    assert.deepEqual(out.take(), ['x', 'y']);
  });

  it('tells a channel\'s members of a join and a leave once, with the joiner\'s info', async () => {
    core = startCore({ hosts: { 'a.test': { ...MODULE, channels: { 'lobby': { presenceEvents: true } } } } }, {
      'a.test': { connect: ({ token }) => ({ channels: ['lobby'], info: { name: token } }) },
    });
    const first = await core.connect('a.test', 'ann');
    const second = await core.connect('a.test', 'bob');
    assert.deepEqual(first.take(), [{ wsgate: 'join', channel: 'lobby', socket: second.client.id, info: { name: 'bob' } }]);
    assert.deepEqual(second.take(), [], 'the joiner is not told of itself');
    core.gateway.closed(second.client, 1000);
    await core.settle();
    assert.deepEqual(first.take(), [{ wsgate: 'leave', channel: 'lobby', socket: second.client.id, info: { name: 'bob' } }]);
  });

  it('lets a client subscribe where clientChannels allows and its hook agrees, and answers presence', async () => {
    core = startCore({ hosts: { 'a.test': { ...MODULE, clientChannels: true } } }, {
      'a.test': { subscribe: ({ channel }: HookContext) => channel !== 'closed' },
    });
    const s = await core.connect('a.test', 'ann');
    core.send(s, '{"wsgate":"subscribe","channel":"open"}');
    core.send(s, '{"wsgate":"subscribe","channel":"closed"}');
    core.send(s, '{"wsgate":"presence","channel":"open"}');
    core.send(s, '{"wsgate":"presence","channel":"closed"}');
    core.send(s, '{"wsgate":"unsubscribe","channel":"open"}');
    await core.settle();
    const frames = s.take() as Array<Record<string, unknown>>;
    assert.deepEqual(frames[0], { wsgate: 'subscribed', channel: 'open', ok: true });
    assert.deepEqual(frames[1], { wsgate: 'subscribed', channel: 'closed', ok: false, reason: 'refused' });
    assert.equal(frames[2]!.wsgate, 'presence');
    assert.deepEqual((frames[2]!.members as Array<{ socket: string }>).map((m) => m.socket), [s.client.id]);
    assert.deepEqual(frames[3], { wsgate: 'error', channel: 'closed', reason: 'presence is only for a channel this socket is in' });
    assert.deepEqual(frames[4], { wsgate: 'unsubscribed', channel: 'open' });
    assert.equal(core.gateway.cast('a.test', { kind: 'channel', channel: 'open' }, 1, undefined), 0);
    // The log tells each decision once, from the core's notices.
    const id = s.client.id;
    assert.equal(core.lines.filter((line) => line.endsWith(` INFO  subscribe host=a.test socket=${id} channel=open`)).length, 1);
    assert.equal(core.lines.filter((line) => line.endsWith(` INFO  subscribe refused host=a.test socket=${id} channel=closed`)).length, 1);
    assert.equal(core.lines.filter((line) => line.endsWith(` DEBUG join host=a.test socket=${id} channel=open`)).length, 1);
  });

  it('passes a plain client\'s control frames to the app where clientChannels is off', async () => {
    const got: string[] = [];
    core = startCore({ hosts: { 'a.test': MODULE } }, { 'a.test': { receive: ({ message }) => void got.push(message!) } });
    const s = await core.connect('a.test', 'ann');
    core.send(s, '{"wsgate":"subscribe","channel":"x"}');
    await core.settle();
    assert.deepEqual(got, ['{"wsgate":"subscribe","channel":"x"}']);
    assert.deepEqual(s.take(), []);
  });

  it('closes a client that sends faster than its rate, once, with 1008', async () => {
    core = startCore({ hosts: { 'a.test': MODULE }, limits: { messagesPerSecond: 1, messageBurst: 3 } }, { 'a.test': {} });
    const s = await core.connect('a.test', 'ann');
    for (let i = 0; i < 10; i++) core.send(s, `m${i}`);
    await core.settle();
    assert.deepEqual(s.closed, { code: 1008, reason: 'too many messages per second' });
    assert.equal(core.lines.filter((line) => / limit /.test(line)).length, 1, 'logged once');
    assert.equal(core.gateway.hub.size, 0);
  });

  it('gives a resuming client what it missed in a channel, then live publications after it', async () => {
    core = startCore({ hosts: { 'a.test': { ...MODULE, clientChannels: true, channels: { 'room:*': { history: { size: 10, ttl: 60 } } } } } }, {
      'a.test': { subscribe: () => true },
    });
    for (const n of [1, 2, 3]) core.gateway.cast('a.test', { kind: 'channel', channel: 'room:1' }, n, undefined);
    const epoch = core.gateway.history('a.test', { channel: 'room:1' })!.top.epoch;
    const s = await core.connect('a.test', 'ann', { aware: true });
    s.take();
    core.send(s, JSON.stringify({ wsgate: 'subscribe', channel: 'room:1', since: { epoch, offset: 1 } }));
    await core.settle();
    core.gateway.cast('a.test', { kind: 'channel', channel: 'room:1' }, 4, undefined);
    assert.deepEqual(s.take(), [
      { wsgate: 'subscribed', channel: 'room:1', ok: true, epoch, offset: 3, recovered: true },
      { wsgate: 'pub', channel: 'room:1', epoch, offset: 2, data: 2 },
      { wsgate: 'pub', channel: 'room:1', epoch, offset: 3, data: 3 },
      { wsgate: 'pub', channel: 'room:1', epoch, offset: 4, data: 4 },
    ]);
    assert.equal(core.lines.filter((line) => line.endsWith(` INFO  recovered host=a.test socket=${s.client.id} channel=room:1 missed=2`)).length, 1);
    assert.equal(core.lines.filter((line) => / DEBUG cast host=a\.test target=channel sent=1$/.test(line)).length, 1, 'the live cast, the only one with a socket to reach');
  });

  it('keeps what a gone plain token missed and gives it to its next socket, before anything live', async () => {
    core = startCore({ hosts: { 'a.test': { ...MODULE, replay: { window: 30 } } } }, { 'a.test': {} });
    const first = await core.connect('a.test', 'ann');
    core.gateway.closed(first.client, 1006);
    await core.settle();
    assert.equal(core.gateway.cast('a.test', { kind: 'token', token: 'ann' }, 'missed', undefined), 0);
    assert.equal(core.gateway.recoveryHealth().replaying, 1);
    const back = await core.connect('a.test', 'ann');
    assert.deepEqual(back.take(), ['missed']);
    assert.equal(core.gateway.recoveryHealth().replaying, 0);
    assert.equal(core.lines.filter((line) => line.endsWith(` INFO  replayed host=a.test socket=${back.client.id} frames=1`)).length, 1);
  });

  it('closes idle clients at the sweep, and only those', async () => {
    core = startCore({ hosts: { 'a.test': MODULE }, idleTimeout: 10 }, { 'a.test': {} });
    const idle = await core.connect('a.test', 'ann');
    const busy = await core.connect('a.test', 'bob');
    const now = performance.now();
    core.gateway.sweep(now + 5_000);
    core.send(busy, 'hello');
    core.gateway.sweep(idle.client.lastSeen + 10_000);
    await core.settle();
    assert.deepEqual(idle.closed, { code: 1001, reason: 'idle' });
    assert.equal(busy.closed, undefined);
  });

  it('drops a client that does not read, and runs its close hook', async () => {
    const closed: string[] = [];
    core = startCore({ hosts: { 'a.test': MODULE }, limits: { sendBuffer: 100 } }, { 'a.test': { close: ({ socket }) => void closed.push(socket) } });
    const s = await core.connect('a.test', 'ann');
    s.buffered = 1000;
    core.gateway.cast('a.test', { kind: 'all' }, 'x', undefined);
    await core.settle();
    assert.equal(s.closed?.code, 1006, 'terminated, not closed politely');
    assert.deepEqual(closed, [s.client.id]);
  });

  it('moves open clients to their host\'s new route on reload, and closes those whose host is gone', async () => {
    core = startCore({ hosts: { 'a.test': MODULE, 'b.test': MODULE } }, { 'a.test': {}, 'b.test': {} });
    const a = await core.connect('a.test', 'ann');
    const b = await core.connect('b.test', 'bob');
    const next = { ...core.config, hosts: core.config.hosts.filter((host) => host.key === 'a.test') };
    const oldRoute = a.client.route;
    const route = { config: next.hosts[0]!, runner: oldRoute.runner };
    core.gateway.reload(next, new Map([['a.test', route]]));
    await core.settle();
    assert.equal(a.client.route, route);
    assert.equal(a.closed, undefined);
    assert.deepEqual(b.closed, { code: 1001, reason: 'host no longer served' });
  });

  it('lets a module hook cast to a target, and send to its socket outside receive', async () => {
    core = startCore({ hosts: { 'a.test': MODULE } }, {
      'a.test': {
        connect: ({ send }) => send('welcome'),
        receive: ({ message, cast }) => void cast({ said: message }, { target: 'token:bob' }),
      },
    });
    const ann = await core.connect('a.test', 'ann');
    const bob = await core.connect('a.test', 'bob');
    assert.deepEqual(ann.take(), ['welcome']);
    assert.deepEqual(bob.take(), ['welcome']);
    core.send(ann, 'hi');
    await core.settle();
    assert.deepEqual(bob.take(), [{ said: 'hi' }]);
    assert.deepEqual(ann.take(), []);
  });

  it('runs a Pusher webhook batch on a host\'s module `webhook` export, and fails one for a module without it', async () => {
    const got: Array<{ token: string; socket: string; message?: string }> = [];
    core = startCore({ hosts: { 'a.test': MODULE, 'b.test': MODULE } }, {
      'a.test': { webhook: ({ token, socket, message }) => void got.push({ token, socket, message }) },
      'b.test': {},
    });
    const body = '{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}]}';
    assert.deepEqual(await core.gateway.runWebhook('a.test', '1001', body), { ok: true, result: undefined });
    assert.deepEqual(got, [{ token: '1001', socket: '', message: body }], 'the app\'s id, no socket, the batch as Pusher posts it');
    const missing = await core.gateway.runWebhook('b.test', '1001', body);
    assert.equal(missing?.ok, false, 'a batch nobody took is not delivered');
    assert.equal(core.gateway.runWebhook('c.test', '1001', body), undefined, 'no such host');
    assert.match(core.gateway.metricsText(), /wsgate_hook_runs_total\{host="a.test",hook="webhook",mode="module",result="ok"\} 1/);
  });

  it('counts casts, deliveries and hooks for /metrics through its observers', async () => {
    core = startCore({ hosts: { 'a.test': MODULE } }, { 'a.test': { receive: () => undefined } });
    const s = await core.connect('a.test', 'ann');
    core.send(s, 'hi');
    await core.settle();
    core.gateway.cast('a.test', { kind: 'all' }, 1, undefined);
    const text = core.gateway.metricsText();
    assert.match(text, /wsgate_casts_total\{host="a.test",kind="all"\} 1/);
    assert.match(text, /wsgate_deliveries_total\{host="a.test",kind="all"\} 1/);
    assert.match(text, /wsgate_hook_runs_total\{host="a.test",hook="receive",mode="module",result="ok"\} 1/);
    assert.match(text, /wsgate_frames_in_total\{host="a.test"\} 1/);
    assert.equal(core.gateway.dashboard().events.filter((e) => e.kind === 'connect').length, 1);
  });
});
