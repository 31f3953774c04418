/**
 * The command line and the process: check, cast, health, --version, exit
 * codes, the built-in default, and a clean stop on SIGTERM.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { readEvents, waitFor } from '../support/events.ts';
import { APP, TARGET, runWsgate, startServer, targetAvailable, tempDir, writeJson } from '../support/server.ts';
import { VERSION } from '../../src/version.ts';

const skip = targetAvailable();

describe(`cli on ${TARGET}`, { skip }, () => {
  // Each case runs wsgate processes of its own (on Node some 0.9 s each, mostly loading): two cases at a time.
  describe('wsgate check', { concurrency: 2 }, () => {
    const dir = tempDir();

    it('prints the resolved config of a valid file', async () => {
      const file = writeJson(join(dir, 'ok.json'), { port: 4000, hosts: { 'App.Example.com': './app.php', '*': { module: 'builtin:demo' } } });
      writeFileSync(join(dir, 'app.php'), '<?php');
      const { code, stdout } = await runWsgate(['check', '--config', file]);
      assert.equal(code, 0);
      const config = JSON.parse(stdout);
      assert.equal(config.port, 4000);
      assert.equal(config.listen, '127.0.0.1');
      assert.deepEqual(config.hosts[0], { key: 'app.example.com', mode: 'oneshot', app: join(dir, 'app.php'), command: ['php', join(dir, 'app.php')], timeoutMs: 30000 });
    });

    const failing: Array<[string, unknown, RegExp]> = [
      ['pool settings on a one-shot host', { hosts: { 'a.test': { app: APP, pool: { maxJobs: 5 } } } }, /hosts\["a\.test"\]\.pool: pool settings apply to resident hosts only/],
      ['a missing app file', { hosts: { 'a.test': '/nonexistent/app.php' } }, /hosts\["a\.test"\]\.app: expected an existing file, but \/nonexistent\/app\.php does not exist/],
      ['a wrong type', { port: 'eighty', hosts: { 'a.test': APP } }, /: port: expected a port number/],
      ['an unknown field', { hosts: { 'a.test': APP }, prot: 1 }, /: prot: unknown field/],
      ['an ambiguous host entry', { hosts: { 'a.test': { app: APP, command: ['x'] } } }, /hosts\["a\.test"\]: expected exactly one of "app", "hooks", "command" or "module", got "app" and "command"/],
      ['a bad wildcard', { hosts: { 'a.*.test': APP } }, /hosts\["a\.\*\.test"\]: host key may use "\*" only/],
      ['no hosts', { hosts: {} }, /hosts: expected at least one host/],
      ['invalid JSON', '{ "hosts": ', /not valid JSON/],
      ['a port in listen', { listen: '127.0.0.1:3001', secret: 'a-secret-of-enough-length', hosts: { 'a.test': APP } }, /: listen: expected an address without a port, such as "127\.0\.0\.1" \(the port goes in "port"\)/],
    ];
    for (const [what, content, pattern] of failing) {
      it(`exits 2 naming the file and field for ${what}`, async () => {
        const file = writeJson(join(dir, `bad-${what.replace(/\W+/g, '-')}.json`), content);
        const { code, stderr } = await runWsgate(['check', '--config', file]);
        assert.equal(code, 2, stderr);
        assert.match(stderr, pattern);
        assert.ok(stderr.includes(file), `names the file: ${stderr}`);
      });
    }

    it('serve refuses a bad config with exit 2 before binding', async () => {
      const file = writeJson(join(dir, 'missing-app.json'), { port: 0, hosts: { 'a.test': { app: '/nonexistent/app.php', build: false } } });
      const { code, stderr } = await runWsgate(['serve', '--config', file]);
      assert.equal(code, 2);
      assert.match(stderr, /does not exist/);
      assert.doesNotMatch(stderr, /listening/);
    });

    it('exits 2 for an unknown command or a bad flag value', async () => {
      const [unknown, badFlag] = await Promise.all([runWsgate(['frobnicate']), runWsgate(['serve', '--port', 'x'])]);
      assert.equal(unknown.code, 2);
      assert.equal(badFlag.code, 2);
    });

    it('prints the version', async () => {
      const { code, stdout } = await runWsgate(['--version']);
      assert.equal(code, 0);
      assert.equal(stdout.trim(), VERSION);
    });
  });

  describe('serve', () => {
    it('serves the built-in demo chat on every host when given no config', async () => {
      const server = await startServer();
      try {
        const page = await fetch(`${server.url}/`);
        assert.equal(page.status, 200);
        assert.match(page.headers.get('set-cookie') ?? '', /^token=demo-[0-9a-f]{16};/);
        assert.match(await page.text(), /wsgate demo chat/);
        const a = await connect(server.port, { host: 'anything.example', token: 'a' });
        const b = await connect(server.port, { host: 'anything.example', token: 'b' });
        const welcome = JSON.parse(await a.next());
        assert.equal(welcome.type, 'welcome', 'a is told its own id');
        assert.deepEqual(JSON.parse(await a.next()), { type: 'join', from: welcome.you }, 'a sees itself join');
        assert.equal(JSON.parse(await a.next()).type, 'join', 'a sees b join');
        assert.equal(JSON.parse(await b.next()).type, 'welcome');
        assert.equal(JSON.parse(await b.next()).type, 'join');
        a.send(JSON.stringify({ text: 'hello b' }));
        for (const x of [a, b]) assert.equal(JSON.parse(await x.next()).text, 'hello b');
        a.ws.terminate();
        b.ws.terminate();
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    it('serves hosts given with --host NAME=APP', async () => {
      const server = await startServer({ args: ['--host', `one.test=${APP}`, `--host=two.test=${APP}`] });
      try {
        const health = await (await fetch(`${server.url}/health`)).json();
        assert.deepEqual(health.configured, ['one.test', 'two.test']);
      } finally {
        await server.stop();
      }
    });

    it('writes one JSON object per log line with --log-format json', async () => {
      const server = await startServer({ config: { hosts: { 'app.test': APP } }, args: ['--log-format', 'json'] });
      try {
        const a = await connect(server.port, { host: 'app.test', token: 'json-logs' });
        a.send('hi');
        await a.next();
        a.ws.terminate();
        await server.waitForLog(/"event":"close"/);
        const lines = server.logs.map((l) => JSON.parse(l));
        const open = lines.find((l) => l.event === 'open');
        assert.equal(open.host, 'app.test');
        assert.match(open.socket, /^[0-9a-f]{16}$/);
        assert.ok(!server.logs.join('\n').includes('json-logs'), 'no raw token');
        assert.equal((await runWsgate(['serve', '--log-format', 'xml'])).code, 2);
      } finally {
        await server.stop();
      }
    });

    it('on SIGTERM closes sockets with 1001, runs their close hooks and exits 0', async () => {
      const events = join(tempDir(), 'events.ndjson');
      const server = await startServer({ config: { hosts: { 'app.test': APP } }, env: { WSGATE_TEST_EVENTS: events } });
      const a = await connect(server.port, { host: 'app.test', token: 'bye' });
      a.send('ping');
      assert.equal(await a.next(), 'ping');
      const code = server.stop('SIGTERM');
      assert.equal((await a.closed).code, 1001);
      assert.equal(await code, 0);
      assert.ok(readEvents(events).some((e) => e.hook === 'close' && e.at === 'end' && e.argv[2] === 'bye'), 'the close hook ran before exit');
    });
  });

  describe('cast and health commands', () => {
    it('cast sends to a running gateway, health prints its status', async () => {
      const server = await startServer({ config: { hosts: { 'app.test': APP } } });
      try {
        const a = await connect(server.port, { host: 'app.test', token: 'cli' });
        a.send(JSON.stringify({ cmd: 'whoami' }));
        await a.next();
        const cast = await runWsgate(['cast', '--host', 'app.test', '--target', 'token:cli', '--data', '{"hi":1}', '--url', server.url]);
        assert.equal(cast.code, 0, cast.stderr);
        assert.deepEqual(JSON.parse(cast.stdout), { status: 'ok', host: 'app.test', sent: 1 });
        assert.equal(await a.next(), '{"hi":1}');
        // These send nothing to the socket: they run at once.
        const [bad, badJson, health] = await Promise.all([
          runWsgate(['cast', '--host', 'nope.test', '--data', '1', '--url', server.url]),
          runWsgate(['cast', '--host', 'app.test', '--data', '{bad', '--url', server.url]),
          runWsgate(['health', '--url', server.url]),
        ]);
        assert.equal(bad.code, 1);
        assert.match(bad.stdout, /not configured/);
        assert.equal(badJson.code, 2);
        assert.equal(health.code, 0);
        assert.equal(JSON.parse(health.stdout).sockets['app.test'].sockets, 1);
        a.ws.terminate();
        await waitFor('the socket to leave', () => server.logs.some((l) => / close host=app\.test/.test(l)));
      } finally {
        await server.stop();
      }
    });

    it('health exits 1 when no gateway answers', async () => {
      const { code, stderr } = await runWsgate(['health', '--url', 'http://127.0.0.1:9']);
      assert.equal(code, 1);
      assert.match(stderr, /cannot reach/);
    });
  });
});
