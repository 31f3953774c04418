/**
 * What a client may ask of the gateway on a clientChannels host, on the real
 * server with real sockets: at most limits.channelsPerSocket channels of its
 * own choosing (the app's joins count, and are never refused), and presence
 * requests answered from a kept frame that is the answer GET /presence gives.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';

const skip = targetAvailable();
const HOOKS = join(FIXTURES, 'hooks.ts');

const post = async (url: string, body: unknown) => (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<Record<string, unknown>>;

describe(`limits.channelsPerSocket on ${TARGET}`, { skip }, () => {
  it("refuses a client's own subscribe beyond the limit, counts the app's channels, and keeps the socket open", async () => {
    const server = await startServer({
      config: { limits: { channelsPerSocket: 3 }, paths: { '/websocket': {}, '/ws/{team}': { channels: ['team:{team}'] } }, hosts: { 'm.test': { module: HOOKS, clientChannels: true } } },
    });
    const sent = async (channel: string) => (await post(`${server.url}/message`, { host: 'm.test', target: `channel:${channel}`, data: 1 })).sent;
    let c: Client | undefined;
    try {
      c = await connect(server.port, { host: 'm.test', token: 'lim', path: '/ws/red' });
      const subscribe = async (channel: string) => {
        c!.send(JSON.stringify({ wsgate: 'subscribe', channel }));
        return JSON.parse(await c!.next()) as Record<string, unknown>;
      };
      const refusal = { ok: false, reason: 'a socket may be in at most 3 channels (limits.channelsPerSocket)' };
      // The path's team:red is the app's and counts: two of its own fit.
      assert.deepEqual(await subscribe('a'), { wsgate: 'subscribed', channel: 'a', ok: true });
      assert.deepEqual(await subscribe('b'), { wsgate: 'subscribed', channel: 'b', ok: true });
      assert.deepEqual(await subscribe('c'), { wsgate: 'subscribed', channel: 'c', ...refusal });
      assert.equal(await sent('c'), 0);
      await server.waitForLog(/ INFO  subscribe refused host=m\.test socket=\S+ channel=c$/);
      c.send('hello');
      assert.equal(await c.next(), 'module got hello');
      assert.equal(await c.next(), 'module done');
      // The app is never refused, and what it joins counts.
      assert.equal((await post(`${server.url}/subscribe`, { host: 'm.test', target: 'token:lim', channel: 'extra' })).joined, 1);
      assert.equal(await sent('extra'), 1);
      assert.equal(await c.next(), '1');
      assert.deepEqual(await subscribe('a'), { wsgate: 'subscribed', channel: 'a', ok: true }, 'a channel it is in costs nothing more');
      c.send(JSON.stringify({ wsgate: 'unsubscribe', channel: 'a' }));
      assert.deepEqual(JSON.parse(await c.next()), { wsgate: 'unsubscribed', channel: 'a' });
      assert.deepEqual(await subscribe('c'), { wsgate: 'subscribed', channel: 'c', ...refusal });
      c.send(JSON.stringify({ wsgate: 'unsubscribe', channel: 'b' }));
      assert.deepEqual(JSON.parse(await c.next()), { wsgate: 'unsubscribed', channel: 'b' });
      assert.deepEqual(await subscribe('c'), { wsgate: 'subscribed', channel: 'c', ok: true });
      assert.equal(await sent('c'), 1);
      assert.equal(await c.next(), '1');
    } finally {
      c?.ws.terminate();
      await server.stop();
    }
  });
});

describe(`presence requests on ${TARGET}`, { skip }, () => {
  // That a repeated request is not rebuilt is asserted in test/unit/client-channel-limits.test.ts (it reads no
  // member's token); what it costs is a benchmark's to say, not a test's. Here: the kept answer is the right one.
  it('answer what GET /presence does, asked again and after a member joins', async () => {
    const server = await startServer({ config: { hosts: { 'p.test': { module: HOOKS, clientChannels: true } } } });
    const clients: Client[] = [];
    const join = async (token: string) => {
      const c = await connect(server.port, { host: 'p.test', token });
      clients.push(c);
      c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'lobby' }));
      assert.equal(JSON.parse(await c.next()).ok, true);
      return c;
    };
    try {
      for (let i = 0; i < 20; i++) await join(`p${i}`);
      const asker = clients[0]!;
      const presenceUrl = `${server.url}/presence?host=p.test&channel=lobby`;
      const bridge = async () => ((await (await fetch(presenceUrl)).json()) as { members: unknown[] }).members;
      const asked = async (times: number) => {
        for (let i = 0; i < times; i++) asker.send(JSON.stringify({ wsgate: 'presence', channel: 'lobby' }));
        const answers: string[] = [];
        for (let i = 0; i < times; i++) answers.push(await asker.next());
        return answers;
      };
      const [first, ...again] = await asked(5);
      assert.deepEqual(JSON.parse(first!), { wsgate: 'presence', channel: 'lobby', members: await bridge() });
      assert.equal(JSON.parse(first!).members.length, 20);
      for (const answer of again) assert.equal(answer, first);
      await join('newcomer');
      const [after] = await asked(1);
      assert.deepEqual(JSON.parse(after!), { wsgate: 'presence', channel: 'lobby', members: await bridge() });
      assert.equal(JSON.parse(after!).members.length, 21);
    } finally {
      for (const c of clients) c.ws.terminate();
      await server.stop();
    }
  });
});
