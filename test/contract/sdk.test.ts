/**
 * The plain-PHP SDK: a file of wsAuth/wsConnect/wsReceive/wsClose served in
 * one-shot and resident mode, and wsCast() from plain PHP (no curl).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { FIXTURES, ROOT, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const HOOKS = join(FIXTURES, 'ws.php');
const SDK = join(ROOT, 'php', 'wsgate.php');

/** Runs PHP code with the SDK required, the way an app calls wsCast(). */
function php(code: string, env: Record<string, string> = {}) {
  const run = spawnSync('php', ['-d', 'display_errors=stderr', '-r', `require ${JSON.stringify(SDK)}; ${code}`], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** As php(), without blocking this process: for a test whose own servers must answer PHP. */
async function phpAsync(code: string, env: Record<string, string> = {}) {
  const child = spawn('php', ['-d', 'display_errors=stderr', '-r', `require ${JSON.stringify(SDK)}; ${code}`], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code: exit, stdout, stderr };
}

/** A socket of token "caster" asks the hook (ws.php) to wsCast() to its token: the other socket of it gets the cast. */
async function castFromHook(server: Started, text: string): Promise<void> {
  const a = await connect(server.port, { host: 'sdk.test', token: 'caster' });
  const b = await connect(server.port, { host: 'sdk.test', token: 'caster' });
  // The hook's wsCast needs the gateway's URL: the gateway passes its env down to hooks.
  a.send(JSON.stringify({ cast: text }));
  assert.equal(await a.next(), `got {"cast":"${text}"}`);
  await a.next();
  assert.equal(await b.next(), `{"cast":"${text}"}`, 'b got the cast, a was the except');
  assert.equal(await a.next(), 'cast sent 1');
  a.ws.terminate();
  b.ws.terminate();
}

for (const build of [true, false]) {
  describe(`plain-PHP hooks (build: ${build}) on ${TARGET}`, { skip }, () => {
    let server: Started;
    before(async () => {
      server = await startServer({ config: { hosts: { 'sdk.test': { hooks: HOOKS, build, clientChannels: true }, 'msg.test': { hooks: HOOKS, build, tokenFrom: 'message' } } } });
    });
    after(() => server.stop());

    it('refuses with wsAuth returning false, closes with wsConnect returning false', async () => {
      assert.equal(await upgradeStatus(server.port, { host: 'sdk.test', token: 'refuse' }), 401);
      const c = await connect(server.port, { host: 'sdk.test', token: 'no-connect' });
      assert.equal((await c.closed).code, 1008);
    });

    it('gives wsReceive the decoded JSON message and streams what it prints', async () => {
      const c = await connect(server.port, { host: 'sdk.test', token: 'ok' });
      c.send(JSON.stringify({ a: [1, 'two'] }));
      assert.equal(await c.next(), 'got {"a":[1,"two"]}');
      assert.match(await c.next(), /^pid \d+$/);
      c.send('plain text');
      assert.equal(await c.next(), 'got "plain text"', 'a message that is not JSON arrives as the raw string');
      await c.next();
      c.ws.terminate();
    });

    it('sends a line and an answer cut mid-character with U+FFFD, and stays in step', async () => {
      const c = await connect(server.port, { host: 'sdk.test', token: 'cut' });
      c.send('cut');
      assert.equal(await c.next(), 'caf\uFFFD');
      c.send('"after"');
      assert.equal(await c.next(), 'got "after"');
      await c.next();
      assert.ok(!server.logs.some((line) => /worker died|hook failed host=sdk\.test .*hook=receive/.test(line)), server.logs.filter((l) => /died|failed/.test(l)).join('\n'));
      c.ws.terminate();
    });

    it('logs an exception in a hook with its message and keeps the socket', async () => {
      const c = await connect(server.port, { host: 'sdk.test', token: 'ok2' });
      c.send('throw');
      const line = await server.waitForLog(/hook failed host=sdk\.test .*hook=receive/);
      assert.match(line, /hook threw on purpose/);
      // Where it was thrown: on its stderr one-shot; resident, with the worker's answer (so never with the next job's line).
      assert.match(line, /stderr="RuntimeException: hook threw on purpose in [^"]*ws\.php:24/);
      c.send('"again"');
      assert.equal(await c.next(), 'got "again"');
      c.ws.terminate();
    });

    it(`runs ${build ? 'a new process per event' : 'on resident workers'}`, async () => {
      const c = await connect(server.port, { host: 'sdk.test', token: 'pids' });
      const pids = new Set<string>();
      for (let i = 0; i < 3; i++) {
        c.send('1');
        await c.next();
        pids.add(await c.next());
      }
      assert.equal(pids.size, build ? 3 : 1, [...pids].join(','));
      c.ws.terminate();
    });

    it('grants channels from wsAuth, and asks wsCanSubscribe before a client joins one', async () => {
      const member = await connect(server.port, { host: 'sdk.test', token: 'member-chess' });
      const sent = async (target: string) =>
        ((await (await fetch(`${server.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'sdk.test', target, data: 1 }) })).json()) as { sent: number }).sent;
      assert.equal(await sent('channel:club:chess'), 1);
      assert.equal(await member.next(), '1');
      member.send(JSON.stringify({ wsgate: 'subscribe', channel: 'open' }));
      assert.deepEqual(JSON.parse(await member.next()), { wsgate: 'subscribed', channel: 'open', ok: true });
      member.send(JSON.stringify({ wsgate: 'subscribe', channel: 'closed' }));
      assert.equal(JSON.parse(await member.next()).ok, false);
      member.ws.terminate();
    });

    it('wsCast() from a hook reaches the sockets of the token', () => castFromHook(server, 'hello'));

    // JSON's "\ud800" gives a lone surrogate, which PHP's json_decode() refuses with the whole job line: the SDK's
    // worker (as Phlo's) then exits, failing the jobs written behind it. One-shot argv would carry U+FFFD instead.
    it('refuses a subscribe to a channel with a lone surrogate before any hook runs, and the worker lives on', async () => {
      const c = await connect(server.port, { host: 'sdk.test', token: 'surrogate' });
      const pid = async () => {
        c.send('1');
        await c.next();
        return c.next();
      };
      const before = await pid();
      c.send('{"wsgate":"subscribe","channel":"a\\ud800"}');
      assert.deepEqual(JSON.parse(await c.next()), { wsgate: 'error', channel: 'a\ud800', reason: 'a channel name must not contain a lone UTF-16 surrogate' });
      if (!build) assert.equal(await pid(), before, 'the same resident worker');
      assert.equal(server.logs.some((line) => / worker died /.test(line)), false);
      c.ws.terminate();
    });

    it('refuses a first-frame token with a lone surrogate before its auth hook runs', { timeout: 15_000 }, async () => {
      const c = await connect(server.port, { host: 'msg.test' });
      c.send('{"type":"auth","token":"\\udc00"}');
      assert.deepEqual(await c.closed, { code: 1008, reason: 'the token holds a lone UTF-16 surrogate' });
      assert.equal(server.logs.some((line) => / worker died |host=msg\.test .*hook=auth/.test(line)), false);
    });
  });
}

describe('the SDK\'s resident worker, spoken to directly', () => {
  it('answers a job that threw with its error and, in the same frame, where it was thrown; nothing on its stderr', () => {
    const jobs = [
      { id: '1.1', target: 'websocket::receive', args: ['sdk.test', 'tok', 'sock', 'throw'], stream: true },
      { id: '1.2', target: 'websocket::receive', args: ['sdk.test', 'tok', 'sock', '"fine"'], stream: true },
    ];
    const run = spawnSync('php', [SDK, HOOKS, 'phlo_serve'], { input: jobs.map((job) => JSON.stringify(job)).join('\n') + '\n', encoding: 'utf8', timeout: 20_000 });
    const frames = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id?: string; t: string; message?: string; stderr?: string });
    const error = frames.find((frame) => frame.id === '1.1' && frame.t === 'error');
    assert.equal(error?.message, 'hook threw on purpose');
    assert.match(error?.stderr ?? '', /^RuntimeException: hook threw on purpose in .*ws\.php:24$/);
    assert.ok(frames.some((frame) => frame.id === '1.2' && frame.t === 'done'), 'the next job runs');
    assert.equal(frames.find((frame) => frame.id === '1.2' && frame.t === 'done')?.stderr, undefined);
    assert.equal(run.stderr, '', 'nothing of the exception on the stderr pipe');
  });
});

describe(`the SDK against a bridge on a unix socket on ${TARGET}`, { skip }, () => {
  let server: Started;
  let path: string;
  before(async () => {
    path = join(tempDir(), 'bridge.sock');
    server = await startServer({ config: { bridge: { path }, hosts: { 'sdk.test': { hooks: HOOKS, build: false, clientChannels: true } } } });
  });
  after(() => server.stop());

  it('gives hooks WSGATE_URL=unix:<path>, and wsCast() from a hook reaches the sockets of the token', async () => {
    await server.waitForLog(new RegExp(` bridge url=unix:${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    await castFromHook(server, 'over the socket');
  });

  it('casts, reads presence and reports errors over the socket, with unix:/path and unix:///path alike', async () => {
    const c = await connect(server.port, { host: 'sdk.test', token: 'u9' });
    for (const url of [`unix:${path}`, `unix://${path}`]) {
      const cast = php(`echo wsCast(['n' => 2], 'token:u9', '', 'sdk.test');`, { WSGATE_URL: url });
      assert.equal(cast.code, 0, cast.stderr);
      assert.equal(cast.stdout, '1');
      assert.equal(await c.next(), '{"n":2}');
    }
    const joined = php(`echo wsSubscribe('room:9', 'token:u9', 'sdk.test'), ' ', json_encode(wsPresence('room:9', 'sdk.test')['sockets']);`, { WSGATE_URL: `unix:${path}` });
    assert.equal(joined.stdout, '1 1', joined.stderr);
    const refused = php(`wsCast('x', 'all', '', 'nope.test');`, { WSGATE_URL: `unix:${path}` });
    assert.match(refused.stderr, /wsCast: wsgate answered 400: host "nope\.test" is not configured/);
    // Over maxBody: wsgate answers 413 and closes while the body is still being written, which is that answer, not a PHP notice.
    const big = php(`wsCast(str_repeat('x', 5 << 20), 'all', '', 'sdk.test');`, { WSGATE_URL: `unix:${path}` });
    assert.match(big.stderr, /wsCast: wsgate answered 413/);
    assert.doesNotMatch(big.stderr, /Notice|Warning|Broken pipe/);
    const down = php(`wsCast('x', 'all', '', 'sdk.test', 2);`, { WSGATE_URL: `unix:${path}.missing` });
    assert.match(down.stderr, /wsCast: wsgate is not reachable at unix:\S+\.missing: /);
    c.ws.terminate();
  });
});

describe(`wsCast() from plain PHP on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { hosts: { 'cast.test': { hooks: HOOKS, channels: { 'news:*': { history: { size: 10, ttl: 60 } } } } } } });
  });
  after(() => server.stop());

  it('posts to /message with stock php-cli and returns the sent count', async () => {
    const c = await connect(server.port, { host: 'cast.test', token: 'u1' });
    const run = php(`echo wsCast(['n' => 1, 'list' => []], 'token:u1', '', 'cast.test');`, { WSGATE_URL: server.url });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '1');
    assert.equal(await c.next(), '{"n":1,"list":[]}');
    c.ws.terminate();
  });

  it('follows no redirect, so the secret goes nowhere but WSGATE_URL', async () => {
    // What a proxy in front of the bridge that redirects (to https, or elsewhere) would do; the target records what it got.
    const heard: Array<string | undefined> = [];
    const target = createServer((req, res) => {
      heard.push(req.headers.authorization);
      res.end('{"status":"ok","sent":1}');
    });
    const redirecting = createServer((_req, res) => {
      res.writeHead(307, { location: `http://127.0.0.1:${(target.address() as AddressInfo).port}/message` });
      res.end();
    });
    await Promise.all([target, redirecting].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
    try {
      const url = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`;
      const run = await phpAsync(`wsCast('x', 'all', '', 'cast.test');`, { WSGATE_URL: url, WSGATE_SECRET: 's3cret' });
      assert.match(run.stderr, /wsCast: wsgate answered 307/);
      assert.deepEqual(heard, [], 'the redirect was followed');
    } finally {
      target.close();
      redirecting.close();
    }
  });

  it('takes the host from WSGATE_HOST', () => {
    const run = php(`echo wsCast('x');`, { WSGATE_URL: server.url, WSGATE_HOST: 'cast.test' });
    assert.equal(run.stdout, '0');
  });

  it('throws a clear error when the gateway refuses, is down, or there is no host', () => {
    const refused = php(`wsCast('x', 'all', '', 'nope.test');`, { WSGATE_URL: server.url });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /wsCast: wsgate answered 400: host "nope\.test" is not configured/);
    const down = php(`wsCast('x', 'all', '', 'cast.test', 2);`, { WSGATE_URL: 'http://127.0.0.1:9' });
    assert.match(down.stderr, /wsCast: wsgate is not reachable at http:\/\/127\.0\.0\.1:9\/message/);
    const nohost = php(`wsCast('x');`, { WSGATE_URL: server.url, WSGATE_HOST: '' });
    assert.match(nohost.stderr, /wsCast: no host/);
  });

  it('wsSubscribe(), wsPresence() and wsUnsubscribe() move a token in and out of a channel', async () => {
    const c = await connect(server.port, { host: 'cast.test', token: 'u2' });
    const run = php(
      `echo wsSubscribe('room:a', 'token:u2', 'cast.test'), ' ';
       $p = wsPresence('room:a', 'cast.test'); echo $p['sockets'], ' ', array_keys($p['tokens'])[0], ' ';
       echo wsCast('hi room', 'channel:room:a', '', 'cast.test'), ' ';
       echo wsUnsubscribe('room:a', 'token:u2', 'cast.test'), ' ', wsPresence('room:a', 'cast.test')['sockets'];`,
      { WSGATE_URL: server.url },
    );
    assert.equal(run.code, 0, run.stderr);
    const { createHash } = await import('node:crypto');
    assert.equal(run.stdout, `1 1 ${createHash('sha256').update('u2').digest('hex')} 1 1 0`);
    assert.equal(await c.next(), '"hi room"');
    const bad = php(`wsSubscribe('', 'all', 'cast.test');`, { WSGATE_URL: server.url });
    assert.match(bad.stderr, /wsSubscribe: wsgate answered 400: a channel name must not be empty/);
    c.ws.terminate();
  });

  it("wsHistory() reads a channel's recent publications, all or after a position", () => {
    const run = php(
      `wsCast(['n' => 1], 'channel:news:1', '', 'cast.test'); wsCast(['n' => 2], 'channel:news:1', '', 'cast.test');
       $all = wsHistory('news:1', null, 'cast.test');
       $after = wsHistory('news:1', ['epoch' => $all['epoch'], 'offset' => 1], 'cast.test');
       echo json_encode([$all['offset'], count($all['publications']), $after['recovered'], $after['publications']]);`,
      { WSGATE_URL: server.url },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [2, 2, true, [{ offset: 2, data: { n: 2 } }]]);
    const none = php(`wsHistory('plain', null, 'cast.test');`, { WSGATE_URL: server.url });
    assert.match(none.stderr, /wsHistory: wsgate answered 400: channel "plain" keeps no history/);
  });

  it('is the same file the binary prints with `wsgate sdk`', async () => {
    const { runWsgate } = await import('../support/server.ts');
    const { readFileSync } = await import('node:fs');
    const printed = await runWsgate(['sdk']);
    assert.equal(printed.code, 0);
    assert.equal(`${printed.stdout}`, readFileSync(SDK, 'utf8'));
  });
});
