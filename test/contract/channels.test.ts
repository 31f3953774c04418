/**
 * Channels (issue 7, first part): joined from the auth or connect hook's
 * result, cast to with `channel:<name>` (exact `sent`, `except`), left on
 * close; in one-shot and resident mode, with the real PHP fixture app.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

for (const build of [true, false]) {
  const mode = build ? 'oneshot' : 'resident';
  describe(`channels (${mode}) on ${TARGET}`, { skip }, () => {
    let server: Started;
    const clients: Client[] = [];
    before(async () => {
      server = await startServer({ config: { hosts: { 'c.test': { app: APP, build }, 'd.test': { app: APP, build } } } });
    });
    after(async () => {
      for (const c of clients) c.ws.terminate();
      await server?.stop();
    });
    const client = async (token: string, host = 'c.test') => {
      const c = await connect(server.port, { host, token });
      clients.push(c);
      return c;
    };
    const cast = async (body: Record<string, unknown>) => {
      const res = await fetch(`${server.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { sent?: number; message?: string } };
    };
    const socketOf = async (c: Client) => {
      c.send(JSON.stringify({ cmd: 'whoami' }));
      return (JSON.parse(await c.next()) as { socket: string }).socket;
    };

    it("joins the channels the auth hook grants, and a channel cast reaches exactly them", async () => {
      const a = await client('room-1');
      const b = await client('room-1');
      const c = await client('room-2');
      const other = await client('room-1', 'd.test');
      const plain = await client('plain');
      const res = await cast({ host: 'c.test', target: 'channel:room:1', data: { hello: 'room 1' } });
      assert.deepEqual([res.status, res.body.sent], [200, 2]);
      assert.equal(await a.next(), '{"hello":"room 1"}');
      assert.equal(await b.next(), '{"hello":"room 1"}');
      // The others got nothing: the next frame each sees is the one cast to it now.
      for (const [who, target] of [
        [c, 'channel:room:2'],
        [plain, 'token:plain'],
        [other, 'channel:room:1'],
      ] as const) {
        const host = who === other ? 'd.test' : 'c.test';
        assert.equal((await cast({ host, target, data: 'mine' })).body.sent, 1);
        assert.equal(await who.next(), '"mine"');
      }
    });

    it('skips the except socket with the exact count, and knows no empty channel', async () => {
      const a = await client('room-7');
      const b = await client('room-7');
      const res = await cast({ host: 'c.test', target: 'channel:room:7', data: 'not to a', except: await socketOf(a) });
      assert.equal(res.body.sent, 1);
      assert.equal(await b.next(), '"not to a"');
      assert.equal((await cast({ host: 'c.test', target: 'channel:nobody', data: 'x' })).body.sent, 0);
    });

    it('joins the channels the connect hook grants', async () => {
      const late = await client('late-x');
      await waitFor('the connect grant', async () => ((await cast({ host: 'c.test', target: 'channel:late:x', data: 'late' })).body.sent === 1 ? true : undefined));
      assert.equal(await late.next(), '"late"');
    });

    it('leaves every channel on close', async () => {
      const a = await client('room-9');
      const b = await client('room-9');
      assert.equal((await cast({ host: 'c.test', target: 'channel:room:9', data: 1 })).body.sent, 2);
      await a.next();
      await b.next();
      a.ws.close();
      await server.waitForLog(/ close host=c\.test/);
      await waitFor('the closed socket to leave', async () => ((await cast({ host: 'c.test', target: 'channel:room:9', data: 2 })).body.sent === 1 ? true : undefined));
    });

    it('accepts a socket whose grant is malformed, joins nothing, and logs why', async () => {
      const c = await client('bad-grant');
      assert.equal((await cast({ host: 'c.test', target: 'token:bad-grant', data: 'in' })).body.sent, 1);
      assert.equal(await c.next(), '"in"');
      await server.waitForLog(/grant ignored host=c\.test .*hook=auth/);
    });

    it('refuses a channel target without a name with 400', async () => {
      const res = await cast({ host: 'c.test', target: 'channel:', data: 'x' });
      assert.equal(res.status, 400);
      assert.match(res.body.message ?? '', /channel name must not be empty/);
    });
  });
}

describe(`channels from the bridge, and presence, on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: Client[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { 'c.test': { app: APP, build: false } } } });
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server?.stop();
  });
  const client = async (token: string) => {
    const c = await connect(server.port, { host: 'c.test', token });
    clients.push(c);
    return c;
  };
  const post = async (path: string, body: Record<string, unknown>) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const presence = async (channel: string) =>
    (await (await fetch(`${server.url}/presence?host=c.test&channel=${encodeURIComponent(channel)}`)).json()) as {
      sockets: number;
      tokens: Record<string, number>;
      members: Array<{ socket: string; token: string; info?: unknown }>;
    };
  const sha256 = async (text: string) => (await import('node:crypto')).createHash('sha256').update(text).digest('hex');

  it('POST /subscribe moves every socket of a token into a channel at once, /unsubscribe takes them out', async () => {
    const a1 = await client('ann');
    const a2 = await client('ann');
    await client('bob');
    const joined = await post('/subscribe', { host: 'c.test', target: 'token:ann', channel: 'user:ann' });
    assert.deepEqual(joined, { status: 200, body: { status: 'ok', host: 'c.test', channel: 'user:ann', joined: 2 } });
    assert.equal((await post('/subscribe', { host: 'c.test', target: 'token:ann', channel: 'user:ann' })).body.joined, 0, 'already members');
    assert.equal((await post('/message', { host: 'c.test', target: 'channel:user:ann', data: 'hi ann' })).body.sent, 2);
    assert.equal(await a1.next(), '"hi ann"');
    assert.equal(await a2.next(), '"hi ann"');
    assert.equal((await post('/unsubscribe', { host: 'c.test', target: 'token:ann', channel: 'user:ann' })).body.left, 2);
    assert.equal((await post('/message', { host: 'c.test', target: 'channel:user:ann', data: 'gone' })).body.sent, 0);
  });

  it('GET /presence lists the sockets, the tokens by sha256 and each socket\'s info', async () => {
    const r1 = await client('room-5');
    const r2 = await client('room-5');
    await client('room-6');
    const seen = await presence('room:5');
    assert.equal(seen.sockets, 2);
    const hash = await sha256('room-5');
    assert.deepEqual(seen.tokens, { [hash]: 2 });
    for (const m of seen.members) {
      assert.equal(m.token, hash, 'tokens only as sha256');
      assert.deepEqual(m.info, { name: 'room-5' });
    }
    const ids = await Promise.all(
      [r1, r2].map(async (c) => {
        c.send(JSON.stringify({ cmd: 'whoami' }));
        return (JSON.parse(await c.next()) as { socket: string }).socket;
      }),
    );
    assert.deepEqual(seen.members.map((m) => m.socket).sort(), ids.sort());
    assert.equal((await presence('nobody')).sockets, 0);
  });

  it('answers 400 with a reason for a bad channel, target or host', async () => {
    for (const [path, body, reason] of [
      ['/subscribe', { host: 'c.test', target: 'all' }, /channel/],
      ['/subscribe', { host: 'c.test', target: 'all', channel: '' }, /must not be empty/],
      ['/subscribe', { host: 'c.test', target: 'nonsense', channel: 'x' }, /unknown target/],
      ['/unsubscribe', { host: 'other.test', channel: 'x' }, /not configured/],
    ] as const) {
      const res = await post(path, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(String(res.body.message), reason);
    }
    const res = await fetch(`${server.url}/presence?host=c.test`);
    assert.equal(res.status, 400);
  });
});

describe(`path routes on ${TARGET}`, { skip }, () => {
  for (const build of [true, false]) {
    it(`joins the channels of its path and gives the path's parameters to every hook (${build ? 'oneshot' : 'resident'})`, async () => {
      const server = await startServer({
        config: { paths: { '/websocket': {}, '/ws/rooms/{room}': { channels: ['room:{room}'] } }, hosts: { 'p.test': { app: APP, build } } },
      });
      try {
        const inRoom = await connect(server.port, { host: 'p.test', token: 'p1', path: '/ws/rooms/blue%20one' });
        const plain = await connect(server.port, { host: 'p.test', token: 'p2' });
        inRoom.send(JSON.stringify({ cmd: 'params' }));
        assert.deepEqual(JSON.parse(await inRoom.next()), { room: 'blue one' });
        plain.send(JSON.stringify({ cmd: 'params' }));
        assert.equal(await plain.next(), 'null', 'no parameters on a plain path');
        const res = await fetch(`${server.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'p.test', target: 'channel:room:blue one', data: 'blue' }) });
        assert.equal(((await res.json()) as { sent: number }).sent, 1);
        assert.equal(await inRoom.next(), '"blue"');
        const { upgradeStatus } = await import('../support/client.ts');
        assert.equal(await upgradeStatus(server.port, { host: 'p.test', token: 'p3', path: '/ws/rooms/' }), 404, 'a path no route takes');
        inRoom.ws.terminate();
        plain.ws.terminate();
      } finally {
        await server.stop();
      }
    });
  }
});

describe(`channels joined by the client on ${TARGET}`, { skip }, () => {
  for (const build of [true, false]) {
    it(`asks the subscribe hook, joins or refuses, and always answers (${build ? 'oneshot' : 'resident'})`, async () => {
      const server = await startServer({ config: { hosts: { 'cc.test': { app: APP, build, clientChannels: true }, 'old.test': { app: APP, build } } } });
      const cast = async (host: string, target: string) =>
        ((await (await fetch(`${server.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host, target, data: 'x' }) })).json()) as { sent: number }).sent;
      try {
        const c = await connect(server.port, { host: 'cc.test', token: 'cc' });
        c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'news' }));
        assert.deepEqual(JSON.parse(await c.next()), { wsgate: 'subscribed', channel: 'news', ok: true });
        assert.equal(await cast('cc.test', 'channel:news'), 1);
        assert.equal(await c.next(), '"x"');
        c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'secret:plans' }));
        assert.deepEqual(JSON.parse(await c.next()), { wsgate: 'subscribed', channel: 'secret:plans', ok: false, reason: 'refused' });
        assert.equal(await cast('cc.test', 'channel:secret:plans'), 0);
        c.send(JSON.stringify({ wsgate: 'unsubscribe', channel: 'news' }));
        assert.deepEqual(JSON.parse(await c.next()), { wsgate: 'unsubscribed', channel: 'news' });
        assert.equal(await cast('cc.test', 'channel:news'), 0);
        c.send(JSON.stringify({ wsgate: 'subscribe', channel: '' }));
        assert.equal(JSON.parse(await c.next()).wsgate, 'error');
        // Ordinary frames still reach the app, in order with the control frames.
        c.send(JSON.stringify({ cmd: 'echo', text: 'still mine' }));
        assert.deepEqual(JSON.parse(await c.next()), { cmd: 'echo', text: 'still mine' });
        // A host without clientChannels hands the same frame to its app, as before.
        const old = await connect(server.port, { host: 'old.test', token: 'old' });
        const frame = JSON.stringify({ wsgate: 'subscribe', channel: 'news' });
        old.send(frame);
        assert.equal(await old.next(), frame);
        assert.equal(await cast('old.test', 'channel:news'), 0);
        c.ws.terminate();
        old.ws.terminate();
      } finally {
        await server.stop();
      }
    });
  }
});

describe(`presence events on ${TARGET}`, { skip }, () => {
  it('tells the others in a channel with presenceEvents who joins and who leaves, with their info', async () => {
    const server = await startServer({ config: { hosts: { 'pe.test': { app: APP, build: false, channels: { 'room:*': { presenceEvents: true } } } } } });
    try {
      const a = await connect(server.port, { host: 'pe.test', token: 'room-1' });
      const b = await connect(server.port, { host: 'pe.test', token: 'room-1' });
      b.send(JSON.stringify({ cmd: 'whoami' }));
      const bId = (JSON.parse(await b.next()) as { socket: string }).socket;
      assert.deepEqual(JSON.parse(await a.next()), { wsgate: 'join', channel: 'room:1', socket: bId, info: { name: 'room-1' } });
      // A channel without the option stays quiet: late:* has no rule.
      const late = await connect(server.port, { host: 'pe.test', token: 'late-q' });
      const late2 = await connect(server.port, { host: 'pe.test', token: 'late-q' });
      await waitFor('both in late:q', async () => {
        const res = await fetch(`${server.url}/presence?host=pe.test&channel=late:q`);
        return ((await res.json()) as { sockets: number }).sockets === 2 || undefined;
      });
      late.send(JSON.stringify({ cmd: 'echo', n: 0 }));
      assert.deepEqual(JSON.parse(await late.next()), { cmd: 'echo', n: 0 }, 'no join frame in late:q');
      late2.ws.terminate();
      b.ws.close();
      assert.deepEqual(JSON.parse(await a.next()), { wsgate: 'leave', channel: 'room:1', socket: bId, info: { name: 'room-1' } });
      a.send(JSON.stringify({ cmd: 'echo', n: 1 }));
      assert.deepEqual(JSON.parse(await a.next()), { cmd: 'echo', n: 1 }, 'nothing else came in between');
      a.ws.terminate();
      late.ws.terminate();
    } finally {
      await server.stop();
    }
  });
});

describe(`channels with module hooks on ${TARGET}`, { skip }, () => {
  it('takes grants from connect, asks subscribe, and gives the path parameters as params', async () => {
    const { FIXTURES } = await import('../support/server.ts');
    const { join } = await import('node:path');
    const server = await startServer({
      config: { paths: { '/websocket': {}, '/ws/{team}': { channels: ['team:{team}'] } }, hosts: { 'm.test': { module: join(FIXTURES, 'hooks.ts'), clientChannels: true } } },
    });
    const sent = async (target: string) =>
      ((await (await fetch(`${server.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'm.test', target, data: 1 }) })).json()) as { sent: number }).sent;
    try {
      const c = await connect(server.port, { host: 'm.test', token: 'member-go', path: '/ws/red' });
      c.send('params');
      assert.deepEqual(JSON.parse(await c.next()), { team: 'red' });
      assert.equal(await sent('channel:team:red'), 1);
      assert.equal(await c.next(), '1');
      await waitFor('the connect grant', async () => ((await sent('channel:club:go')) === 1 ? true : undefined));
      assert.equal(await c.next(), '1');
      c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'closed' }));
      assert.equal(JSON.parse(await c.next()).ok, false);
      c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'open' }));
      assert.equal(JSON.parse(await c.next()).ok, true);
      c.ws.terminate();
    } finally {
      await server.stop();
    }
  });
});
