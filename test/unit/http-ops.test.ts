/**
 * The ops pages in-process: /health, /metrics, /dashboard and
 * /dashboard/data through `app.request()` against a fake gateway.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context } from 'hono';
import { createBridgeApp } from '../../src/http/bridge-app.ts';
import { bearerMatches, loopbackTrust } from '../../src/http/access.ts';
import type { Trust } from '../../src/http/access.ts';
import type { BridgeGateway } from '../../src/http/bridge/gateway.ts';
import type { OpsGateway } from '../../src/http/ops.ts';
import type { About, BridgeOptions } from '../../src/http/options.ts';
import type { DashboardData } from '../../src/ops/monitor.ts';
import { createLogger } from '../../src/ops/log.ts';

const SECRET = 'ops-secret';
const LOCAL = { peer: '::1' };
const REMOTE = { peer: '198.51.100.4' };
const basic = (password: string, user = 'prometheus') => `Basic ${btoa(`${user}:${password}`)}`;

/** As start.ts decides it, with the peer address from the request's env instead of the runtime. */
function trusted(c: Context, allowBasic = false): Trust {
  if (bearerMatches(c.req.header('authorization'), SECRET, allowBasic)) return { ok: true };
  return loopbackTrust({ peer: (c.env as { peer?: string } | undefined)?.peer, header: (name) => c.req.header(name), scheme: 'http' }, []);
}

type Cluster = NonNullable<OpsGateway['cluster']>;

function setup(cluster?: Cluster, missing: string[] = [], stopping?: () => boolean) {
  const lines: string[] = [];
  const asked: number[] = [];
  const sockets = { 'b.test': { sockets: 1, tokens: 1, perToken: { x: 1 } }, 'a.test': { sockets: 4, tokens: 2, perToken: { y: 3, z: 1 } } };
  const gateway: OpsGateway = {
    healthEverywhere: async () => ({
      value: { sockets, perNode: { 'n1:3000': { sockets: 3, workers: 2 }, 'n2:3000': { sockets: 2, workers: 1 } } },
      ...(cluster ? { nodes: { answered: ['n1:3000', 'n2:3000'], missing } } : {}),
    }),
    cluster,
    configured: () => ['a.test', 'b.test'],
    poolHealth: () => ({ workers: 2, cap: 8, pools: {} }),
    recoveryHealth: () => ({ streams: 1, replaying: 0, bytes: 10, budget: 100, evicted: 0 }),
    admissions: { size: 3 },
    metricsText: () => '# TYPE wsgate_sockets gauge\nwsgate_sockets 5\n',
    feed: { id: 'feed-1', resume: (feed, after) => (feed === undefined || feed === 'feed-1' ? after : 0) },
    dashboard: (after = 0): DashboardData => {
      asked.push(after);
      return { started: 1, now: 2, sockets: 5, hosts: [{ host: 'local.test', sockets: 5, tokens: 1 }], configured: ['a.test'], workers: 2, cap: 8, pools: {}, history: { streams: 1, replaying: 0 }, events: [], samples: [] };
    },
  };
  const about: About = { runtime: 'node', version: '9.9.9', node: 'before-listen' };
  const options: BridgeOptions = {
    trusted,
    dispatcher: { check: async () => ({ ok: false, reason: 'no' }), run: async () => ({ ok: false, error: 'no' }), refusal: () => undefined },
    log: createLogger((line) => lines.push(line), 'debug'),
    reload: async () => ({ ok: true, hosts: [] }),
    about,
    stopping,
  };
  const app = createBridgeApp(gateway as BridgeGateway & OpsGateway, options);
  const request = (path: string, headers: Record<string, string> = {}, env: object = LOCAL) => app.request(path, { headers }, env);
  return { request, lines, asked, about };
}

const PAGE_REFUSAL = 'this page needs Authorization: Bearer <secret> (or the secret as the Basic password) when opened from another machine or through a proxy';

describe('GET /health', () => {
  it('tells anyone that it is up, and nothing more', async () => {
    const t = setup();
    for (const headers of [{}, { authorization: basic(SECRET) }, { authorization: 'Bearer nope' }] as Array<Record<string, string>>) {
      const response = await t.request('/health', headers, REMOTE);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ok' }, JSON.stringify(headers));
    }
    assert.deepEqual(await (await t.request('/health', { 'x-forwarded-for': '1.2.3.4' })).json(), { status: 'ok' }, 'a proxied local request is not trusted');
    assert.equal(t.lines.length, 0, 'an open page logs no refusal');
  });

  it('says "stopping" with a 503 once a stop has begun, to anyone and to a trusted caller', async () => {
    let stopping = false;
    const t = setup(undefined, [], () => stopping);
    assert.equal((await t.request('/health', {}, REMOTE)).status, 200);
    stopping = true;
    const anyone = await t.request('/health', {}, REMOTE);
    assert.deepEqual({ status: anyone.status, body: await anyone.json() }, { status: 503, body: { status: 'stopping' } });
    const trustedAnswer = await t.request('/health');
    const body = (await trustedAnswer.json()) as { status: string; workers: number };
    assert.deepEqual({ status: trustedAnswer.status, said: body.status, workers: body.workers }, { status: 503, said: 'stopping', workers: 2 });
  });

  it('gives a trusted caller the numbers', async () => {
    const t = setup();
    for (const [headers, env] of [[{}, LOCAL], [{ authorization: `Bearer ${SECRET}` }, REMOTE]] as const) {
      const body = (await (await t.request('/health', headers, env)).json()) as Record<string, unknown>;
      assert.deepEqual(body, {
        status: 'ok',
        workers: 2,
        cap: 8,
        pools: {},
        sockets: { 'b.test': { sockets: 1, tokens: 1, perToken: { x: 1 } }, 'a.test': { sockets: 4, tokens: 2, perToken: { y: 3, z: 1 } } },
        registered: ['a.test', 'b.test'],
        hosts: { 'b.test': { tokens: 1, sockets: 1 }, 'a.test': { tokens: 2, sockets: 4 } },
        configured: ['a.test', 'b.test'],
        admitting: 3,
        history: { streams: 1, replaying: 0, bytes: 10, budget: 100, evicted: 0 },
      });
    }
  });

  it('reports the cluster, and says degraded when Redis is down', async () => {
    const up = setup({ node: 'n1:3000', up: true, nodes: () => ['n1:3000', 'n2:3000'] }, ['n3:3000']);
    const body = (await (await up.request('/health')).json()) as Record<string, unknown>;
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.cluster, { node: 'n1:3000', redis: 'up', nodes: { 'n1:3000': { sockets: 3, workers: 2 }, 'n2:3000': { sockets: 2, workers: 1 } }, missing: ['n3:3000'], live: ['n1:3000', 'n2:3000'] });
    const down = setup({ node: 'n1:3000', up: false, reason: 'connection refused', nodes: () => [] });
    const degraded = (await (await down.request('/health')).json()) as Record<string, unknown>;
    assert.equal(degraded.status, 'degraded');
    assert.equal(degraded.reason, 'connection refused');
    assert.equal((degraded.cluster as { redis: string }).redis, 'down');
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text to a local caller', async () => {
    const t = setup();
    const response = await t.request('/metrics');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await response.text(), '# TYPE wsgate_sockets gauge\nwsgate_sockets 5\n');
  });

  it('takes the secret as a Basic password (any user) or a bearer from another machine', async () => {
    const t = setup();
    for (const authorization of [basic(SECRET), basic(SECRET, ''), `Bearer ${SECRET}`]) {
      assert.equal((await t.request('/metrics', { authorization }, REMOTE)).status, 200, authorization);
    }
  });

  it('refuses another machine without the secret with 401 and a Basic challenge, and logs it', async () => {
    const t = setup();
    for (const authorization of [undefined, basic('wrong'), 'Basic !!!', `Basic ${btoa(SECRET)}`, 'Bearer wrong']) {
      const response = await t.request('/metrics', authorization ? { authorization } : {}, REMOTE);
      assert.equal(response.status, 401, authorization);
      assert.equal(response.headers.get('www-authenticate'), 'Basic realm="wsgate", charset="UTF-8"');
      assert.deepEqual(await response.json(), { status: 'error', message: PAGE_REFUSAL });
    }
    assert.match(t.lines[0]!, /bridge refused.*path=\/metrics.*not on loopback and no valid secret/);
  });
  it("refuses a request relayed by a proxy that names only the forwarded host or scheme (the README's nginx block), whatever Host the client gave", async () => {
    const t = setup();
    // nginx with `proxy_set_header Host $host; proxy_set_header X-Forwarded-Host $host;` and no X-Forwarded-For: an internet
    // client that says `Host: localhost` reaches the gateway from loopback, with a loopback Host and no Origin.
    for (const headers of [{ host: 'localhost', 'x-forwarded-host': 'localhost' }, { host: '127.0.0.1:3001', 'x-forwarded-proto': 'https' }] as Array<Record<string, string>>) {
      const response = await t.request('/metrics', headers);
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.match(t.lines.at(-1)!, /came through a proxy/);
      assert.deepEqual(await (await t.request('/health', headers)).json(), { status: 'ok' }, JSON.stringify(headers));
    }
  });
});

describe('GET /dashboard', () => {
  it('serves the page and its data with the secret as a Basic password, so a remote browser can open it', async () => {
    const t = setup();
    const page = await t.request('/dashboard', { authorization: basic(SECRET) }, REMOTE);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<title>wsgate dashboard<\/title>/);
    assert.equal((await t.request('/dashboard/data', { authorization: basic(SECRET) }, REMOTE)).status, 200);
  });

  it('guards everything under /dashboard, and nothing that only starts like it', async () => {
    const t = setup();
    for (const path of ['/dashboard', '/dashboard/data', '/dashboard/other']) {
      const response = await t.request(path, {}, REMOTE);
      assert.equal(response.status, 401, path);
      assert.equal(response.headers.get('www-authenticate'), 'Basic realm="wsgate", charset="UTF-8"');
    }
    assert.equal((await t.request('/dashboard/other', { authorization: basic(SECRET) }, REMOTE)).status, 404);
    assert.equal((await t.request('/dashboardx', {}, REMOTE)).status, 404);
    assert.equal((await t.request('/metricsx', {}, REMOTE)).status, 404);
  });

  it('refuses a cross-site page even on loopback (the secret is what a remote browser needs)', async () => {
    const t = setup();
    const response = await t.request('/dashboard/data', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    assert.equal(response.status, 401);
  });

  it("answers this node's data, the feed id and what the process is, read when asked", async () => {
    const t = setup();
    t.about.node = 'host:3000';
    const body = (await (await t.request('/dashboard/data?feed=feed-1&after=4')).json()) as Record<string, unknown>;
    assert.deepEqual(t.asked, [4]);
    assert.equal(body.feed, 'feed-1');
    assert.equal(body.runtime, 'node');
    assert.equal(body.version, '9.9.9');
    assert.equal(body.node, 'host:3000');
    assert.equal(body.sockets, 5);
    assert.deepEqual(body.nodes, [{ node: 'host:3000', sockets: 5, state: 'this node' }]);
    assert.deepEqual(body.hosts, [{ host: 'local.test', sockets: 5, tokens: 1 }]);
  });

  it("starts over from 0 for another feed's cursor, and for a cursor that is not a number", async () => {
    const t = setup();
    await t.request('/dashboard/data?feed=other&after=9');
    await t.request('/dashboard/data?after=nope');
    await t.request('/dashboard/data');
    assert.deepEqual(t.asked, [0, 0, 0]);
  });

  it('shows the hosts and nodes of the whole cluster, the missing ones too', async () => {
    const t = setup({ node: 'n1:3000', up: false, reason: 'redis gone', nodes: () => [] }, ['n3:3000']);
    const body = (await (await t.request('/dashboard/data')).json()) as Record<string, unknown>;
    assert.deepEqual(body.nodes, [
      { node: 'n1:3000', sockets: 3, state: 'this node, degraded: redis gone' },
      { node: 'n2:3000', sockets: 2, state: 'up' },
      { node: 'n3:3000', sockets: 0, state: 'not answering' },
    ]);
    assert.deepEqual(body.hosts, [
      { host: 'a.test', sockets: 4, tokens: 2 },
      { host: 'b.test', sockets: 1, tokens: 1 },
    ]);
    assert.equal(body.sockets, 5);
  });
});
