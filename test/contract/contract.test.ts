/**
 * The phloWS / Phlo Realtime contract (CONTRACT.md sections 2, 3 and 5),
 * black-box: the real server (WSGATE_TARGET), real ws clients, real php.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { eventsFor, readEvents, waitFor } from '../support/events.ts';
import { APP, FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const dir = tempDir();
const MAX_BODY = 64 * 1024;

async function post(server: Started, path: string, body: string | object, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function whoami(client: Client): Promise<{ host: string; token: string; socket: string }> {
  client.send(JSON.stringify({ cmd: 'whoami' }));
  return JSON.parse(await client.next());
}

type Mode = 'oneshot' | 'resident';

/** A PHP app host in the mode under test. */
const phpHost = (mode: Mode, extra: Record<string, unknown> = {}) => ({ app: APP, build: mode === 'oneshot', ...extra });

// The describes below run at once, each on a server of its own (much of the one-shot run is waiting for PHP processes);
// the cases within one run one at a time.
describe(`contract on ${TARGET}`, { skip, concurrency: true }, () => {
  for (const mode of ['oneshot', 'resident'] as const) describe(`contract on ${TARGET}, ${mode} hooks`, { concurrency: 1 }, () => {
    const EVENTS = join(dir, `events-${mode}.ndjson`);
    let server: Started;
    const open: Client[] = [];
    const client = async (options: Parameters<typeof connect>[1]) => {
      const c = await connect(server.port, options);
      open.push(c);
      return c;
    };

    before(async () => {
      server = await startServer({
        env: { WSGATE_TEST_EVENTS: EVENTS },
        config: {
          maxBody: MAX_BODY,
          // Sockets run in parallel only when there are workers for them.
          pool: { cap: 4 },
          hosts: {
            'app.test': mode === 'oneshot' ? APP : phpHost(mode),
            'demo.test': phpHost(mode),
            '*.tenant.test': phpHost(mode),
            'tool.test': { command: ['node', join(FIXTURES, 'hooks.mjs')] },
            'mod.test': { module: join(FIXTURES, 'hooks.ts') },
            // Short, to wait less for the hook that hangs; but its auth, connect and the receive after it must fit too,
            // and a PHP hook took 275 ms on a busy 2-core machine: 2 s leaves room for one three times slower.
            'slow.test': phpHost(mode, { timeout: 2 }),
          },
        },
      });
    });

    after(async () => {
      for (const c of open) c.ws.terminate();
      await server?.stop();
    });

    describe('upgrade and auth', () => {
      it('refuses an upgrade without a token cookie with 401, running no hook', async () => {
        assert.equal(await upgradeStatus(server.port, { host: 'nocookie.tenant.test' }), 401);
        assert.equal(await upgradeStatus(server.port, { host: 'nocookie.tenant.test', headers: { cookie: 'token=' } }), 401);
        assert.equal(readEvents(EVENTS).filter((e) => e.argv[1] === 'nocookie.tenant.test').length, 0);
        await server.waitForLog(/upgrade refused host=nocookie\.tenant\.test reason="no token cookie"/);
      });

      it('refuses with 401 when auth prints false or "false"', async () => {
        assert.equal(await upgradeStatus(server.port, { host: 'app.test', token: 'refuse' }), 401);
        assert.equal(await upgradeStatus(server.port, { host: 'app.test', token: 'refuse-quoted' }), 401);
        const auths = readEvents(EVENTS).filter((e) => e.hook === 'auth' && e.at === 'end' && e.argv[2]?.startsWith('refuse'));
        assert.equal(auths.length, 2, 'the auth hook ran for both');
      });

      it('refuses with 401 when auth fails, and logs host, hook and stderr', async () => {
        assert.equal(await upgradeStatus(server.port, { host: 'app.test', token: 'auth-fails' }), 401);
        const line = await server.waitForLog(/hook failed host=app\.test .*hook=auth/);
        assert.match(line, /auth exploded for app\.test/);
        assert.doesNotMatch(line, /auth-fails/, 'the token is not in the log');
      });

      it('refuses an unknown host with 401', async () => {
        assert.equal(await upgradeStatus(server.port, { host: 'unknown.example', token: 'x' }), 401);
        assert.equal(await upgradeStatus(server.port, { host: 'tenant.test', token: 'x' }), 401, '*.tenant.test does not match the bare suffix');
      });

      it('runs every hook with the contract argv and one 16-hex socket id, in order', async () => {
        const c = await client({ host: 'app.test', token: 'argv token' });
        const message = 'hello "world" with spaces';
        c.send(message);
        assert.equal(await c.next(), message);
        const { socket } = await whoami(c);
        assert.match(socket, /^[0-9a-f]{16}$/);
        c.close();
        await c.closed;
        const events = await waitFor('the close hook', () => {
          const all = eventsFor(EVENTS, socket);
          return all.some((e) => e.hook === 'close' && e.at === 'end') && all;
        });
        const argvOf = (hook: string) => events.find((e) => e.hook === hook && e.at === 'start')!.argv;
        assert.deepEqual(argvOf('auth'), ['websocket::auth', 'app.test', 'argv token', socket]);
        assert.deepEqual(argvOf('connect'), ['websocket::connect', 'app.test', 'argv token', socket]);
        assert.deepEqual(argvOf('receive'), ['websocket::receive', 'app.test', 'argv token', socket, message]);
        assert.deepEqual(argvOf('close'), ['websocket::close', 'app.test', 'argv token', socket]);
        assert.deepEqual(
          events.map((e) => `${e.at} ${e.hook}`),
          ['start auth', 'end auth', 'start connect', 'end connect', 'start receive', 'end receive', 'start receive', 'end receive', 'start close', 'end close'],
        );
      });

      it('closes the socket when connect prints false, and still runs close', async () => {
        const c = await client({ host: 'app.test', token: 'no-connect' });
        const closed = await c.closed;
        assert.equal(closed.code, 1008);
        await waitFor('the close hook of the refused socket', () =>
          readEvents(EVENTS).some((e) => e.hook === 'close' && e.at === 'end' && e.argv[2] === 'no-connect'),
        );
      });
    });

    describe('receive', () => {
      it('streams each non-empty line as soon as the hook prints it', async () => {
        const c = await client({ host: 'app.test', token: 'stream' });
        const marker = join(dir, `${mode}-stream-marker`);
        c.send(JSON.stringify({ cmd: 'stream', marker }));
        assert.equal(await c.next(), 'first');
        writeFileSync(marker, '');
        assert.equal(await c.next(), 'second waited=yes', 'the first line arrived while the hook was still running');
      });

      it('delivers 40 quick messages to receive one at a time, in the order sent', async () => {
        const c = await client({ host: 'app.test', token: 'order' });
        const { socket } = await whoami(c);
        const count = 40;
        for (let seq = 0; seq < count; seq++) c.send(JSON.stringify({ cmd: 'seq', seq, sleep: (seq * 7919) % 30 }));
        const replies: number[] = [];
        for (let i = 0; i < count; i++) replies.push(JSON.parse(await c.next(20_000)).seq);
        assert.deepEqual(replies, [...Array(count).keys()]);
        const seqReceives = () => eventsFor(EVENTS, socket).filter((e) => e.hook === 'receive' && e.argv[4]?.includes('"seq"'));
        // The reply is printed before the PHP process records its own end.
        const receives = await waitFor('the last receive to end', () => seqReceives().length === count * 2 && seqReceives());
        const trace = receives.map((e) => `${e.at} ${JSON.parse(e.argv[4]!).seq}`);
        const expected = [...Array(count).keys()].flatMap((seq) => [`start ${seq}`, `end ${seq}`]);
        assert.deepEqual(trace, expected, 'each receive started after the previous one ended');
      });

      it('runs the hooks of different sockets in parallel', async () => {
        const a = await client({ host: 'app.test', token: 'par-a' });
        const b = await client({ host: 'app.test', token: 'par-b' });
        const ma = join(dir, `${mode}-barrier-a`);
        const mb = join(dir, `${mode}-barrier-b`);
        a.send(JSON.stringify({ cmd: 'barrier', mine: ma, theirs: mb }));
        b.send(JSON.stringify({ cmd: 'barrier', mine: mb, theirs: ma }));
        assert.deepEqual(JSON.parse(await a.next()), { barrier: true });
        assert.deepEqual(JSON.parse(await b.next()), { barrier: true });
      });

      it('logs a failing receive with host and stderr and keeps the socket usable', async () => {
        const c = await client({ host: 'app.test', token: 'fails' });
        c.send(JSON.stringify({ cmd: 'fail' }));
        assert.equal(await c.next(), 'partial');
        const line = await server.waitForLog(mode === 'oneshot' ? /hook failed host=app\.test .*hook=receive.*exited with code 3/ : /hook failed host=app\.test .*hook=receive.*error="receive failed on purpose"/);
        assert.match(line, /receive failed on purpose/);
        c.send('still here');
        assert.equal(await c.next(), 'still here');
      });

      it('kills a hook that runs past its timeout, logs it, and keeps the socket', async () => {
        const c = await client({ host: 'slow.test', token: 'slow' });
        c.send(JSON.stringify({ cmd: 'sleep', seconds: 20 }));
        c.send('after the slow one');
        assert.equal(await c.next(), 'after the slow one');
        await server.waitForLog(/hook failed host=slow\.test .*hook=receive.*timed out after 2000 ms/);
        if (mode === 'resident') await server.waitForLog(/worker died app=\S+ pid=\d+ reason="job timed out after 2000 ms"/);
      });

      it('runs any program as a hook with the argv appended (command hosts)', async () => {
        const c = await client({ host: 'tool.test', token: 'tool' });
        c.send('hi there');
        assert.match(await c.next(), /^node hook on tool\.test for [0-9a-f]{16}: hi there$/);
      });

      it('runs in-process module hooks with send() for streaming', async () => {
        assert.equal(await upgradeStatus(server.port, { host: 'mod.test', token: 'refuse' }), 401);
        const c = await client({ host: 'mod.test', token: 'm' });
        c.send('throw');
        assert.equal(await c.next(), 'module got throw');
        await server.waitForLog(/hook failed host=mod\.test .*hook=receive.*module hook threw/);
        c.send('x');
        assert.equal(await c.next(), 'module got x');
        assert.equal(await c.next(), 'module done');
      });

      it('passes binary frames to receive as text', async () => {
        const c = await client({ host: 'app.test', token: 'binary' });
        c.ws.send(Buffer.from('bytes ✓'), { binary: true });
        assert.equal(await c.next(), 'bytes ✓');
      });
    });

    describe('hosts', () => {
      it('normalises Host: case and port', async () => {
        const c = await client({ host: 'APP.Test:3001', token: 'h1' });
        assert.equal((await whoami(c)).host, 'app.test');
      });

      it('prefers the first X-Forwarded-Host, without scheme, path or port', async () => {
        const c = await client({ host: 'unknown.example', token: 'h2', headers: { 'x-forwarded-host': 'https://Demo.test:443/x, proxy.example' } });
        assert.equal((await whoami(c)).host, 'demo.test');
      });

      it('matches *.suffix wildcards and passes the real host to hooks', async () => {
        const c = await client({ host: 'acme.tenant.test', token: 'h3' });
        assert.equal((await whoami(c)).host, 'acme.tenant.test');
      });
    });

    describe('POST /message', () => {
      let a: Client, b: Client, c: Client, other: Client;
      const ids: Record<string, string> = {};
      before(async () => {
        a = await client({ host: 'cast.tenant.test', token: 't1' });
        b = await client({ host: 'cast.tenant.test', token: 't1' });
        c = await client({ host: 'cast.tenant.test', token: 't2' });
        other = await client({ host: 'other.tenant.test', token: 't1' });
        for (const [name, x] of Object.entries({ a, b, c, other })) ids[name] = (await whoami(x)).socket;
      });

      /** Casts, then checks exactly which of a, b, c got the frame (the next frame each gets is a marker otherwise). */
      async function castAndCheck(body: Record<string, unknown>, expected: string[], headers: Record<string, string> = {}) {
        const frame = { n: Math.random() };
        const res = await post(server, '/message', { host: 'cast.tenant.test', data: frame, ...body }, headers);
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.deepEqual(res.json, { status: 'ok', host: 'cast.tenant.test', sent: expected.length });
        const marker = await post(server, '/message', { host: 'cast.tenant.test', data: 'marker' });
        assert.equal(marker.json.sent, 3);
        for (const [name, x] of Object.entries({ a, b, c })) {
          const got = await x.next();
          if (expected.includes(name)) {
            assert.deepEqual(JSON.parse(got), frame, `${name} got the cast`);
            assert.equal(await x.next(), '"marker"');
          } else {
            assert.equal(got, '"marker"', `${name} did not get the cast`);
          }
        }
      }

      it('target all (the default, and "all")', async () => {
        await castAndCheck({}, ['a', 'b', 'c']);
        await castAndCheck({ target: 'all' }, ['a', 'b', 'c']);
        assert.equal(other.received.filter((f) => f === '"marker"').length, 0, 'another host got nothing');
      });
      it('target token:<t>', () => castAndCheck({ target: 'token:t1' }, ['a', 'b']));
      it('target token:not:<t>', () => castAndCheck({ target: 'token:not:t1' }, ['c']));
      it('target socket:<id>', () => castAndCheck({ target: `socket:${ids.b}` }, ['b']));
      it('target <id>', () => castAndCheck({ target: ids.c }, ['c']));
      it('target [<id>, ...]', () => castAndCheck({ target: [ids.a, ids.c, ids.other] }, ['a', 'c']));
      it('except skips one socket whatever the target', async () => {
        await castAndCheck({ except: ids.b }, ['a', 'c']);
        await castAndCheck({ target: 'token:t1', except: ids.a }, ['b']);
        await castAndCheck({ except: '' }, ['a', 'b', 'c']);
        await castAndCheck({ except: null }, ['a', 'b', 'c']);
      });
      it('takes the host from X-Phlo-Host', async () => {
        const res = await post(server, '/message', { data: {} }, { 'x-phlo-host': 'Cast.Tenant.Test:443' });
        assert.deepEqual(res.json, { status: 'ok', host: 'cast.tenant.test', sent: 3 });
        for (const x of [a, b, c]) assert.equal(await x.next(), '{}');
      });
      it('sends {} when data is missing, as the old servers do', async () => {
        const res = await post(server, '/message', { host: 'cast.tenant.test', target: `socket:${ids.a}` });
        assert.deepEqual(res.json, { status: 'ok', host: 'cast.tenant.test', sent: 1 });
        assert.equal(await a.next(), '{}');
        // A null that was given is sent as null, not replaced.
        await post(server, '/message', { host: 'cast.tenant.test', target: `socket:${ids.a}`, data: null });
        assert.equal(await a.next(), 'null');
      });
      it('normalises the host in the body', async () => {
        const res = await post(server, '/message', { host: 'https://CAST.tenant.test:8443/', data: [] });
        assert.deepEqual(res.json, { status: 'ok', host: 'cast.tenant.test', sent: 3 });
        for (const x of [a, b, c]) assert.equal(await x.next(), '[]');
      });
      it('sends data as it came (strings, numbers, unicode)', async () => {
        for (const data of ['text', 0, false, { emoji: '✓ 😀', nested: { list: [1, null] } }]) {
          await post(server, '/message', { host: 'cast.tenant.test', target: `socket:${ids.a}`, data });
          assert.equal(await a.next(), JSON.stringify(data));
        }
      });
      it('counts 0 for unknown socket ids', async () => {
        const res = await post(server, '/message', { host: 'cast.tenant.test', target: 'socket:0123456789abcdef', data: 1 });
        assert.equal(res.json.sent, 0);
      });

      it('answers 400 with a reason for bad input', async () => {
        const cases: Array<[string | object, RegExp, Record<string, string>?]> = [
          ['{"host": ', /not valid JSON/],
          ['', /empty/],
          ['[1,2]', /must be a JSON object/],
          [{ data: 1 }, /host is required/],
          [{ host: 'nope.example', data: 1 }, /host "nope\.example" is not configured/],
          [{ host: 'cast.tenant.test', target: 'bogus', data: 1 }, /unknown target "bogus"/],
          [{ host: 'cast.tenant.test', target: 42, data: 1 }, /target must be/],
          [{ host: 'cast.tenant.test', target: ['zz'], data: 1 }, /target\[0\] must be a socket id/],
          [{ host: 'cast.tenant.test', target: 'token:', data: 1 }, /needs a token/],
          [{ host: 'cast.tenant.test', except: 5, data: 1 }, /except must be/],
          [{ host: 7, data: 1 }, /host/],
        ];
        for (const [body, reason] of cases) {
          const res = await post(server, '/message', body);
          assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${JSON.stringify(res.json)}`);
          assert.equal(res.json.status, 'error');
          assert.match(String(res.json.message), reason);
        }
      });

      it('refuses a body over the limit with 413', async () => {
        const big = JSON.stringify({ host: 'cast.tenant.test', data: 'x'.repeat(MAX_BODY) });
        const res = await post(server, '/message', big);
        assert.equal(res.status, 413);
        assert.match(String(res.json.message), /larger than the limit of 65536 bytes/);
      });

      it('answers 405 for GET /message and 404 elsewhere', async () => {
        assert.equal((await fetch(`${server.url}/message`)).status, 405);
        assert.equal((await fetch(`${server.url}/nope`)).status, 404);
      });
    });

    describe('GET /health', () => {
      it('answers an HTTP/1.0 request without a Host header, as load balancers\' health checks send it', async () => {
        const { connect: tcp } = await import('node:net');
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = tcp(server.port, '127.0.0.1', () => socket.end('GET /health HTTP/1.0\r\n\r\n'));
          let text = '';
          socket.on('data', (chunk) => (text += chunk.toString()));
          socket.on('end', () => resolve(text));
          socket.on('error', reject);
        });
        assert.match(answer, /^HTTP\/1\.[01] 200 /);
        assert.match(answer, /"status":"ok"/);
      });

      it('counts sockets and tokens per host, with tokens only as sha256', async () => {
        const token = 'very-secret-token-value';
        const x = await client({ host: 'health.tenant.test', token });
        const y = await client({ host: 'health.tenant.test', token });
        const z = await client({ host: 'health.tenant.test', token: 'another' });
        await Promise.all([whoami(x), whoami(y), whoami(z)]);
        const response = await fetch(`${server.url}/health`);
        const text = await response.text();
        assert.equal(response.status, 200);
        assert.ok(!text.includes(token), 'no raw token in /health');
        const health = JSON.parse(text);
        assert.equal(health.status, 'ok');
        assert.equal(typeof health.workers, 'number');
        assert.equal(typeof health.cap, 'number');
        assert.deepEqual(typeof health.pools, 'object');
        const sha = (t: string) => createHash('sha256').update(t).digest('hex');
        assert.deepEqual(health.sockets['health.tenant.test'], { tokens: 2, sockets: 3, perToken: { [sha(token)]: 2, [sha('another')]: 1 } });
        assert.deepEqual(health.hosts['health.tenant.test'], { tokens: 2, sockets: 3 });
        const configuredHosts = ['*.tenant.test', 'app.test', 'demo.test', 'mod.test', 'slow.test', 'tool.test'];
        // CONTRACT.md 6: registered (the daemon's name) and configured (phloWS's) both list the configured hosts.
        assert.deepEqual([...health.registered].sort(), configuredHosts);
        assert.deepEqual([...health.configured].sort(), configuredHosts);
        assert.ok(!server.logs.join('\n').includes(token), 'no raw token in the logs');
      });
    });
  });

  describe(`GET /health right after start on ${TARGET}`, () => {
    it('lists the configured hosts as registered before any socket opens, as the daemon\'s smoke test expects', async () => {
      const fresh = await startServer({ config: { hosts: { 'a.test': APP, '*.b.test': APP } } });
      try {
        const health = await (await fetch(`${fresh.url}/health`)).json();
        assert.deepEqual([...health.registered].sort(), ['*.b.test', 'a.test']);
        assert.deepEqual([...health.configured].sort(), ['*.b.test', 'a.test']);
        // sockets and hosts stay the live counts: nothing is open yet.
        assert.deepEqual(health.sockets, {});
        assert.deepEqual(health.hosts, {});
      } finally {
        await fresh.stop();
      }
    });
  });

  describe(`malformed requests on ${TARGET}`, { concurrency: 1 }, () => {
    // One server for both cases; its clean exit is checked once they are done.
    let server: Started;
    before(async () => {
      server = await startServer({ config: { hosts: { '*': APP } } });
    });
    after(async () => {
      assert.equal(await server?.stop(), 0);
    });

    it('takes the Upgrade header in any case (RFC 6455)', async () => {
      const request = `GET /websocket HTTP/1.1\r\nHost: a.test\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: token=x\r\n\r\n`;
      assert.equal(await rawStatus(server.port, request), 101);
    });

    it('answers a malformed Host with an HTTP error and stays up', async () => {
      const upgrade = (host: string) =>
        `GET /websocket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: token=x\r\n\r\n`;
      const requests = [
        upgrade('a b'),
        upgrade('%%%'),
        'POST /message HTTP/1.1\r\nHost: a b\r\nContent-Length: 2\r\n\r\n{}',
      ];
      for (const request of requests) {
        const status = await rawStatus(server.port, request);
        assert.ok(status >= 400 && status < 500, `${JSON.stringify(request.split('\r\n').slice(0, 2))} -> ${status}`);
      }
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
      assert.ok(!server.logs.some((l) => /ERROR/.test(l)), server.logs.join('\n'));
    });
  });
});

/** The status code of the first response line to a raw HTTP request (0 when the connection closed without one). */
async function rawStatus(port: number, request: string): Promise<number> {
  const { connect: tcp } = await import('node:net');
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = tcp(port, '127.0.0.1', () => socket.write(request));
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no answer to ${JSON.stringify(request)}`));
    });
    socket.on('data', (chunk) => {
      data += chunk;
      const line = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (line) {
        socket.destroy();
        resolve(Number(line[1]));
      }
    });
    socket.on('close', () => resolve(0));
    socket.on('error', () => resolve(0));
  });
}
