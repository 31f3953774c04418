/**
 * Built-in TLS: with "tls" the one port serves https and wss (upgrades, the
 * bridge, /health), and a reload (POST /reload, SIGHUP) re-reads the files:
 * new handshakes get the new certificate, open sockets stay, and a broken pair
 * fails the reload while the old certificate keeps serving; overlapping reloads
 * take effect in the order they were asked for, the last one serving.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { createNetns } from '../support/netns.ts';
import { APP, FIXTURES, TARGET, runWsgate, startServer, targetAvailable, tempDir, writeJson } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed: it makes the test certificates';
const skip = targetAvailable() ?? opensslMissing;

interface Pair {
  cert: string;
  key: string;
  /** SHA-256 fingerprint, as getPeerCertificate() gives it. */
  fingerprint: string;
}

/** A self-signed certificate for 127.0.0.1 (P-256: quick to make), in `dir` as <name>.crt and <name>.key. */
function makeCert(dir: string, name: string, ip = '127.0.0.1'): Pair {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const run = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=wsgate-test-${name}`, '-addext', `subjectAltName=IP:${ip},DNS:localhost`],
    { encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
}

/** Puts a pair where the config points (the way a renewal replaces the files). */
function install(pair: Pair, at: { cert: string; key: string }): void {
  copyFileSync(pair.cert, at.cert);
  copyFileSync(pair.key, at.key);
}

/** Writes a config the way a deploy should: a reload reads the old file or the new one, never half of it. */
function replaceJson(path: string, value: unknown): void {
  renameSync(writeJson(`${path}.new`, value), path);
}

/** The fingerprint of the certificate a new TLS handshake gets. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

/** An https request that trusts `ca` only. */
function call(url: string, ca: Buffer[], method = 'GET', body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.once('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

interface Wss {
  ws: WebSocket;
  /** The next text frame. */
  next(timeoutMs?: number): Promise<string>;
  /** The certificate this connection was made with. */
  fingerprint: string;
}

/** A wss client that trusts `ca` only (so a handshake with any other certificate fails). */
function wss(port: number, ca: Buffer[], options: { host: string; token: string }): Promise<Wss> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/websocket`, { ca, headers: { host: options.host, cookie: `token=${options.token}` } });
  const inbox: string[] = [];
  const waiting: Array<(text: string) => void> = [];
  ws.on('message', (data) => {
    const text = data.toString();
    const waiter = waiting.shift();
    if (waiter) waiter(text);
    else inbox.push(text);
  });
  const next = (timeoutMs = 10_000) => {
    const queued = inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(take), 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const take = (text: string) => {
        clearTimeout(timer);
        resolve(text);
      };
      waiting.push(take);
    });
  };
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
    ws.once('upgrade', (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      ws.once('open', () => resolve({ ws, next, fingerprint }));
    });
  });
}

/** The socket id the gateway gave a client (the test app's whoami). */
async function socketOf(client: Wss): Promise<string> {
  client.ws.send(JSON.stringify({ cmd: 'whoami' }));
  return (JSON.parse(await client.next()) as { socket: string }).socket;
}

/** Resolves with the lines matching `pattern` once there are `count` of them after the first `from` (as the child writes them). */
function logsFrom(server: Started, from: number, pattern: RegExp, count: number, timeoutMs = 20_000): Promise<string[]> {
  const streams = [server.child.stdout!, server.child.stderr!];
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      for (const stream of streams) stream.off('data', check);
    };
    // Added after the server's own listener, so the lines of a chunk are in `logs` when this runs.
    const check = () => {
      const found = server.logs.slice(from).filter((line) => pattern.test(line));
      if (found.length < count) return;
      done();
      resolve(found);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`fewer than ${count} log lines matching ${pattern} within ${timeoutMs} ms; logs:\n${server.logs.slice(from).join('\n')}`));
    }, timeoutMs);
    for (const stream of streams) stream.on('data', check);
    check();
  });
}

async function cast(server: Started, ca: Buffer[], body: Record<string, unknown>): Promise<number> {
  const res = await call(`${server.url}/message`, ca, 'POST', body);
  assert.equal(res.status, 200, res.body);
  return (JSON.parse(res.body) as { sent: number }).sent;
}

// Each case has a server and certificates of its own: two at a time.
describe(`tls on ${TARGET}`, { skip, concurrency: 2 }, () => {
  it('serves https and wss on the one port, and a reload swaps the certificate while sockets stay', async () => {
    const dir = tempDir();
    const first = makeCert(dir, 'first');
    const second = makeCert(dir, 'second');
    const live = { cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
    install(first, live);
    const ca = [readFileSync(first.cert), readFileSync(second.cert)];
    // PHP verifies what it calls: the hooks trust both test certificates (see wsCast() below).
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, Buffer.concat(ca));
    const server = await startServer({
      config: { hosts: { 'tls.test': APP, 'sdk.test': { hooks: join(FIXTURES, 'ws.php') } }, tls: live },
      env: { SSL_CERT_FILE: bundle },
    });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the listening line says https');
      assert.equal(await servedFingerprint(server.port), first.fingerprint);

      const health = await call(`${server.url}/health`, ca);
      assert.equal(health.status, 200, health.body);
      assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');

      const before = await wss(server.port, ca, { host: 'tls.test', token: 'before' });
      assert.equal(before.fingerprint, first.fingerprint);
      assert.equal(await cast(server, ca, { host: 'tls.test', target: 'all', data: { n: 1 } }), 1);
      assert.deepEqual(JSON.parse(await before.next()), { n: 1 });

      // A hook's wsCast() goes to WSGATE_URL, which is https now too.
      const hook = await wss(server.port, ca, { host: 'sdk.test', token: 'caster' });
      const peer = await wss(server.port, ca, { host: 'sdk.test', token: 'caster' });
      hook.ws.send(JSON.stringify({ cast: 'over https' }));
      assert.equal(await hook.next(), 'got {"cast":"over https"}');
      await hook.next();
      assert.equal(await peer.next(), '{"cast":"over https"}');
      assert.equal(await hook.next(), 'cast sent 1');

      install(second, live);
      const reload = await call(`${server.url}/reload`, ca, 'POST');
      assert.equal(reload.status, 200, reload.body);
      await server.waitForLog(/ tls cert=\S+fullchain\.pem subject="?CN=wsgate-test-second/);

      assert.equal(await servedFingerprint(server.port), second.fingerprint, 'a new handshake gets the new certificate');
      const after = await wss(server.port, ca, { host: 'tls.test', token: 'after' });
      assert.equal(after.fingerprint, second.fingerprint);
      assert.equal(before.ws.readyState, WebSocket.OPEN, 'the socket made with the old certificate is still open');

      // A cast reaches sockets from before and after the swap, and `except` skips the one it names on either side.
      assert.equal(await cast(server, ca, { host: 'tls.test', target: 'all', data: { n: 2 } }), 2);
      assert.deepEqual(JSON.parse(await before.next()), { n: 2 });
      assert.deepEqual(JSON.parse(await after.next()), { n: 2 });
      const beforeId = await socketOf(before);
      const afterId = await socketOf(after);
      assert.equal(await cast(server, ca, { host: 'tls.test', target: 'all', except: beforeId, data: { n: 3 } }), 1);
      assert.equal(await cast(server, ca, { host: 'tls.test', target: 'all', except: afterId, data: { n: 4 } }), 1);
      assert.deepEqual(JSON.parse(await after.next()), { n: 3 });
      assert.deepEqual(JSON.parse(await before.next()), { n: 4 });
      before.ws.send(JSON.stringify({ cmd: 'echo', from: 'before' }));
      assert.deepEqual(JSON.parse(await before.next()), { cmd: 'echo', from: 'before' }, 'the old socket still runs hooks');

      // The hooks' wsCast() keeps working with the new certificate.
      hook.ws.send(JSON.stringify({ cast: 'after the swap' }));
      assert.equal(await hook.next(), 'got {"cast":"after the swap"}');
      await hook.next();
      assert.equal(await peer.next(), '{"cast":"after the swap"}');
      assert.equal(await hook.next(), 'cast sent 1');

      for (const client of [before, after, hook, peer]) client.ws.terminate();
    } finally {
      await server.stop();
    }
  });

  it('takes a page of the site on https only: an http:// page of the same name may not open a wss:// socket', async () => {
    const pair = makeCert(tempDir(), 'origin');
    const ca = [readFileSync(pair.cert)];
    const server = await startServer({ config: { hosts: { 'tls.test': APP }, tls: { cert: pair.cert, key: pair.key } } });
    const statusFrom = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        // No port in Host, as a browser sends for 443: the page's own scheme decides which port its origin means.
        const ws = new WebSocket(`wss://127.0.0.1:${server.port}/websocket`, { ca, headers: { host: 'tls.test', cookie: 'token=t', origin } });
        ws.on('open', () => {
          ws.terminate();
          resolve(101);
        });
        ws.on('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('error', (error) => (error.message.includes('Unexpected server response') ? undefined : reject(error)));
      });
    try {
      assert.equal(await statusFrom('https://tls.test'), 101);
      // On Node the upgrade was routed as http://, so the socket was not known to be TLS and this was taken.
      assert.equal(await statusFrom('http://tls.test'), 403);
    } finally {
      await server.stop();
    }
  });

  it('fails a reload with a broken certificate, keeps serving the old one, and takes a good one on SIGHUP', async () => {
    const dir = tempDir();
    const first = makeCert(dir, 'first');
    const other = makeCert(dir, 'other');
    const third = makeCert(dir, 'third');
    const live = { cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
    install(first, live);
    const ca = [readFileSync(first.cert), readFileSync(third.cert)];
    const server = await startServer({ config: { hosts: { 'tls.test': APP }, tls: live } });
    try {
      const open = await wss(server.port, ca, { host: 'tls.test', token: 'stays' });
      const reloadFails = async (problem: RegExp) => {
        const res = await call(`${server.url}/reload`, ca, 'POST');
        assert.equal(res.status, 400, res.body);
        const { problems } = JSON.parse(res.body) as { problems: string[] };
        assert.ok(problems.some((p) => problem.test(p)), problems.join('\n'));
        assert.equal(await servedFingerprint(server.port), first.fingerprint, 'the old certificate still serves');
      };

      // A renewal that wrote the new certificate but left the old key.
      copyFileSync(other.cert, live.cert);
      await reloadFails(/tls\.key: \S+privkey\.pem is not the private key of the certificate in tls\.cert/);
      await server.waitForLog(/reload failed problems=.*tls\.key/);

      writeFileSync(live.cert, 'not a certificate\n');
      copyFileSync(first.key, live.key);
      await reloadFails(/tls\.cert: expected a PEM certificate chain/);

      copyFileSync(first.cert, live.cert);
      // Root reads any file, whatever its mode: only a user can be refused.
      if (process.getuid?.() !== 0) {
        chmodSync(live.key, 0o000);
        await reloadFails(/tls\.key: cannot read \S+privkey\.pem/);
        chmodSync(live.key, 0o600);
      }

      assert.equal(await cast(server, ca, { host: 'tls.test', target: 'all', data: 'still here' }), 1);
      assert.equal(await open.next(), '"still here"');

      install(third, live);
      server.child.kill('SIGHUP');
      await server.waitForLog(/ tls cert=\S+fullchain\.pem subject="?CN=wsgate-test-third/);
      await server.waitForLog(/reloaded hosts=tls\.test/);
      assert.equal(await servedFingerprint(server.port), third.fingerprint);
      assert.equal(await cast(server, ca, { host: 'tls.test', target: 'all', data: 'after SIGHUP' }), 1);
      assert.equal(await open.next(), '"after SIGHUP"');
      open.ws.terminate();
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('serves the pair of the last reload asked for when reloads overlap', async () => {
    const dir = tempDir();
    const first = makeCert(dir, 'first');
    const renewals = ['second', 'third', 'fourth'].map((name) => makeCert(dir, name));
    const live = { cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem') };
    install(first, live);
    // Bun once left a reload's read unsettled for good (a lost file-read promise, it seems): past reloadTimeout that
    // reload fails, naming its step, and the next one runs, so the last still serves.
    const server = await startServer({ config: { hosts: { 'tls.test': APP }, tls: live, reloadTimeout: 5 } });
    try {
      const from = server.logs.length;
      // Each SIGHUP once the one before has begun its reload, with the files replaced in between: the reloads overlap,
      // and one begun earlier may read a pair half replaced (and fail) or the next one, but never serve last.
      for (const [i, pair] of renewals.entries()) {
        install(pair, live);
        server.child.kill('SIGHUP');
        await logsFrom(server, from, / reloading signal=SIGHUP/, i + 1);
      }
      const outcomes = await logsFrom(server, from, /reloaded hosts=|reload failed/, renewals.length);
      assert.match(outcomes.at(-1)!, /reloaded hosts=tls\.test/, 'the last reload succeeds');
      const swaps = server.logs.slice(from).filter((line) => / tls cert=/.test(line));
      assert.match(swaps.at(-1)!, /subject="?CN=wsgate-test-fourth/, 'the last swap is the last pair');
      assert.equal(await servedFingerprint(server.port), renewals.at(-1)!.fingerprint);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('keeps the later reload when an earlier one takes longer to read its config', async () => {
    const dir = tempDir();
    const [first, slow, fast] = ['first', 'slow', 'fast'].map((name) => makeCert(dir, name)) as [Pair, Pair, Pair];
    const server = await startServer({ config: { hosts: { 'tls.test': APP }, tls: { cert: first.cert, key: first.key } } });
    try {
      const from = server.logs.length;
      // Many hosts, each app file checked in turn: this config takes its reload far longer to read than the next one.
      const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`h${i}.test`, APP]));
      replaceJson(server.configFile!, { hosts: { 'tls.test': APP, ...many }, tls: { cert: slow.cert, key: slow.key } });
      server.child.kill('SIGHUP');
      await logsFrom(server, from, / reloading signal=SIGHUP/, 1);
      replaceJson(server.configFile!, { hosts: { 'tls.test': APP }, tls: { cert: fast.cert, key: fast.key } });
      server.child.kill('SIGHUP');
      const outcomes = await logsFrom(server, from, /reloaded hosts=|reload failed/, 2);
      assert.match(outcomes.at(-1)!, /reloaded hosts=tls\.test sockets/, 'the config asked for last is the one in use');
      assert.equal(await servedFingerprint(server.port), fast.fingerprint, 'and so is its certificate');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  it('knows a caller on another host for one: the bridge over https wants the secret from it', async (t) => {
    const ns = createNetns();
    if (typeof ns === 'string') return t.skip(ns);
    const secret = 'tls-test-secret-0123456789';
    try {
      const dir = tempDir();
      const pair = makeCert(dir, 'remote', ns.hostAddress);
      const server = await startServer({ args: ['--listen', ns.hostAddress], env: { WSGATE_SECRET: secret }, config: { hosts: { 'tls.test': APP }, tls: { cert: pair.cert, key: pair.key } } });
      try {
        const url = `https://${ns.hostAddress}:${server.port}/message`;
        const post = (authorization?: string) => {
          const headers = { 'content-type': 'application/json', ...(authorization && { authorization }) };
          const script = `const r = require('node:https').request(${JSON.stringify(url)}, { method: 'POST', ca: require('node:fs').readFileSync(${JSON.stringify(pair.cert)}), headers: ${JSON.stringify(headers)} }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body: b }))); }); r.on('error', (e) => { console.error(e.message); process.exit(3); }); r.end(JSON.stringify({ host: 'tls.test', data: 1 }));`;
          const run = ns.run([process.execPath, '-e', script]);
          assert.equal(run.code, 0, run.stderr);
          return JSON.parse(run.stdout) as { status: number; body: string };
        };
        assert.equal(post().status, 401, 'a caller from another host is not taken for loopback');
        assert.equal(post(`Bearer ${secret}`).status, 200);
      } finally {
        await server.stop();
      }
    } finally {
      ns.remove();
    }
  });

  it('refuses to start on a missing or mismatched certificate, naming the field', async () => {
    const dir = tempDir();
    const first = makeCert(dir, 'first');
    const other = makeCert(dir, 'other');
    const cases = [
      [{ cert: join(dir, 'nope.pem'), key: first.key }, /tls\.cert: expected an existing file, but \S+nope\.pem does not exist/],
      [{ cert: first.cert, key: other.key }, /tls\.key: \S+other\.key is not the private key of the certificate in tls\.cert/],
    ] as const;
    // Both at once, each with a config file of its own.
    const runs = await Promise.all(
      cases.map(([tls], i) => runWsgate(['serve', '--port', '0', '--config', writeJson(join(dir, `wsgate-${i}.json`), { hosts: { 'tls.test': APP }, tls })])),
    );
    for (const [i, run] of runs.entries()) {
      assert.equal(run.code, 2, 'a config error');
      assert.match(run.stderr, cases[i]![1]);
    }
  });
});
