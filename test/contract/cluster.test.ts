/**
 * Cluster mode (issue 8): three wsgate nodes on loopback sharing a real
 * redis-server (Debian's, on a port of its own). Casts of every kind from
 * every node with exact `sent`, subscribe and presence across nodes,
 * /health over the cluster, a node killed with SIGKILL, and Redis killed and
 * restarted mid-traffic. Skipped when redis-server is missing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, connectAware } from '../support/client.ts';
import type { Client, WsgateFrame } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP, ROOT, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';
import { laterPort, redisMissing, startRedis } from '../support/redis.ts';
import type { RedisServer } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

const sha = (token: string) => createHash('sha256').update(token).digest('hex');

describe(`cluster over Redis on ${TARGET}`, { skip, timeout: 180_000 }, () => {
  let redisPort: number;
  let redis: RedisServer;
  const nodes: Started[] = [];
  const clients: Client[] = [];

  // A ttl and deadline above a loaded machine's stalls of a node process, so that none is taken for gone or named
  // missing. The deadline stays at 3 s: the Redis outage test waits out a sync asked of nodes not back on the bus yet.
  // The SIGKILL test gives its victim a short ttl of its own, as it waits for that node to drop.
  const configFor = (name: string, ttl = 5) => ({
    hosts: {
      'c.test': { app: APP, build: false, channels: { 'room:*': { history: { size: 50, ttl: 60 } } } },
      // Replay for plain clients, and history of host-wide and token casts.
      'r.test': { app: APP, build: false, replay: { window: 30 }, history: { size: 50, ttl: 60 } },
      'm.test': { module: join(ROOT, 'test', 'fixtures', 'hooks.ts') },
      // Joins and leaves told to the channel's members.
      'p.test': { app: APP, build: false, channels: { 'lobby:*': { presenceEvents: true } } },
    },
    cluster: { redis: `redis://127.0.0.1:${redisPort}`, node: name, heartbeat: 0.2, ttl, deadline: 3 },
  });

  before(async () => {
    redis = await startRedis();
    redisPort = redis.port;
    for (const name of ['n1', 'n2', 'n3']) nodes.push(await startServer({ config: configFor(name) }));
    // Every node sees the other two before the tests start.
    for (const node of nodes) await waitFor(`${node.url} knows three live nodes`, async () => ((await health(node)).cluster?.live.length === 3 ? true : undefined));
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const node of nodes) await node.stop();
    await redis?.stop();
  });

  type Health = { status: string; reason?: string; sockets: Record<string, { sockets: number; tokens: number; perToken: Record<string, number> }>; cluster?: { node: string; redis: string; nodes: Record<string, { sockets: number }>; missing: string[]; live: string[] } };
  const health = async (node: Started) => (await (await fetch(`${node.url}/health`)).json()) as Health;
  const post = async (node: Started, path: string, body: Record<string, unknown>) => {
    const res = await fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as Record<string, unknown> & { sent?: number; nodes?: { answered: string[]; missing: string[]; degraded?: string } };
  };
  const open = async (node: Started, token: string) => {
    const c = await connect(node.port, { host: 'c.test', token });
    clients.push(c);
    return c;
  };
  const socketOf = async (c: Client) => {
    c.send('{"cmd":"whoami"}');
    return (JSON.parse(await c.next()) as { socket: string }).socket;
  };

  it('delivers casts of every kind from every node to the sockets of all nodes, with the exact sum in sent', async () => {
    const [n1, n2, n3] = nodes as [Started, Started, Started];
    const a = await open(n1, 'ann');
    const b = await open(n2, 'ann');
    const c = await open(n3, 'bob');
    const idB = await socketOf(b);
    for (const from of nodes) {
      const all = await post(from, '/message', { host: 'c.test', target: 'all', data: 'all' });
      assert.equal(all.sent, 3, `all from ${from.url}`);
      assert.deepEqual([...all.nodes!.answered].sort(), ['n1', 'n2', 'n3']);
      assert.deepEqual(all.nodes!.missing, []);
      for (const x of [a, b, c]) assert.equal(await x.next(), '"all"');
      assert.equal((await post(from, '/message', { host: 'c.test', target: 'token:ann', data: 'ann' })).sent, 2);
      assert.equal(await a.next(), '"ann"');
      assert.equal(await b.next(), '"ann"');
      assert.equal((await post(from, '/message', { host: 'c.test', target: 'token:not:ann', data: 'not ann' })).sent, 1);
      assert.equal(await c.next(), '"not ann"');
      assert.equal((await post(from, '/message', { host: 'c.test', target: `socket:${idB}`, data: 'just b' })).sent, 1);
      assert.equal(await b.next(), '"just b"');
      assert.equal((await post(from, '/message', { host: 'c.test', target: 'all', except: idB, data: 'not b' })).sent, 2);
      assert.equal(await a.next(), '"not b"');
      assert.equal(await c.next(), '"not b"');
    }
  });

  it('joins channels across nodes from any node, casts to them, and answers presence over all nodes', async () => {
    const [n1, n2, n3] = nodes as [Started, Started, Started];
    const x = await open(n2, 'carl');
    const y = await open(n3, 'carl');
    const joined = await post(n1, '/subscribe', { host: 'c.test', target: 'token:carl', channel: 'room:x' });
    assert.equal(joined.joined, 2);
    assert.equal((await post(n1, '/message', { host: 'c.test', target: 'channel:room:x', data: 'to the room' })).sent, 2);
    assert.equal(await x.next(), '"to the room"');
    assert.equal(await y.next(), '"to the room"');
    const presence = (await (await fetch(`${n1.url}/presence?host=c.test&channel=room:x`)).json()) as { sockets: number; tokens: Record<string, number> };
    assert.equal(presence.sockets, 2);
    assert.deepEqual(presence.tokens, { [sha('carl')]: 2 });
  });

  it('tells each member of a channel of a join once, on the joiner\'s own node as on the others', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const here = await connect(n1.port, { host: 'p.test', token: 'pia' });
    const there = await connect(n2.port, { host: 'p.test', token: 'pim' });
    assert.equal((await post(n1, '/subscribe', { host: 'p.test', target: 'token:pia', channel: 'lobby:1' })).joined, 1);
    assert.equal((await post(n1, '/subscribe', { host: 'p.test', target: 'token:pim', channel: 'lobby:1' })).joined, 1);
    assert.equal((JSON.parse(await here.next()) as { wsgate: string }).wsgate, 'join', 'the first member is told of the second');
    const joiner = await connect(n1.port, { host: 'p.test', token: 'pol' });
    const id = await socketOf(joiner);
    assert.equal((await post(n2, '/subscribe', { host: 'p.test', target: 'token:pol', channel: 'lobby:1' })).joined, 1);
    for (const member of [here, there]) {
      const event = JSON.parse(await member.next()) as { wsgate: string; socket: string };
      assert.deepEqual([event.wsgate, event.socket], ['join', id]);
    }
    // A cast after the join comes next: a second copy of the join would come first.
    assert.equal((await post(n2, '/message', { host: 'p.test', target: 'channel:lobby:1', except: id, data: 'after' })).sent, 2);
    assert.equal(await here.next(), '"after"');
    assert.equal(await there.next(), '"after"');
    // The tests after this one count c.test's sockets per node.
    await closeOnHost('p.test', [here, there, joiner]);
  });

  it('numbers a stream in Redis, so a client resumes on another node exactly where it stopped', async () => {
    const [n1, n2, n3] = nodes as [Started, Started, Started];
    type Frame = WsgateFrame;
    const aware = async (node: Started, recover?: Record<string, { epoch: string; offset: number }>) => {
      const opened = await connectAware(node.port, { host: 'c.test', token: 'room-h', recover });
      clients.push(opened.c);
      return opened;
    };
    const next = async (c: Client) => JSON.parse(await c.next()) as Frame;
    const watcher = await aware(n3);
    const first = await aware(n1);
    assert.equal((await post(n2, '/message', { host: 'c.test', target: 'channel:room:h', data: 'one' })).sent, 2);
    const one = await next(first.c);
    assert.deepEqual([one.wsgate, one.offset, one.data], ['pub', 1, 'one']);
    // Every node gives the same publication the same position.
    const seen = await next(watcher.c);
    assert.deepEqual([seen.epoch, seen.offset], [one.epoch, 1]);
    first.c.ws.terminate();
    await first.c.closed;
    await waitFor('n1 closed it', async () => ((await health(n1)).cluster!.nodes.n1!.sockets === 1 ? true : undefined));
    for (const [from, word] of [[n3, 'two'], [n1, 'three']] as const) assert.equal((await post(from, '/message', { host: 'c.test', target: 'channel:room:h', data: word })).sent, 1);
    const back = await aware(n2, { 'room:h': { epoch: one.epoch!, offset: 1 } });
    const joined = back.frames.find((f) => f.wsgate === 'joined' && f.channel === 'room:h')!;
    assert.deepEqual([joined.recovered, joined.epoch, joined.offset], [true, one.epoch, 3]);
    assert.deepEqual(back.frames.filter((f) => f.wsgate === 'pub').map((f) => [f.offset, f.data]), [[2, 'two'], [3, 'three']]);
    assert.equal((await post(n1, '/message', { host: 'c.test', target: 'channel:room:h', data: 'four' })).sent, 2);
    const four = await next(back.c);
    assert.deepEqual([four.epoch, four.offset, four.data], [one.epoch, 4, 'four']);
  });

  it('gives a client coming back to a node that was not up what it missed, from the Redis Stream', async () => {
    const [n1, n2] = nodes as [Started, Started];
    for (const word of ['a', 'b', 'c']) await post(n1, '/message', { host: 'c.test', target: 'channel:room:late', data: word });
    const held = (await (await fetch(`${n1.url}/history?host=c.test&channel=room:late`)).json()) as { epoch: string; offset: number };
    assert.equal(held.offset, 3);
    const fresh = await startServer({ config: configFor('n6') });
    try {
      // Every node must know n6 before a cast from any of them waits for its answer.
      for (const node of nodes) await waitFor(`${node.url} knows n6`, async () => ((await health(node)).cluster?.live.includes('n6') ? true : undefined));
      const path = `/websocket?wsgate=1&recover=${encodeURIComponent(JSON.stringify({ 'room:late': { epoch: held.epoch, offset: 1 } }))}`;
      const c = await connect(fresh.port, { host: 'c.test', token: 'room-late', path });
      clients.push(c);
      type Frame = { wsgate?: string; channel?: string; epoch?: string; offset?: number; data?: unknown; recovered?: boolean };
      const frames: Frame[] = [];
      while (frames.filter((f) => f.wsgate === 'pub').length < 2) frames.push(JSON.parse(await c.next()) as Frame);
      const joined = frames.find((f) => f.wsgate === 'joined' && f.channel === 'room:late')!;
      assert.deepEqual([joined.recovered, joined.epoch, joined.offset], [true, held.epoch, 3]);
      assert.deepEqual(frames.filter((f) => f.wsgate === 'pub').map((f) => [f.offset, f.data]), [[2, 'b'], [3, 'c']]);
      await fresh.waitForLog(/ recovered host=c\.test .*channel=room:late missed=2 from=redis/);
      assert.equal((await post(n2, '/message', { host: 'c.test', target: 'channel:room:late', data: 'd' })).sent, 1);
      let live: Frame;
      do live = JSON.parse(await c.next()) as Frame;
      while (live.wsgate !== 'pub');
      assert.deepEqual([live.epoch, live.offset, live.data], [held.epoch, 4, 'd']);
    } finally {
      await fresh.stop();
    }
  });

  type Health8 = Health & { history: { streams: number; replaying: number } };
  const replaying = async (node: Started) => ((await health(node)) as Health8).history.replaying;
  /** Sockets of r.test and m.test are closed at the end of each test, so the socket counts of the tests after stay c.test's. */
  const closeOnHost = async (host: string, list: Client[]) => {
    for (const c of list) c.ws.terminate();
    await waitFor(`no ${host} sockets on any node`, async () => (((await health(nodes[0]!)).sockets[host]?.sockets ?? 0) === 0 ? true : undefined));
  };
  const closeReplayHost = (list: Client[]) => closeOnHost('r.test', list);

  it('lets a module hook cast through every node and learn the exact sum', async () => {
    const [n1, n2, n3] = nodes as [Started, Started, Started];
    const sender = await connect(n1.port, { host: 'm.test', token: 'mo' });
    const others = [await connect(n2.port, { host: 'm.test', token: 'mo' }), await connect(n3.port, { host: 'm.test', token: 'max' })];
    sender.send('cast-everywhere');
    const id = (JSON.parse(await sender.next()) as { everywhere: string }).everywhere;
    const answer = JSON.parse(await sender.next()) as { sent: number; nodes: { answered: string[]; missing: string[] } };
    assert.equal(answer.sent, 3);
    assert.deepEqual([...answer.nodes.answered].sort(), ['n1', 'n2', 'n3']);
    assert.deepEqual(answer.nodes.missing, []);
    for (const c of others) assert.deepEqual(JSON.parse(await c.next()), { everywhere: id });
    await closeOnHost('m.test', [sender, ...others]);
  });

  it('delivers a module hook\'s cast() once to each socket, on the hook\'s own node as on the others', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const sender = await connect(n1.port, { host: 'm.test', token: 'mia' });
    const neighbour = await connect(n1.port, { host: 'm.test', token: 'mel' });
    const far = await connect(n2.port, { host: 'm.test', token: 'mox' });
    sender.send('cast');
    assert.equal(await sender.next(), 'module got cast');
    for (const c of [sender, neighbour, far]) assert.equal(typeof (JSON.parse(await c.next()) as { from?: unknown }).from, 'string');
    // What the sender is sent next comes next everywhere: a second copy of the cast would come first.
    assert.equal(await sender.next(), 'module done');
    assert.equal((await post(n2, '/message', { host: 'm.test', target: 'all', data: 'after' })).sent, 3);
    for (const c of [sender, neighbour, far]) assert.equal(await c.next(), '"after"');
    await closeOnHost('m.test', [sender, neighbour, far]);
  });

  it('gives a plain client that comes back to another node what it missed while gone (the replay window)', async () => {
    const [n1, n2, n3] = nodes as [Started, Started, Started];
    const first = await connect(n1.port, { host: 'r.test', token: 'phil' });
    first.ws.terminate();
    await first.closed;
    // Every node keeps the gone token's frames, so whichever it comes back to has them.
    for (const node of nodes) await waitFor(`${node.url} keeps phil's frames`, async () => ((await replaying(node)) === 1 ? true : undefined));
    assert.equal((await post(n2, '/message', { host: 'r.test', target: 'token:phil', data: 'one' })).sent, 0);
    assert.equal((await post(n1, '/message', { host: 'r.test', target: 'all', data: 'two' })).sent, 0);
    const back = await connect(n3.port, { host: 'r.test', token: 'phil' });
    assert.equal(await back.next(), '"one"');
    assert.equal(await back.next(), '"two"');
    // Given once: the other nodes forget them.
    for (const node of nodes) await waitFor(`${node.url} forgot phil`, async () => ((await replaying(node)) === 0 ? true : undefined));
    assert.equal((await post(n1, '/message', { host: 'r.test', target: 'token:phil', data: 'live' })).sent, 1);
    assert.equal(await back.next(), '"live"');
    back.ws.terminate();
    await back.closed;
    // Its next absence starts empty everywhere: nothing it already had comes twice.
    for (const node of nodes) await waitFor(`${node.url} keeps phil's frames again`, async () => ((await replaying(node)) === 1 ? true : undefined));
    assert.equal((await post(n2, '/message', { host: 'r.test', target: 'token:phil', data: 'while gone again' })).sent, 0);
    const again = await connect(n1.port, { host: 'r.test', token: 'phil' });
    assert.equal(await again.next(), '"while gone again"');
    await closeReplayHost([again]);
  });

  it('gives a plain client what it missed on a node that started after it left', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const base = await Promise.all(nodes.map(replaying));
    const gone = await connect(n1.port, { host: 'r.test', token: 'rita' });
    gone.ws.terminate();
    await gone.closed;
    for (const [i, node] of nodes.entries()) await waitFor(`${node.url} keeps rita's frames`, async () => ((await replaying(node)) === base[i]! + 1 ? true : undefined));
    assert.equal((await post(n2, '/message', { host: 'r.test', target: 'token:rita', data: 'before' })).sent, 0);
    const fresh = await startServer({ config: configFor('n8') });
    try {
      // It asks the others what they keep once it joins; casts after its question it keeps itself.
      await fresh.waitForLog(/replay synced node=n8 tokens=\d+/);
      for (const node of nodes) await waitFor(`${node.url} knows n8`, async () => ((await health(node)).cluster?.live.includes('n8') ? true : undefined));
      assert.equal(await replaying(fresh), await replaying(n1));
      assert.equal((await post(n1, '/message', { host: 'r.test', target: 'token:rita', data: 'after' })).sent, 0);
      const back = await connect(fresh.port, { host: 'r.test', token: 'rita' });
      assert.equal(await back.next(), '"before"');
      assert.equal(await back.next(), '"after"');
      await closeReplayHost([back]);
    } finally {
      await fresh.stop();
    }
  });

  it('keeps nothing for replay while the token still has a socket on another node', async () => {
    const [n1, n2, n3] = nodes as [Started, Started, Started];
    // What n1 keeps for tokens of the tests before (phil's last socket was on n1, so n1 knows at once).
    const kept = await replaying(n1);
    const leaving = await connect(n1.port, { host: 'r.test', token: 'quinn' });
    const staying = await connect(n2.port, { host: 'r.test', token: 'quinn' });
    leaving.ws.terminate();
    await leaving.closed;
    await waitFor('n1 closed it', async () => ((await health(n1)).sockets['r.test']?.sockets === 1 ? true : undefined));
    // n1 took the token for gone; n2, which holds a socket of it, says it is not.
    await waitFor('n1 was told quinn is still here', async () => ((await replaying(n1)) === kept ? true : undefined));
    assert.equal((await post(n3, '/message', { host: 'r.test', target: 'token:quinn', data: 'to the one left' })).sent, 1);
    assert.equal(await staying.next(), '"to the one left"');
    const third = await connect(n3.port, { host: 'r.test', token: 'quinn' });
    assert.equal((await post(n1, '/message', { host: 'r.test', target: 'token:quinn', data: 'both' })).sent, 2);
    assert.equal(await third.next(), '"both"', 'nothing replayed before the live cast');
    await closeReplayHost([staying, third]);
  });

  it('gives a client resuming @all and @token on a node that was not up what it missed, from Redis', async () => {
    const [n1, n2] = nodes as [Started, Started];
    for (const word of ['a1', 'a2']) assert.equal((await post(n1, '/message', { host: 'r.test', target: 'all', data: word })).sent, 0);
    for (const word of ['t1', 't2']) assert.equal((await post(n2, '/message', { host: 'r.test', target: 'token:tess', data: word })).sent, 0);
    type Held = { epoch: string; offset: number };
    const all = (await (await fetch(`${n1.url}/history?host=r.test&channel=@all`)).json()) as Held;
    const mine = (await (await fetch(`${n2.url}/history?host=r.test&token=tess`)).json()) as Held;
    assert.ok(all.offset >= 2);
    assert.equal(mine.offset, 2);
    const fresh = await startServer({ config: configFor('n7') });
    try {
      for (const node of nodes) await waitFor(`${node.url} knows n7`, async () => ((await health(node)).cluster?.live.includes('n7') ? true : undefined));
      const recover = { '@all': { epoch: all.epoch, offset: all.offset - 1 }, '@token': { epoch: mine.epoch, offset: 0 } };
      const c = await connect(fresh.port, { host: 'r.test', token: 'tess', path: `/websocket?wsgate=1&recover=${encodeURIComponent(JSON.stringify(recover))}` });
      type Frame = { wsgate?: string; channel?: string; epoch?: string; offset?: number; data?: unknown; recovered?: boolean };
      const frames: Frame[] = [];
      do frames.push(JSON.parse(await c.next()) as Frame);
      while (frames.at(-1)!.wsgate !== 'ready');
      const joined = (stream: string) => frames.find((f) => f.wsgate === 'joined' && f.channel === stream)!;
      assert.deepEqual([joined('@all').recovered, joined('@all').epoch, joined('@all').offset], [true, all.epoch, all.offset]);
      assert.deepEqual([joined('@token').recovered, joined('@token').epoch, joined('@token').offset], [true, mine.epoch, 2]);
      const pubs = (stream: string) => frames.filter((f) => f.wsgate === 'pub' && f.channel === stream).map((f) => [f.offset, f.data]);
      assert.deepEqual(pubs('@all'), [[all.offset, 'a2']]);
      assert.deepEqual(pubs('@token'), [[1, 't1'], [2, 't2']]);
      await fresh.waitForLog(/ recovered host=r\.test .*channel=@token missed=2 from=redis/);
      assert.equal((await post(n2, '/message', { host: 'r.test', target: 'token:tess', data: 't3' })).sent, 1);
      const live = JSON.parse(await c.next()) as Frame;
      assert.deepEqual([live.channel, live.epoch, live.offset, live.data], ['@token', mine.epoch, 3, 't3']);
      await closeReplayHost([c]);
    } finally {
      await fresh.stop();
    }
  });

  it('aggregates /health over the nodes, with each node\'s own count', async () => {
    const h = await health(nodes[0]!);
    assert.equal(h.status, 'ok');
    assert.equal(h.cluster!.redis, 'up');
    const total = Object.values(h.cluster!.nodes).reduce((n, node) => n + node.sockets, 0);
    assert.equal(h.sockets['c.test']!.sockets, total);
    assert.equal(total, clients.filter((c) => c.ws.readyState === c.ws.OPEN).length);
    assert.equal(h.sockets['c.test']!.perToken[sha('ann')], 2);
  });

  it('lists the nodes on the dashboard, with their sockets', async () => {
    const data = (await (await fetch(`${nodes[0]!.url}/dashboard/data`)).json()) as { sockets: number; hosts: Array<{ host: string; sockets: number }>; nodes: Array<{ node: string; sockets: number; state: string }> };
    assert.deepEqual(data.nodes.map((n) => n.node).sort(), ['n1', 'n2', 'n3']);
    assert.equal(data.nodes.find((n) => n.node === 'n1')!.state, 'this node');
    assert.equal(data.nodes.find((n) => n.node === 'n2')!.state, 'up');
    const h = await health(nodes[0]!);
    for (const n of data.nodes) assert.equal(n.sockets, h.cluster!.nodes[n.node]!.sockets, n.node);
    // Hosts and sockets are the cluster's, not only the polled node's.
    assert.equal(data.sockets, data.nodes.reduce((total, n) => total + n.sockets, 0));
    assert.equal(data.hosts.find((x) => x.host === 'c.test')!.sockets, h.sockets['c.test']!.sockets);
    assert.ok(data.sockets > (await health(nodes[0]!)).cluster!.nodes.n1!.sockets, 'more than n1 holds alone');
  });

  it('reports the Redis link and the cross-node round trip in /metrics', async () => {
    const text = await (await fetch(`${nodes[0]!.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(value('wsgate_cluster_redis_up'), 1);
    assert.equal(value('wsgate_cluster_nodes'), 3);
    assert.ok(value('wsgate_cluster_requests_total') >= 5, 'the casts and subscribes above went over the cluster');
    assert.ok(value('wsgate_cluster_request_seconds_total') > 0);
    assert.equal(value('wsgate_cluster_incomplete_total'), 0);
    const dashboard = readFileSync(join(ROOT, 'docs', 'grafana-dashboard.json'), 'utf8');
    const queried = new Set([...dashboard.matchAll(/\b(wsgate_cluster_\w+)/g)].map((m) => m[1]!));
    assert.ok(queried.size >= 4, 'the Grafana dashboard has cluster panels');
    for (const name of queried) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name}, queried by docs/grafana-dashboard.json, is in /metrics`);
  });

  it('drops a node killed with SIGKILL from presence within the heartbeat ttl', async () => {
    // Each node's entry in the set of nodes lasts its own ttl: n4's short one is how soon it drops.
    const victim = await startServer({ config: configFor('n4', 1.5) });
    const v = await open(victim, 'dora');
    await waitFor('n1 knows n4', async () => ((await health(nodes[0]!)).cluster?.live.includes('n4') ? true : undefined));
    assert.equal((await post(nodes[0]!, '/subscribe', { host: 'c.test', target: 'token:dora', channel: 'room:v' })).joined, 1);
    victim.child.kill('SIGKILL');
    await victim.exited;
    await v.closed;
    // Asked before n1 counts n4 gone, /health would wait out the deadline for n4's answer: its log says when.
    await nodes[0]!.waitForLog(/cluster node gone node=n4(\s|$)/);
    const gone = await waitFor('n4 dropped from the cluster', async () => {
      const h = await health(nodes[0]!);
      return !h.cluster!.live.includes('n4') && !('n4' in h.cluster!.nodes) && h.cluster!.missing.length === 0 ? h : undefined;
    });
    assert.equal(gone.status, 'ok');
    const presence = (await (await fetch(`${nodes[0]!.url}/presence?host=c.test&channel=room:v`)).json()) as { sockets: number };
    assert.equal(presence.sockets, 0);
  });

  it('counts a node that joins from the moment it listens, not from the others\' next heartbeat', async () => {
    // Heartbeats ten seconds apart: without the node's own "joining" message, the first would not know the second for that long.
    const slow = (name: string) => ({ hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${redisPort}`, node: name, prefix: 'slow:', heartbeat: 10, ttl: 30, deadline: 5 } });
    const first = await startServer({ config: slow('s1') });
    const second = await startServer({ config: slow('s2') });
    try {
      await waitFor('s1 knows s2 well before its next heartbeat', async () => ((await health(first)).cluster?.live.includes('s2') ? true : undefined), 4000);
      const c = await connect(second.port, { host: 'c.test', token: 'slowpoke' });
      clients.push(c);
      assert.equal((await post(first, '/message', { host: 'c.test', target: 'token:slowpoke', data: 'hi' })).sent, 1);
      assert.equal(await c.next(), '"hi"');
    } finally {
      await second.stop();
      await first.stop();
    }
  });

  it('starts while Redis is away, serves alone, and joins once Redis comes', async () => {
    // Redis comes on it seconds later, after the node started and said it is degraded.
    const port = await laterPort();
    const lonely = await startServer({ config: { hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${port}`, node: 'early', heartbeat: 0.2, ttl: 1.5, deadline: 2 } } });
    let late: RedisServer | undefined;
    try {
      await lonely.waitForLog(/cluster degraded node=early/);
      const alone = await post(lonely, '/message', { host: 'c.test', target: 'all', data: 'x' });
      assert.match(String(alone.nodes?.degraded), /Redis/);
      late = await startRedis(port);
      await lonely.waitForLog(/cluster joined node=early/, 15_000);
      const joined = await waitFor('answers over the bus', async () => {
        const r = await post(lonely, '/message', { host: 'c.test', target: 'all', data: 'y' });
        return r.nodes && !r.nodes.degraded ? r : undefined;
      }, 15_000);
      assert.deepEqual(joined.nodes!.answered, ['early']);
    } finally {
      await lonely.stop();
      await late?.stop();
    }
  });

  it('goes on locally while Redis is down, says degraded, and rejoins by itself when it is back', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const local = await open(n1, 'eve');
    const remote = await open(n2, 'eve');
    await redis.stop();
    await n1.waitForLog(/cluster degraded node=n1/);
    // A plain client leaves n1 while the others cannot be told: they are told once Redis is back.
    const solo = await connect(n1.port, { host: 'r.test', token: 'sol' });
    solo.ws.terminate();
    await solo.closed;
    await waitFor('n1 keeps sol', async () => (await replaying(n1)) > 0 ? true : undefined);
    const alone = await post(n1, '/message', { host: 'c.test', target: 'token:eve', data: 'while down' });
    assert.equal(alone.sent, 1, 'only n1\'s own socket');
    assert.match(String(alone.nodes?.degraded), /Redis/);
    assert.equal(await local.next(), '"while down"');
    const h = await health(n1);
    assert.equal(h.status, 'degraded');
    assert.match(String(h.reason), /Redis unreachable/);
    redis = await startRedis(redisPort);
    await n1.waitForLog(/cluster joined node=n1/, 15_000);
    // A cast asked before a node listens on the bus again waits out the deadline for it: each says when it does.
    for (const node of nodes) await waitFor(`${node.url} joined again`, () => node.logs.filter((line) => / cluster joined node=/.test(line)).length >= 2, 15_000);
    await waitFor('n1 knows all three nodes again', async () => ((await health(n1)).cluster?.live.length === 3 ? true : undefined), 15_000);
    await waitFor('all three nodes back', async () => {
      const r = await post(n1, '/message', { host: 'c.test', target: 'token:eve', data: 'back' });
      return r.sent === 2 && !r.nodes?.degraded ? r : undefined;
    }, 15_000);
    assert.equal((await post(n1, '/message', { host: 'c.test', target: 'token:eve', data: 'final' })).sent, 2);
    // Its second sync: the first was at its start.
    await waitFor('n1 synced again after Redis came back', () => n1.logs.filter((line) => / replay synced node=n1 /.test(line)).length >= 2);
    assert.equal((await post(n2, '/message', { host: 'r.test', target: 'token:sol', data: 'for sol' })).sent, 0);
    const back = await connect(n2.port, { host: 'r.test', token: 'sol' });
    assert.equal(await back.next(), '"for sol"', 'n2 learnt of sol\'s leaving from n1 once Redis was back');
    back.ws.terminate();
    // Nothing left over from the outage: no request still waits for answers (a sync may, until its deadline).
    for (const node of [n1, n2]) await waitFor(`${node.url} has no request pending`, async () => /^wsgate_cluster_pending 0$/m.test(await (await fetch(`${node.url}/metrics`)).text()));
    // Before "final", each socket saw only the tries that reached it.
    for (const c of [local, remote]) {
      let frame: string;
      while ((frame = await c.next()) !== '"final"') assert.equal(frame, '"back"');
    }
  });
});
