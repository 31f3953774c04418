/**
 * Bridge access: /message, /dispatch, /reload, /subscribe, /unsubscribe, /presence, /history, /disconnect, /metrics and the detail of /health need
 * the bearer secret from anyone who is not on loopback, or who came through
 * a proxy; serve refuses to expose the port without a secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { createNetns } from '../support/netns.ts';
import type { Netns } from '../support/netns.ts';
import { APP, FIXTURES, ROOT, TARGET, runWsgate, startServer, targetAvailable, tempDir, writeJson } from '../support/server.ts';
import type { Started } from '../support/server.ts';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';

const SECRET = 'a-long-test-secret-0123456789';
const netns = targetAvailable() ? undefined : createNetns();
const skip = targetAvailable() ?? (typeof netns === 'string' ? netns : undefined);

/** An HTTP request made from inside the namespace: the caller is another host. */
function remote(ns: Netns, url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const script = `fetch(${JSON.stringify(url)}, ${JSON.stringify(init)}).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() }))).catch((e) => { console.error(e.message); process.exit(3); })`;
  const run = ns.run([process.execPath, '-e', script]);
  assert.equal(run.code, 0, run.stderr);
  const { status, body } = JSON.parse(run.stdout) as { status: number; body: string };
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    // /metrics answers text.
  }
  return { status, json, text: body };
}

describe(`bridge access on ${TARGET}`, { skip }, () => {
  const ns = netns as Netns;
  let server: Started;
  let url: string;
  before(async () => {
    server = await startServer({ args: ['--listen', ns.hostAddress], env: { WSGATE_SECRET: SECRET }, config: { hosts: { 'app.test': APP } } });
    url = `http://${ns.hostAddress}:${server.port}`;
  });
  after(async () => {
    await server?.stop();
    ns.remove();
  });

  const cast = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'app.test', data: 1 }) };

  it('refuses /message, /dispatch, /reload, /subscribe, /unsubscribe, /presence, /history, /disconnect and /metrics from another host without the secret', () => {
    const join = { ...cast, body: JSON.stringify({ host: 'app.test', target: 'all', channel: 'c' }) };
    for (const [path, init] of [
      ['/message', cast],
      ['/dispatch', { ...cast, body: JSON.stringify({ app: APP, target: 'jobs::echo' }) }],
      ['/reload', { method: 'POST' }],
      ['/subscribe', join],
      ['/unsubscribe', join],
      ['/presence?host=app.test&channel=c', { method: 'GET' }],
      ['/history?host=app.test&channel=c', { method: 'GET' }],
      ['/disconnect', { ...cast, body: JSON.stringify({ host: 'app.test', target: 'all' }) }],
      ['/metrics', { method: 'GET' }],
    ] as const) {
      const res = remote(ns, `${url}${path}`, init);
      assert.equal(res.status, 401, path);
      assert.match(String(res.json.message), /needs Authorization: Bearer <secret>/);
      const wrong = remote(ns, `${url}${path}`, { ...init, headers: { ...('headers' in init ? init.headers : {}), authorization: 'Bearer wrong-secret-wrong-secret' } });
      assert.equal(wrong.status, 401, `${path} with a wrong secret`);
    }
  });

  it('lets another host in with the secret', () => {
    const res = remote(ns, `${url}/message`, { ...cast, headers: { ...cast.headers, authorization: `Bearer ${SECRET}` } });
    assert.deepEqual(res.json, { status: 'ok', host: 'app.test', sent: 0 });
  });

  it('wsgate health, cast and reload send WSGATE_SECRET as the bearer', async () => {
    const without = await runWsgate(['health', '--url', url], { WSGATE_SECRET: '' });
    assert.deepEqual(JSON.parse(without.stdout), { status: 'ok' });
    const withSecret = await runWsgate(['health', '--url', url], { WSGATE_SECRET: SECRET });
    assert.deepEqual(JSON.parse(withSecret.stdout).configured, ['app.test'], withSecret.stderr);
    const cast = await runWsgate(['cast', '--url', url, '--host', 'app.test', '--data', '1'], { WSGATE_SECRET: SECRET });
    assert.equal(cast.code, 0, cast.stderr);
  });

  it('takes the secret as a Basic password too, as Prometheus and browsers send it', () => {
    const metrics = remote(ns, `${url}/metrics`, { headers: { authorization: `Basic ${btoa(`prometheus:${SECRET}`)}` } });
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^# HELP wsgate_sockets /);
    assert.equal(remote(ns, `${url}/metrics`, { headers: { authorization: `Basic ${btoa('prometheus:wrong')}` } }).status, 401);
    // Not on the rest of the bridge: a browser would replay cached Basic credentials for another site's form.
    const basicCast = remote(ns, `${url}/message`, { ...cast, headers: { ...cast.headers, authorization: `Basic ${btoa(`admin:${SECRET}`)}` } });
    assert.equal(basicCast.status, 401);
  });

  it('shows another host only the status in /health, the detail with the secret', () => {
    assert.deepEqual(remote(ns, `${url}/health`).json, { status: 'ok' });
    const full = remote(ns, `${url}/health`, { headers: { authorization: `Bearer ${SECRET}` } }).json;
    assert.deepEqual(full.configured, ['app.test']);
  });

  it('wsCast() sends WSGATE_SECRET', () => {
    const sdk = join(ROOT, 'php', 'wsgate.php');
    const run = ns.run(['php', '-r', `require ${JSON.stringify(sdk)}; echo wsCast(1, 'all', '', 'app.test');`], { WSGATE_URL: url, WSGATE_SECRET: SECRET });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '0');
  });

  it('logs each refusal', async () => {
    await server.waitForLog(/bridge refused path=\/message reason="not on loopback and no valid bearer secret"/);
  });

  it('keeps the WebSocket port open to other hosts', async () => {
    const script = `const WebSocket = require(${JSON.stringify(join(ROOT, 'node_modules', 'ws'))}); const ws = new WebSocket(${JSON.stringify(`ws://${ns.hostAddress}:${server.port}/websocket`)}, { headers: { host: 'app.test', cookie: 'token=remote' } }); ws.on('open', () => { console.log('open'); ws.close(); }); ws.on('error', (e) => { console.error(e.message); process.exit(3); });`;
    const run = ns.run([process.execPath, '-e', script]);
    assert.equal(run.stdout.trim(), 'open', run.stderr);
  });
});

describe(`bridge access on loopback on ${TARGET}`, { skip: targetAvailable() }, () => {
  it('trusts loopback, but not a request relayed by a proxy', async () => {
    const server = await startServer({ config: { hosts: { 'app.test': APP } } });
    try {
      const post = (headers: Record<string, string>) =>
        fetch(`${server.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ host: 'app.test', data: 1 }) });
      assert.equal((await post({})).status, 200);
      assert.equal((await post({ 'x-forwarded-for': '203.0.113.9' })).status, 401);
      assert.equal((await post({ forwarded: 'for=203.0.113.9' })).status, 401);
      assert.deepEqual(await (await fetch(`${server.url}/health`, { headers: { 'x-real-ip': '203.0.113.9' } })).json(), { status: 'ok' });
      // The upgrade through a proxy is what proxies are for: it stays open.
      const c = await connect(server.port, { host: 'app.test', token: 't', headers: { 'x-forwarded-for': '203.0.113.9' } });
      c.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  it('refuses upgrades from pages of other sites with 403 (Origin), per host', async () => {
    const server = await startServer({
      config: { hosts: { 'app.test': APP, 'open.test': { app: APP, origins: ['*'] }, 'list.test': { app: APP, origins: ['https://admin.test', '*.cdn.test'] } } },
    });
    try {
      const status = (host: string, origin?: string) => upgradeStatus(server.port, { host, token: 't', headers: origin ? { origin } : {} });
      assert.equal(await status('app.test', 'https://app.test'), 101, 'its own pages');
      assert.equal(await status('app.test'), 101, 'no Origin: not a browser');
      assert.equal(await status('app.test', 'https://evil.test'), 403);
      assert.equal(await status('open.test', 'https://evil.test'), 101, '["*"] turns the check off');
      assert.equal(await status('list.test', 'https://admin.test'), 101);
      assert.equal(await status('list.test', 'https://x.cdn.test'), 101);
      assert.equal(await status('list.test', 'https://list.test'), 403, 'a list replaces the default');
      await server.waitForLog(/upgrade refused host=app\.test origin=https:\/\/evil\.test reason="origin not allowed"/);
    } finally {
      await server.stop();
    }
  });

  it('takes the token from a query parameter on hosts that say so', async () => {
    const server = await startServer({ config: { hosts: { 'q.test': { app: APP, tokenFrom: 'query', tokenName: 'key' } } } });
    try {
      const c = await connect(server.port, { host: 'q.test', path: '/websocket?key=from%20query' });
      c.send(JSON.stringify({ cmd: 'whoami' }));
      assert.equal(JSON.parse(await c.next()).token, 'from query');
      c.ws.terminate();
      assert.equal(await upgradeStatus(server.port, { host: 'q.test', token: 'cookie-only' }), 401, 'the cookie does not count there');
    } finally {
      await server.stop();
    }
  });

  it('takes the token from the first message on hosts that say so', async () => {
    // The sockets that send their first frame at once get 2 s, which a loaded machine's stall between the 101 and that
    // frame stays under; the silent one, whose close the test waits for, a host of its own with 0.5 s.
    const hooks = join(FIXTURES, 'hooks.ts');
    const server = await startServer({ config: { hosts: { 'm.test': { module: hooks, tokenFrom: 'message', authTimeout: 2 }, 'silent.test': { module: hooks, tokenFrom: 'message', authTimeout: 0.5 } } } });
    try {
      const c = await connect(server.port, { host: 'm.test' });
      c.send(JSON.stringify({ type: 'auth', token: 'first-frame' }));
      c.send('sent right after');
      assert.equal(await c.next(), 'module got sent right after', 'a frame sent during auth waits for it, in order');
      c.ws.terminate();
      const refused = await connect(server.port, { host: 'm.test' });
      refused.send(JSON.stringify({ type: 'auth', token: 'refuse' }));
      assert.deepEqual(await refused.closed, { code: 1008, reason: 'unauthorized' });
      const garbage = await connect(server.port, { host: 'm.test' });
      garbage.send('hello');
      assert.deepEqual(await garbage.closed, { code: 1008, reason: 'the first frame must be {"type":"auth","token":"..."}' });
      const silent = await connect(server.port, { host: 'silent.test' });
      assert.deepEqual(await silent.closed, { code: 1008, reason: 'no auth message in time' });
    } finally {
      await server.stop();
    }
  });

  it('takes as an upgrade only a request that says so in Connection too: 426 otherwise, and no hook runs', async () => {
    const server = await startServer({ config: { hosts: { 'm.test': { module: join(FIXTURES, 'hooks.ts'), tokenFrom: 'message' }, 'c.test': APP } } });
    try {
      const halfUpgrade = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const request = httpGet({ host: '127.0.0.1', port: server.port, path: '/websocket', headers: { host, upgrade: 'websocket', cookie: 'token=half', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } }, (response) => {
            response.resume();
            resolve(response.statusCode!);
          });
          request.on('error', reject);
        });
      assert.equal(await halfUpgrade('m.test'), 426);
      assert.equal(await halfUpgrade('c.test'), 426);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.doesNotMatch(metrics, /wsgate_hook_runs_total\{[^}]*hook="auth"/, 'no auth hook ran');
      // A real upgrade on the same host still opens.
      const c = await connect(server.port, { host: 'm.test' });
      c.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  it('answers a handshake without a valid key or version before any hook runs: 400 or 426, never 101 or 500', async () => {
    const server = await startServer({ config: { hosts: { 'm.test': { module: join(FIXTURES, 'hooks.ts'), tokenFrom: 'message' }, 'c.test': APP } } });
    try {
      const handshake = (host: string, headers: Record<string, string>) =>
        new Promise<{ status: number; version?: string }>((resolve, reject) => {
          const request = httpGet({ host: '127.0.0.1', port: server.port, path: '/websocket', headers: { host, upgrade: 'websocket', connection: 'Upgrade', cookie: 'token=bad', ...headers } }, (response) => {
            response.resume();
            resolve({ status: response.statusCode!, version: response.headers['sec-websocket-version'] as string | undefined });
          });
          // A 101 would hand the socket over instead of answering.
          request.on('upgrade', (_response, socket) => {
            socket.destroy();
            resolve({ status: 101 });
          });
          request.on('error', reject);
        });
      for (const host of ['m.test', 'c.test']) {
        // On Node, each of these used to leave @hono/node-ws waiting for a socket for good: memory anyone could grow.
        assert.deepEqual(await handshake(host, { 'sec-websocket-version': '13' }), { status: 400, version: undefined }, `${host}: no key`);
        assert.deepEqual(await handshake(host, { 'sec-websocket-version': '13', 'sec-websocket-key': 'not-a-key' }), { status: 400, version: undefined }, `${host}: bad key`);
        // @hono/node-ws answers a refused upgrade with its status line alone, so Node's 426 cannot say which version it speaks.
        const version = TARGET === 'node' ? undefined : '13';
        assert.deepEqual(await handshake(host, { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '8' }), { status: 426, version }, `${host}: version`);
        const protocols = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', 'sec-websocket-protocol': 'a b' };
        assert.deepEqual(await handshake(host, protocols), { status: 400, version: undefined }, `${host}: protocols`);
      }
      await server.waitForLog(/upgrade refused .*reason="Sec-WebSocket-Key must be 16 bytes in base64"/);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.doesNotMatch(metrics, /wsgate_hook_runs_total\{[^}]*hook="auth"/, 'no auth hook ran');
      const c = await connect(server.port, { host: 'c.test', token: 'fine' });
      c.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  it('serves the bridge on its own address, so the public port carries only upgrades', async () => {
    const server = await startServer({ args: ['--listen', '0.0.0.0'], env: { WSGATE_SECRET: '' }, config: { bridge: { port: 0 }, hosts: { 'app.test': APP } } });
    try {
      const bridgeUrl = /bridge url=(\S+)/.exec(await server.waitForLog(/ bridge url=/))![1]!;
      const publicUrl = `http://127.0.0.1:${server.port}`;
      const cast = (base: string) => fetch(`${base}/message`, { method: 'POST', body: JSON.stringify({ host: 'app.test', data: 1 }) });
      assert.equal((await cast(publicUrl)).status, 404, 'no bridge on the public port');
      assert.deepEqual(await (await fetch(`${publicUrl}/health`)).json(), { status: 'ok' });
      assert.equal((await cast(bridgeUrl)).status, 200);
      assert.deepEqual((await (await fetch(`${bridgeUrl}/health`)).json()).configured, ['app.test']);
      const c = await connect(server.port, { host: 'app.test', token: 't' });
      c.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  it('serves the bridge on a unix socket', async () => {
    const path = join(tempDir(), 'wsgate.sock');
    const server = await startServer({ config: { bridge: { path }, hosts: { 'app.test': APP } } });
    try {
      await server.waitForLog(/ bridge url=unix:/);
      const { request } = await import('node:http');
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ socketPath: path, path: '/message', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ host: 'app.test', data: 1 }));
      });
      assert.equal(answer.status, 200, answer.body);
      assert.deepEqual(JSON.parse(answer.body), { status: 'ok', host: 'app.test', sent: 0 });
    } finally {
      await server.stop();
    }
  });

  it('refuses to listen beyond loopback without a secret, saying how to set one', async () => {
    const file = writeJson(join(tempDir(), 'open.json'), { listen: '0.0.0.0', port: 0, hosts: { 'app.test': APP } });
    const run = await runWsgate(['serve', '--config', file], { WSGATE_SECRET: '' });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /listening on 0\.0\.0\.0 .*set "secret" in the config \(16\+ characters\) or WSGATE_SECRET/);
    const short = writeJson(join(tempDir(), 'short.json'), { secret: 'short', hosts: { 'app.test': APP } });
    assert.match((await runWsgate(['check', '--config', short])).stderr, /secret: expected a secret of at least 16 characters/);
  });
});
