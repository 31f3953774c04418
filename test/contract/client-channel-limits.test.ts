/**
 * What a client may ask of the gateway on a clientChannels host, on the real
 * server with real sockets: at most limits.channelsPerSocket channels of its
 * own choosing (the app's joins count, and are never refused), and presence
 * requests that cost the server little once answered, with the same answer
 * GET /presence gives.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
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

/** CPU time the process has used so far, in clock ticks. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime: fields 14 and 15 of the line, 12 and 13 after the command's closing parenthesis.
  return Number(fields[11]) + Number(fields[12]);
}

describe(`presence requests on ${TARGET}`, { skip: skip ?? (existsSync('/proc/self/stat') ? undefined : 'no /proc to read CPU time from') }, () => {
  it('cost the server far less than building the answer each time, and answer what GET /presence does', async () => {
    const server = await startServer({ config: { hosts: { 'p.test': { module: HOOKS, clientChannels: true } } } });
    const pid = server.child.pid!;
    const clients: Client[] = [];
    try {
      // Long tokens make each member's hash cost what a few thousand short ones would, with few sockets.
      const members = 300;
      for (let i = 0; i < members; i += 25) {
        const batch = await Promise.all(Array.from({ length: Math.min(25, members - i) }, (_, j) => connect(server.port, { host: 'p.test', token: `p${i + j}-${'x'.repeat(6000)}` })));
        clients.push(...batch);
        for (const c of batch) c.send(JSON.stringify({ wsgate: 'subscribe', channel: 'lobby' }));
        for (const c of batch) assert.equal(JSON.parse(await c.next()).ok, true);
      }
      const asker = clients[0]!;
      const presenceUrl = `${server.url}/presence?host=p.test&channel=lobby`;
      const bridge = async () => (await (await fetch(presenceUrl)).json()) as { members: unknown[] };
      const asked = async (times: number) => {
        for (let i = 0; i < times; i++) asker.send(JSON.stringify({ wsgate: 'presence', channel: 'lobby' }));
        const answers: string[] = [];
        for (let i = 0; i < times; i++) answers.push(await asker.next());
        return answers;
      };
      // Once each before measuring: code paths compiled, the first answer built.
      const [first] = await asked(1);
      const expected = (await bridge()).members;
      assert.deepEqual(JSON.parse(first!), { wsgate: 'presence', channel: 'lobby', members: expected });
      assert.equal(expected.length, members);

      const times = 100;
      const start = cpuTicks(pid);
      const answers = await asked(times);
      const forClients = cpuTicks(pid) - start;
      for (const answer of answers) assert.equal(answer, first);
      const built = cpuTicks(pid);
      for (let i = 0; i < times; i++) assert.equal((await bridge()).members.length, members);
      const forBridge = cpuTicks(pid) - built;
      // GET /presence builds its answer every time; a client asking again must not make the server do that.
      assert.ok(forClients * 4 < forBridge, `${times} presence requests took ${forClients} ticks of CPU, ${times} GET /presence ${forBridge}`);
    } finally {
      for (const c of clients) c.ws.terminate();
      await server.stop();
    }
  });
});
