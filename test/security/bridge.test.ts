/**
 * Attack: a web page in the user's browser drives the bridge. It can reach
 * 127.0.0.1 with a "simple" cross-site request (no preflight), or rebind a
 * name of its own to 127.0.0.1 so that the request carries its Host. Neither
 * may be trusted for coming from loopback. Phlo's own wsCast() request (curl,
 * JSON, no Origin) and the dashboard opened on 127.0.0.1 keep working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { rawRequest } from '../support/http.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const SECRET = 'a-long-test-secret-0123456789';

/** Every bridge route, with a body that would act if the caller were trusted. */
const ROUTES: Array<{ method: 'GET' | 'POST'; path: string; body?: object }> = [
  { method: 'POST', path: '/message', body: { host: 'app.test', target: 'all', data: 'pwned' } },
  { method: 'POST', path: '/disconnect', body: { host: 'app.test', target: 'all' } },
  { method: 'POST', path: '/subscribe', body: { host: 'app.test', target: 'all', channel: 'evil' } },
  { method: 'POST', path: '/unsubscribe', body: { host: 'app.test', target: 'all', channel: 'evil' } },
  { method: 'POST', path: '/dispatch', body: { app: APP, target: 'jobs::echo', args: ['x'] } },
  { method: 'POST', path: '/reload' },
  { method: 'GET', path: '/presence?host=app.test&channel=room:1' },
  { method: 'GET', path: '/history?host=app.test&channel=room:1' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/dashboard' },
  { method: 'GET', path: '/dashboard/data' },
];

describe(`bridge against hostile web pages on ${TARGET}`, { skip: targetAvailable() }, () => {
  let server: Started;
  let victim: Client;
  before(async () => {
    server = await startServer({ env: { WSGATE_SECRET: SECRET }, config: { hosts: { 'app.test': { app: APP, channels: { 'room:*': { history: { size: 10, ttl: 60 } } } } } } });
    victim = await connect(server.port, { host: 'app.test', token: 'victim' });
  });
  after(async () => {
    victim?.close();
    await server?.stop();
  });

  const send = (route: (typeof ROUTES)[number], headers: string[]) => {
    const body = route.body ? JSON.stringify(route.body) : '';
    // A no-cors fetch posts as text/plain: no preflight, so the request itself must be refused.
    const type = route.body ? ['Content-Type: text/plain;charset=UTF-8'] : [];
    return rawRequest(server.port, [`${route.method} ${route.path} HTTP/1.1`, ...headers, ...type], body);
  };

  const attacks: Array<[string, (port: number) => string[]]> = [
    ['a cross-site page (Origin)', (port) => [`Host: 127.0.0.1:${port}`, 'Origin: https://evil.example', 'Sec-Fetch-Site: cross-site', 'Sec-Fetch-Mode: no-cors']],
    ['a cross-site page (Origin only, an older browser)', (port) => [`Host: 127.0.0.1:${port}`, 'Origin: https://evil.example']],
    ['a sandboxed page (Origin: null)', (port) => [`Host: 127.0.0.1:${port}`, 'Origin: null']],
    ['another local port (same-site)', (port) => [`Host: 127.0.0.1:${port}`, `Origin: http://127.0.0.1:${port + 1}`, 'Sec-Fetch-Site: same-site']],
    ['a cross-site GET without Origin (Sec-Fetch-Site only)', (port) => [`Host: 127.0.0.1:${port}`, 'Sec-Fetch-Site: cross-site']],
    ['DNS rebinding (a foreign Host, same-origin to itself)', (port) => [`Host: attacker.example:${port}`, 'Sec-Fetch-Site: same-origin']],
    ['DNS rebinding (a foreign Host, no browser headers)', (port) => [`Host: rebind.attacker.example:${port}`]],
    ['a Host with userinfo', (port) => [`Host: attacker.example@127.0.0.1:${port}`]],
    ['an empty X-Forwarded-For (a proxy)', (port) => [`Host: 127.0.0.1:${port}`, 'X-Forwarded-For:']],
  ];

  for (const [name, headers] of attacks) {
    it(`refuses ${name} on every bridge route, and nothing happens`, async () => {
      for (const route of ROUTES) {
        const answer = await send(route, headers(server.port));
        // 401 from the trust check; a Host no client sends may already be a 400 from the runtime's HTTP parser.
        assert.ok(answer.status === 401 || (name.includes('userinfo') && answer.status === 400), `${route.method} ${route.path}: ${answer.status} ${answer.body}`);
        assert.doesNotMatch(answer.body, /pwned|"sent"|"members"|publications|wsgate_/, `${route.path} leaked`);
      }
      // /health answers anyone that it is up, and nothing more.
      const health = await rawRequest(server.port, ['GET /health HTTP/1.1', ...headers(server.port)]);
      if (health.status === 200) assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
      else assert.equal(health.status, 400);
    });
  }

  it('left the victim untouched: not cast to, not closed, not subscribed', async () => {
    // A trusted cast after all the attacks: the first frame the victim gets is this one.
    const answer = await rawRequest(server.port, [`POST /message HTTP/1.1`, `Host: 127.0.0.1:${server.port}`, 'Content-Type: application/json'], JSON.stringify({ host: 'app.test', target: 'all', data: 'after' }));
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).sent, 1);
    assert.equal(await victim.next(), '"after"');
    const presence = await rawRequest(server.port, ['GET /presence?host=app.test&channel=evil HTTP/1.1', `Host: localhost:${server.port}`]);
    assert.equal(JSON.parse(presence.body).sockets, 0);
  });

  it("keeps Phlo's wsCast() request working byte for byte (curl, JSON, no Origin)", async () => {
    const body = JSON.stringify({ host: 'app.test', target: 'all', except: '', data: ['from phlo'] });
    const answer = await rawRequest(
      server.port,
      ['POST /message HTTP/1.1', `Host: 127.0.0.1:${server.port}`, 'Accept: */*', 'Accept-Encoding: deflate, gzip, br, zstd', 'Content-Type: application/json', `Content-Length: ${body.length}`],
      body,
    );
    assert.equal(answer.status, 200, answer.body);
    assert.equal(await victim.next(), '["from phlo"]');
  });

  it('keeps a form-encoded JSON body from PHP working (no JSON content type is demanded)', async () => {
    const answer = await rawRequest(server.port, ['POST /message HTTP/1.1', 'Host: localhost', 'Content-Type: application/x-www-form-urlencoded'], JSON.stringify({ host: 'app.test', data: 'form' }));
    assert.equal(answer.status, 200, answer.body);
    assert.equal(await victim.next(), '"form"');
  });

  it('serves the dashboard opened on http://127.0.0.1 (its own same-origin fetch) and [::1]', async () => {
    const page = await rawRequest(server.port, ['GET /dashboard HTTP/1.1', `Host: 127.0.0.1:${server.port}`, 'Sec-Fetch-Site: none', 'Sec-Fetch-Mode: navigate']);
    assert.equal(page.status, 200);
    const data = await rawRequest(server.port, ['GET /dashboard/data HTTP/1.1', `Host: 127.0.0.1:${server.port}`, 'Sec-Fetch-Site: same-origin', 'Sec-Fetch-Mode: cors']);
    assert.equal(data.status, 200, data.body);
    assert.equal(JSON.parse(data.body).sockets, 1);
    const v6 = await rawRequest(server.port, ['GET /dashboard/data HTTP/1.1', `Host: [::1]:${server.port}`, `Origin: http://[::1]:${server.port}`, 'Sec-Fetch-Site: same-origin']);
    assert.equal(v6.status, 200, v6.body);
  });

  it('still lets any caller in with the bearer secret, cross-site or not', async () => {
    const answer = await rawRequest(
      server.port,
      ['POST /message HTTP/1.1', 'Host: attacker.example', 'Origin: https://evil.example', `Authorization: Bearer ${SECRET}`, 'Content-Type: application/json'],
      JSON.stringify({ host: 'app.test', data: 'with secret' }),
    );
    assert.equal(answer.status, 200, answer.body);
    assert.equal(await victim.next(), '"with secret"');
  });

  it('logs why a caller was refused, one line per request', async () => {
    await server.waitForLog(/bridge refused .*reason="a cross-origin request from a web page/);
    await server.waitForLog(/bridge refused .*reason="Host is not a loopback name/);
    await server.waitForLog(/bridge refused .*reason="came through a proxy/);
  });
});
