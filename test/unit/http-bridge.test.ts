/**
 * The PHP-facing bridge in-process: `app.request()` against a fake gateway
 * and dispatcher, no server and no PHP. The contract suites prove the same
 * routes on real servers; these pin each answer, fast.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Context } from 'hono';
import { createBridgeApp } from '../../src/http/bridge-app.ts';
import { bearerMatches, loopbackTrust } from '../../src/http/access.ts';
import type { Trust } from '../../src/http/access.ts';
import type { BridgeGateway } from '../../src/http/bridge/gateway.ts';
import type { OpsGateway } from '../../src/http/ops.ts';
import type { BridgeDispatcher, BridgeOptions } from '../../src/http/options.ts';
import type { DispatchJob } from '../../src/hooks/dispatch.ts';
import type { HookOutcome } from '../../src/hooks/runners/runner.ts';
import type { GoneSignal } from '../../src/runtime/types.ts';
import { createLogger } from '../../src/ops/log.ts';

const SECRET = 'bridge-secret';
const LOCAL = { peer: '127.0.0.1' };
const REMOTE = { peer: '203.0.113.9' };
const SOCKET = '0123456789abcdef';

/** As start.ts decides it, with the peer address from the request's env instead of the runtime. */
function trusted(c: Context, allowBasic = false): Trust {
  if (bearerMatches(c.req.header('authorization'), SECRET, allowBasic)) return { ok: true };
  return loopbackTrust({ peer: (c.env as { peer?: string } | undefined)?.peer, header: (name) => c.req.header(name), scheme: 'http' }, []);
}

type Call = [string, ...unknown[]];

function setup(over: { dispatcher?: Partial<BridgeDispatcher>; gateway?: Partial<BridgeGateway> } = {}) {
  const calls: Call[] = [];
  const lines: string[] = [];
  const gateway: BridgeGateway & { maxBody: number } = {
    maxBody: 256,
    sendBuffer: 4 << 20,
    isConfigured: (host) => host === 'app.test',
    castEverywhere: async (...args) => (calls.push(['cast', ...args]), { value: 3 }),
    subscribeEverywhere: async (...args) => (calls.push(['subscribe', ...args]), { value: 2 }),
    disconnectEverywhere: async (...args) => (calls.push(['disconnect', ...args]), { value: 1 }),
    presenceEverywhere: async (...args) => (calls.push(['presence', ...args]), { value: { sockets: 1, tokens: { t: 1 }, members: [{ socket: SOCKET, token: 't' }] } }),
    history: (...args) => (calls.push(['history', ...args]), { top: { epoch: 'e1', offset: 7 }, recovered: true, publications: [{ offset: 6, frame: '{"a":1}' }, { offset: 7, frame: '"two"' }] }),
    ...over.gateway,
  };
  const dispatcher: BridgeDispatcher = {
    check: async (app) => (app.startsWith('/srv/') ? { ok: true, app: `${app}.real` } : { ok: false, reason: `app "${app}" is not configured` }),
    run: async (job, onLine, signal) => {
      calls.push(['run', job, signal]);
      onLine?.('first');
      return { ok: true, result: { done: job.target } };
    },
    refusal: () => undefined,
    ...over.dispatcher,
  };
  const reloads: Array<{ ok: true; hosts: string[] } | { ok: false; problems: string[] }> = [];
  const options: BridgeOptions = {
    trusted,
    dispatcher,
    log: createLogger((line) => lines.push(line), 'debug'),
    reload: async () => reloads.shift() ?? { ok: true, hosts: ['app.test'] },
  };
  // The ops half is not under test here; a bridge route that touched it would throw.
  const app = createBridgeApp(gateway as BridgeGateway & OpsGateway, options);
  const request = (path: string, init: RequestInit = {}, env: object = LOCAL) => app.request(path, init, env);
  const post = (path: string, body: unknown, headers: Record<string, string> = {}, env: object = LOCAL) =>
    request(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }, env);
  return { app, gateway, calls, lines, request, post, reloads };
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

async function refusedWith(response: Response, status: number, message: RegExp | string): Promise<void> {
  const body = await json(response);
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.status, 'error');
  if (typeof message === 'string') assert.equal(body.message, message);
  else assert.match(String(body.message), message);
}

const ROUTES: Array<[string, string, unknown?]> = [
  ['POST', '/message', { host: 'app.test', data: 1 }],
  ['POST', '/subscribe', { host: 'app.test', target: 'all', channel: 'room' }],
  ['POST', '/unsubscribe', { host: 'app.test', target: 'all', channel: 'room' }],
  ['GET', '/presence?host=app.test&channel=room'],
  ['GET', '/history?host=app.test&channel=room'],
  ['POST', '/disconnect', { host: 'app.test', target: 'all' }],
  ['POST', '/dispatch', { app: '/srv/app.php', target: 'tasks::run' }],
  ['POST', '/reload'],
];

describe('bridge access', () => {
  const BEARER_REFUSAL = 'this endpoint needs Authorization: Bearer <secret> when called from another machine, through a proxy, or from a web page';
  for (const [method, path, body] of ROUTES) {
    it(`refuses ${method} ${path.split('?')[0]} from another machine with 401, and lets it in with the bearer secret`, async () => {
      const t = setup();
      const init = (headers: Record<string, string>): RequestInit => ({ method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
      const refused = await t.request(path, init({}), REMOTE);
      assert.equal(refused.headers.get('www-authenticate'), 'Bearer');
      await refusedWith(refused, 401, BEARER_REFUSAL);
      assert.deepEqual(t.calls, [], 'nothing reached the gateway');
      assert.match(t.lines.join('\n'), new RegExp(`bridge refused.*path=${path.split('?')[0]}.*not on loopback and no valid bearer secret`));
      const allowed = await t.request(path, init({ authorization: `Bearer ${SECRET}` }), REMOTE);
      assert.equal(allowed.status, 200, await allowed.clone().text());
    });
  }

  it('never takes the secret as a Basic password on the bridge (a browser replays Basic on cross-site requests)', async () => {
    const t = setup();
    const basic = `Basic ${btoa(`any:${SECRET}`)}`;
    await refusedWith(await t.post('/message', { host: 'app.test' }, { authorization: basic }, REMOTE), 401, BEARER_REFUSAL);
    await refusedWith(await t.post('/message', { host: 'app.test' }, { authorization: 'Bearer wrong' }, REMOTE), 401, BEARER_REFUSAL);
    assert.deepEqual(t.calls, []);
  });

  it('trusts a local caller without the secret, but not one relayed by a proxy, a cross-site page or a rebound Host', async () => {
    const t = setup();
    assert.equal((await t.post('/message', { host: 'app.test' })).status, 200);
    const attacks: Array<[Record<string, string>, RegExp]> = [
      [{ 'x-forwarded-for': '' }, /came through a proxy/],
      [{ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, /cross-site request from a web page/],
      [{ origin: 'https://evil.example' }, /cross-origin request/],
      [{ host: 'attacker.example' }, /Host is not a loopback name/],
    ];
    for (const [headers, reason] of attacks) {
      const response = await t.post('/message', { host: 'app.test' }, headers);
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.match(t.lines.at(-1)!, reason);
    }
    assert.equal(t.calls.length, 1, 'only the first cast went through');
  });

  it('reads no body of a caller it refuses', async () => {
    const t = setup();
    let pulled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled = true;
        controller.enqueue(new TextEncoder().encode('{"host":"app.test"}'));
        controller.close();
      },
    }, { highWaterMark: 0 });
    const response = await t.request('/message', { method: 'POST', body, duplex: 'half' } as RequestInit, REMOTE);
    assert.equal(response.status, 401);
    assert.equal(pulled, false);
  });

  it('guards its own paths only: others are 404 for anyone, not 401', async () => {
    const t = setup();
    for (const path of ['/messages', '/message/', '/dispatcher', '/nope', '/reload/x']) {
      await refusedWith(await t.request(path, {}, REMOTE), 404, 'not found');
    }
  });
});

describe('POST /message', () => {
  it('casts the data to what the target picks and answers how many got it', async () => {
    const t = setup();
    const response = await t.post('/message', { host: 'app.test', target: `token:abc`, except: SOCKET, data: { n: 1 } });
    assert.deepEqual(await json(response), { status: 'ok', host: 'app.test', sent: 3 });
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.deepEqual(t.calls, [['cast', 'app.test', { kind: 'token', token: 'abc' }, { n: 1 }, SOCKET]]);
  });

  it('sends {} for a missing data and every given value as it came', async () => {
    const t = setup();
    for (const data of [undefined, null, 0, false, '', [1]]) await t.post('/message', { host: 'app.test', data });
    assert.deepEqual(
      t.calls.map((call) => call[3]),
      [{}, null, 0, false, '', [1]],
    );
    assert.deepEqual(t.calls[0]!.slice(0, 3), ['cast', 'app.test', { kind: 'all' }]);
  });

  it('takes the host from X-Phlo-Host, normalised, when the body names none', async () => {
    const t = setup();
    const response = await t.post('/message', { data: 1 }, { 'x-phlo-host': 'HTTPS://App.Test/path' });
    assert.equal((await json(response)).host, 'app.test');
  });

  it('says which nodes answered in a cluster', async () => {
    const nodes = { answered: ['a', 'b'], missing: ['c'] };
    const t = setup({ gateway: { castEverywhere: async () => ({ value: 5, nodes }) } });
    assert.deepEqual(await json(await t.post('/message', { host: 'app.test' })), { status: 'ok', host: 'app.test', sent: 5, nodes });
  });

  it('takes a JSON body whatever its Content-Type (PHP posts JSON as a form body)', async () => {
    const t = setup();
    for (const type of ['application/x-www-form-urlencoded', 'text/plain;charset=UTF-8', 'multipart/form-data; boundary=x']) {
      const response = await t.post('/message', { host: 'app.test', data: type }, { 'content-type': type });
      assert.equal(response.status, 200, type);
    }
    const bare = await t.request('/message', { method: 'POST', body: JSON.stringify({ host: 'app.test', data: 'bare' }) });
    assert.equal(bare.status, 200);
    assert.deepEqual(
      t.calls.map((call) => call[3]),
      ['application/x-www-form-urlencoded', 'text/plain;charset=UTF-8', 'multipart/form-data; boundary=x', 'bare'],
    );
  });

  it('answers 400 with the reason for each bad body, and casts nothing', async () => {
    const t = setup();
    const cases: Array<[unknown, RegExp | string]> = [
      ['{"host": ', /^body is not valid JSON: /],
      ['', 'body is empty: expected a JSON object'],
      ['  \n', 'body is empty: expected a JSON object'],
      ['[1,2]', 'body must be a JSON object like {"host": "...", "target": "all", "data": {...}}'],
      ['"text"', /must be a JSON object/],
      ['null', /must be a JSON object/],
      [{ data: 1 }, 'host is required: give "host" in the body or the X-Phlo-Host header'],
      [{ host: '', data: 1 }, /host is required/],
      [{ host: 'nope.example' }, 'host "nope.example" is not configured'],
      [{ host: 7 }, 'expected host to be a string'],
      [{ host: 'app.test', target: 'bogus' }, /^unknown target "bogus"/],
      [{ host: 'app.test', target: 42 }, 'target must be a string or a list of socket ids'],
      [{ host: 'app.test', target: ['zz'] }, 'target[0] must be a socket id (16 lower-case hex characters)'],
      [{ host: 'app.test', target: 'token:' }, 'target "token:" needs a token'],
      [{ host: 'app.test', except: 5 }, 'except must be a socket id, "" or null'],
      // The host is checked before the target, and the target before except.
      [{ host: 'nope.example', target: 'bogus', except: 5 }, /not configured/],
      [{ host: 'app.test', target: 'bogus', except: 5 }, /unknown target/],
    ];
    for (const [body, message] of cases) await refusedWith(await t.post('/message', body), 400, message);
    assert.deepEqual(t.calls, []);
  });

  it('answers 400 for data that parses but could never be written out to the sockets (nested too deep)', async () => {
    const t = setup();
    t.gateway.maxBody = 1 << 20;
    const deep = `{"host": "app.test", "data": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    await refusedWith(await t.post('/message', deep), 400, 'body is JSON nested more than 256 levels deep');
    assert.deepEqual(t.calls, []);
  });

  it('refuses a body over the limit with 413, whether it says its length or not', async () => {
    const t = setup();
    const big = JSON.stringify({ host: 'app.test', data: 'x'.repeat(300) });
    const declared = await t.post('/message', big, { 'content-length': String(big.length) });
    await refusedWith(declared, 413, 'body is larger than the limit of 256 bytes');
    let sent = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        // 100 bytes a chunk, without end: the third one is over the limit.
        pull(controller) {
          sent++;
          controller.enqueue(new TextEncoder().encode(sent === 1 ? `{"host":"app.test","data":"${'x'.repeat(73)}` : 'x'.repeat(100)));
        },
      },
      { highWaterMark: 0 },
    );
    const streamed = await t.request('/message', { method: 'POST', body, duplex: 'half' } as RequestInit);
    await refusedWith(streamed, 413, 'body is larger than the limit of 256 bytes');
    assert.equal(sent, 3, 'read up to the limit and no further');
    assert.deepEqual(t.calls, []);
  });

  it('takes a body of exactly the limit, and reads the limit anew on each request (a reload may change it)', async () => {
    const t = setup();
    const head = JSON.stringify({ host: 'app.test', data: '' });
    const exact = JSON.stringify({ host: 'app.test', data: 'y'.repeat(256 - head.length) });
    assert.equal(new TextEncoder().encode(exact).byteLength, 256);
    assert.equal((await t.post('/message', exact)).status, 200);
    t.gateway.maxBody = 255;
    await refusedWith(await t.post('/message', exact), 413, 'body is larger than the limit of 255 bytes');
    t.gateway.maxBody = 1000;
    assert.equal((await t.post('/message', JSON.stringify({ host: 'app.test', data: 'z'.repeat(900) }))).status, 200);
  });

  it('counts the limit in bytes, not characters', async () => {
    const t = setup();
    const wide = JSON.stringify({ host: 'app.test', data: 'é'.repeat(120) });
    assert.ok(wide.length <= 256);
    await refusedWith(await t.post('/message', wide), 413, /larger than the limit of 256 bytes/);
  });

  it('answers 405 for another method, and only /message and /dispatch do', async () => {
    const t = setup();
    for (const method of ['GET', 'PUT', 'DELETE']) await refusedWith(await t.request('/message', { method }), 405, 'use POST for /message');
    await refusedWith(await t.request('/dispatch'), 405, 'use POST for /dispatch');
    await refusedWith(await t.request('/subscribe'), 404, 'not found');
    await refusedWith(await t.request('/presence', { method: 'POST' }), 404, 'not found');
  });

  it('answers 500 "internal error" and logs it when the gateway throws', async () => {
    const t = setup({
      gateway: {
        castEverywhere: async () => {
          throw new Error('broker gone');
        },
      },
    });
    await refusedWith(await t.post('/message', { host: 'app.test' }), 500, 'internal error');
    assert.match(t.lines.join('\n'), /request failed.*path=\/message.*broker gone/);
  });
});

describe('POST /subscribe, /unsubscribe', () => {
  it('joins and leaves the channel for every socket the target picks', async () => {
    const t = setup();
    assert.deepEqual(await json(await t.post('/subscribe', { host: 'app.test', target: 'token:t1', channel: 'room:1' })), { status: 'ok', host: 'app.test', channel: 'room:1', joined: 2 });
    assert.deepEqual(await json(await t.post('/unsubscribe', { host: 'app.test', target: [SOCKET], channel: 'room:1' })), { status: 'ok', host: 'app.test', channel: 'room:1', left: 2 });
    assert.deepEqual(t.calls, [
      ['subscribe', 'app.test', { kind: 'token', token: 't1' }, 'room:1', true],
      ['subscribe', 'app.test', { kind: 'sockets', ids: [SOCKET] }, 'room:1', false],
    ]);
  });

  it('answers 400 for a bad body, in the order: shape, host, channel, target', async () => {
    const t = setup();
    const cases: Array<[unknown, RegExp | string]> = [
      ['[]', 'body must be a JSON object like {"host": "...", "target": "token:<t>", "channel": "room:1"}'],
      [{ host: 'app.test' }, 'channel is required'],
      [{ host: 'app.test', channel: 5 }, 'channel must be a string'],
      [{ channel: 'room' }, /host is required/],
      [{ host: 'nope.test', channel: '' }, 'host "nope.test" is not configured'],
      [{ host: 'app.test', channel: '' }, 'a channel name must not be empty'],
      [{ host: 'app.test', channel: 'a\u0001b' }, 'a channel name must not contain control characters'],
      [{ host: 'app.test', channel: 'x'.repeat(201) }, 'a channel name has at most 200 characters'],
      [{ host: 'app.test', channel: '', target: 'bogus' }, 'a channel name must not be empty'],
      [{ host: 'app.test', channel: 'room', target: 'bogus' }, /unknown target/],
    ];
    for (const path of ['/subscribe', '/unsubscribe']) {
      for (const [body, message] of cases) await refusedWith(await t.post(path, body), 400, message);
    }
    assert.deepEqual(t.calls, []);
  });

  it('caps the body', async () => {
    const t = setup();
    await refusedWith(await t.post('/subscribe', { host: 'app.test', channel: 'c'.repeat(300) }), 413, /limit of 256 bytes/);
  });
});

describe('POST /disconnect', () => {
  it('closes what the target picks, with 1000 and a default reason unless given', async () => {
    const t = setup();
    assert.deepEqual(await json(await t.post('/disconnect', { host: 'app.test', target: 'all' })), { status: 'ok', host: 'app.test', closed: 1 });
    await t.post('/disconnect', { host: 'app.test', target: 'token:t', code: 4001, reason: 'banned' });
    await t.post('/disconnect', { host: 'app.test', target: 'token:t', code: 1013 });
    assert.deepEqual(t.calls, [
      ['disconnect', 'app.test', { kind: 'all' }, 1000, 'disconnected by the app'],
      ['disconnect', 'app.test', { kind: 'token', token: 't' }, 4001, 'banned'],
      ['disconnect', 'app.test', { kind: 'token', token: 't' }, 1013, 'disconnected by the app'],
    ]);
  });

  it('answers 400 for a bad body; a missing target is not "all"', async () => {
    const t = setup();
    const cases: Array<[unknown, string]> = [
      [{ host: 'app.test' }, 'target is required: "all" closes every socket of the host, so say it'],
      [{ host: 'app.test', target: 'all', code: 1006 }, 'code must be 1000, 1001, 1008, 1011, 1012, 1013 or 3000-4999'],
      [{ host: 'app.test', target: 'all', code: 5000 }, 'code must be 1000, 1001, 1008, 1011, 1012, 1013 or 3000-4999'],
      [{ host: 'app.test', target: 'all', code: 4000.5 }, 'code must be 1000, 1001, 1008, 1011, 1012, 1013 or 3000-4999'],
      [{ host: 'app.test', target: 'all', code: '4000' }, 'code must be a number'],
      [{ host: 'app.test', target: 'all', reason: 7 }, 'reason must be a string'],
      [{ host: 'app.test', target: 'all', reason: 'é'.repeat(62) }, 'reason must be at most 123 bytes'],
      [{ target: 'all' }, 'host is required: give "host" in the body or the X-Phlo-Host header'],
      [{ host: 'app.test', target: 'token:not:' }, 'target "token:not:" needs a token'],
    ];
    for (const [body, message] of cases) await refusedWith(await t.post('/disconnect', body), 400, message);
    assert.deepEqual(t.calls, []);
    assert.equal((await t.post('/disconnect', { host: 'app.test', target: 'all', reason: 'é'.repeat(61) })).status, 200, '122 bytes fit');
  });
});

describe('GET /presence', () => {
  it("answers the channel's sockets, tokens and members", async () => {
    const t = setup();
    const body = await json(await t.request('/presence?host=app.test&channel=room%3A1'));
    assert.deepEqual(body, { status: 'ok', host: 'app.test', channel: 'room:1', sockets: 1, tokens: { t: 1 }, members: [{ socket: SOCKET, token: 't' }] });
    assert.deepEqual(t.calls, [['presence', 'app.test', 'room:1']]);
  });

  it('takes the first of a repeated parameter, and the host from X-Phlo-Host', async () => {
    const t = setup();
    await t.request('/presence?channel=a&channel=b', { headers: { 'x-phlo-host': 'app.test' } });
    assert.deepEqual(t.calls, [['presence', 'app.test', 'a']]);
  });

  it('answers 400 for a missing host before a missing channel', async () => {
    const t = setup();
    await refusedWith(await t.request('/presence'), 400, 'host is required: give "host" in the body or the X-Phlo-Host header');
    await refusedWith(await t.request('/presence?host=nope.test'), 400, 'host "nope.test" is not configured');
    await refusedWith(await t.request('/presence?host=app.test'), 400, 'a channel name must not be empty (give ?channel=)');
    await refusedWith(await t.request('/presence?host=app.test&channel=a%01'), 400, 'a channel name must not contain control characters (give ?channel=)');
    assert.deepEqual(t.calls, []);
  });
});

describe('GET /history', () => {
  it('answers the publications around the frames as they were cast', async () => {
    const t = setup();
    const response = await t.request('/history?host=app.test&channel=room');
    assert.equal(response.headers.get('content-type'), 'application/json');
    const text = await response.text();
    assert.equal(text, '{"status":"ok","host":"app.test","channel":"room","epoch":"e1","offset":7,"publications":[{"offset":6,"data":{"a":1}},{"offset":7,"data":"two"}]}');
    assert.deepEqual(t.calls, [['history', 'app.test', { channel: 'room' }, undefined]]);
  });

  it('says whether it recovered when asked since a position, and reads a token stream', async () => {
    const t = setup();
    const body = await json(await t.request('/history?host=app.test&token=tk&since=5&epoch=e1'));
    assert.equal(body.recovered, true);
    assert.equal('channel' in body, false);
    assert.deepEqual(t.calls, [['history', 'app.test', { token: 'tk' }, { epoch: 'e1', offset: 5 }]]);
  });

  it('answers 400 for each bad query, first problem first', async () => {
    const t = setup();
    const EITHER = 'give ?channel=<name> (or @all for host-wide casts), or ?token=<t> for casts to a token';
    const cases: Array<[string, string]> = [
      ['?channel=room', 'host is required: give "host" in the body or the X-Phlo-Host header'],
      ['?host=app.test', EITHER],
      ['?host=app.test&channel=a&token=b', EITHER],
      ['?host=app.test&channel=', 'a channel name must not be empty'],
      ['?host=app.test&channel=&since=x', 'a channel name must not be empty'],
      ['?host=app.test&channel=a&since=-1&epoch=e', 'since must be an offset: a whole number of 0 or more'],
      ['?host=app.test&channel=a&since=1.5&epoch=e', 'since must be an offset: a whole number of 0 or more'],
      ['?host=app.test&channel=a&since=99999999999999999999&epoch=e', 'since must be an offset: a whole number of 0 or more'],
      ['?host=app.test&channel=a&since=3', 'since needs the epoch it belongs to: give &epoch='],
      ['?host=app.test&channel=a&since=3&epoch=', 'since needs the epoch it belongs to: give &epoch='],
    ];
    for (const [query, message] of cases) await refusedWith(await t.request(`/history${query}`), 400, message);
    assert.deepEqual(t.calls, []);
  });

  it('says how to keep history when the stream keeps none', async () => {
    const t = setup({ gateway: { history: () => undefined } });
    await refusedWith(await t.request('/history?host=app.test&channel=room'), 400, 'channel "room" keeps no history: give its pattern "history" in "channels" (or the host "history" for @all)');
    await refusedWith(await t.request('/history?host=app.test&token=x'), 400, 'casts to tokens keep no history on this host: give the host "history"');
  });
});

describe('POST /dispatch', () => {
  it('runs the job on the checked app and answers its result', async () => {
    const t = setup();
    const body = await json(await t.post('/dispatch', { app: '/srv/app.php', target: 'tasks::run', args: [1, 2] }));
    assert.deepEqual(body, { status: 'ok', result: { done: 'tasks::run' } });
    assert.deepEqual(t.calls, [['run', { app: '/srv/app.php.real', target: 'tasks::run', args: [1, 2], build: false }, undefined]]);
  });

  it('wraps args that are not a list, takes none, and passes build', async () => {
    const t = setup();
    await t.post('/dispatch', { app: '/srv/a', target: 'x', args: { k: 1 } });
    await t.post('/dispatch', { app: '/srv/a', target: 'x', build: true });
    await t.post('/dispatch', { app: '/srv/a', target: 'x', args: null });
    assert.deepEqual(
      t.calls.map((call) => [(call[1] as DispatchJob).args, (call[1] as DispatchJob).build]),
      [[[{ k: 1 }], false], [[], true], [[null], false]],
    );
  });

  it('answers null for a job without a result, 500 for a failure and 503 for a busy pool, logged', async () => {
    const outcomes: HookOutcome[] = [{ ok: true, result: undefined }, { ok: false, error: 'exited with code 5', stderr: 'boom' }, { ok: false, error: 'the pool is full', busy: true }];
    const t = setup({ dispatcher: { run: async () => outcomes.shift()! } });
    assert.deepEqual(await json(await t.post('/dispatch', { app: '/srv/a', target: 'x' })), { status: 'ok', result: null });
    await refusedWith(await t.post('/dispatch', { app: '/srv/a', target: 'x' }), 500, 'exited with code 5');
    await refusedWith(await t.post('/dispatch', { app: '/srv/a', target: 'x' }), 503, 'the pool is full');
    assert.match(t.lines.join('\n'), /dispatch failed.*app=\/srv\/a\.real.*target=x.*error="exited with code 5".*stderr=boom/);
  });

  it('answers 400 for an app it may not run, and runs nothing', async () => {
    const t = setup();
    await refusedWith(await t.post('/dispatch', { app: '/etc/app.php', target: 'x' }), 400, 'app "/etc/app.php" is not configured');
    assert.deepEqual(t.calls, []);
  });

  it('answers 202 at once with async, or 503 when the job could not wait', async () => {
    let release!: () => void;
    let busy: string | undefined;
    const t = setup({
      dispatcher: {
        refusal: () => busy,
        run: (job) =>
          new Promise((resolve) => {
            t.calls.push(['run', job]);
            release = () => resolve({ ok: false, error: 'late failure' });
          }),
      },
    });
    const queued = await t.post('/dispatch', { app: '/srv/a', target: 'x', async: true });
    assert.equal(queued.status, 202);
    assert.deepEqual(await json(queued), { status: 'ok', queued: true });
    assert.equal(t.calls.length, 1, 'the job started');
    release();
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.match(t.lines.join('\n'), /dispatch failed.*late failure/);
    busy = 'the queue of this cap is full';
    await refusedWith(await t.post('/dispatch', { app: '/srv/a', target: 'x', async: true }), 503, 'the queue of this cap is full');
    assert.equal(t.calls.length, 1, 'a refused job does not start');
    assert.match(t.lines.join('\n'), /dispatch refused.*queue of this cap is full/);
  });

  it('streams each line, then done, as NDJSON', async () => {
    const t = setup({
      dispatcher: {
        run: async (_job, onLine) => {
          for (const line of ['one', 'two', '{"three":3}']) {
            onLine?.(line);
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
          return { ok: true, result: [1] };
        },
      },
    });
    const response = await t.post('/dispatch', { app: '/srv/a', target: 'x', stream: true });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/x-ndjson');
    const text = await response.text();
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(
      text.trim().split('\n').map((line) => JSON.parse(line)),
      [{ t: 'line', data: 'one' }, { t: 'line', data: 'two' }, { t: 'line', data: '{"three":3}' }, { t: 'done', result: [1] }],
    );
  });

  it('ends a failed stream with an error frame, and logs the failure', async () => {
    const t = setup({ dispatcher: { run: async (_job, onLine) => (onLine?.('partial'), { ok: false, error: 'exited with code 5', stderr: 'trace' }) } });
    const text = await (await t.post('/dispatch', { app: '/srv/a', target: 'x', stream: true })).text();
    assert.deepEqual(
      text.trim().split('\n').map((line) => JSON.parse(line)),
      [{ t: 'line', data: 'partial' }, { t: 'error', message: 'exited with code 5' }],
    );
    assert.match(t.lines.join('\n'), /dispatch failed.*stderr=trace/);
  });

  it('lets a streamed job run to its end when the caller goes away, dropping what it writes after', async () => {
    let emit!: (line: string) => void;
    let finish!: () => void;
    let ended = false;
    let signalGiven: GoneSignal | undefined;
    const t = setup({
      dispatcher: {
        run: (_job, onLine, signal) => {
          signalGiven = signal;
          emit = (line) => onLine?.(line);
          return new Promise((resolve) => {
            finish = () => {
              ended = true;
              resolve({ ok: true, result: 'all done' });
            };
          });
        },
      },
    });
    const response = await t.post('/dispatch', { app: '/srv/a', target: 'x', stream: true });
    const reader = response.body!.getReader();
    emit('before');
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), '{"t":"line","data":"before"}\n');
    await reader.cancel();
    assert.equal(signalGiven, undefined, 'the job is not tied to the caller');
    emit('after');
    finish();
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(ended, true);
    assert.doesNotMatch(t.lines.join('\n'), /request failed|dispatch failed/);
  });

  it('answers 400 for a bad body', async () => {
    const t = setup();
    const cases: Array<[unknown, string]> = [
      ['[1]', 'body must be a JSON object like {"app": "/srv/app/www/app.php", "target": "tasks::run", "args": []}'],
      [{ target: 'x' }, 'app is required'],
      [{ app: 5, target: 'x' }, 'app must be the path of an app.php'],
      [{ app: '/srv/a' }, 'target is required'],
      [{ app: '/srv/a', target: '' }, 'target must not be empty'],
      [{ app: '/srv/a', target: 3 }, 'target must be a string such as "tasks::run"'],
      [{ app: '/srv/a', target: 'x', stream: 'yes' }, 'stream must be true or false'],
      [{ app: '/srv/a', target: 'x', async: 1 }, 'async must be true or false'],
      [{ app: '/srv/a', target: 'x', build: null }, 'build must be true (one-shot) or false (resident pool)'],
    ];
    for (const [body, message] of cases) await refusedWith(await t.post('/dispatch', body), 400, message);
    await refusedWith(await t.post('/dispatch', { app: '/srv/a', target: 'x', args: 'y'.repeat(300) }), 413, /limit of 256 bytes/);
    assert.deepEqual(t.calls, []);
  });
});

describe('POST /reload', () => {
  it('answers the hosts, or 400 with the problems and nothing changed', async () => {
    const t = setup();
    t.reloads.push({ ok: true, hosts: ['a.test', 'b.test'] }, { ok: false, problems: ['hosts[0]: bad'] });
    assert.deepEqual(await json(await t.request('/reload', { method: 'POST' })), { status: 'ok', hosts: ['a.test', 'b.test'] });
    const failed = await t.request('/reload', { method: 'POST' });
    assert.equal(failed.status, 400);
    assert.deepEqual(await json(failed), { status: 'error', message: 'the config has errors; nothing changed', problems: ['hosts[0]: bad'] });
  });
});
