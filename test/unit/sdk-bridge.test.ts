/**
 * The plain-PHP SDK's bridge calls (wsCast() and the rest) against a hostile
 * or broken server of this test's own, with real PHP: what such a server (or
 * anything else listening where WSGATE_URL points) answers must not hold the
 * PHP request past its timeout, fill its memory, or put the URL's
 * credentials into the errors apps log and show.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, tempDir } from '../support/server.ts';

const SDK = join(ROOT, 'php', 'wsgate.php');

interface Outcome {
  /** What the call returned, or what it threw (class and message). */
  result?: unknown;
  thrown?: { class: string; message: string };
  /** How long the call took, by PHP's clock. */
  seconds: number;
}

/**
 * Runs `$call` (an SDK call) in PHP, with warnings turned into exceptions as
 * frameworks do. PHP still running after `killAfterMs` is a failure.
 */
async function php(call: string, env: Record<string, string>, options: { killAfterMs?: number; memory?: string } = {}): Promise<Outcome> {
  const code = `require ${JSON.stringify(SDK)};
    set_error_handler(function ($no, $message) { throw new ErrorException($message, 0, $no); });
    $start = microtime(true);
    try { $out = ['result' => ${call}]; }
    catch (Throwable $e) { $out = ['thrown' => ['class' => get_class($e), 'message' => $e->getMessage()]]; }
    $out['seconds'] = microtime(true) - $start;
    echo json_encode($out, JSON_INVALID_UTF8_SUBSTITUTE);`;
  const child = spawn('php', ['-d', 'display_errors=stderr', '-d', `memory_limit=${options.memory ?? '128M'}`, '-r', code], {
    env: { ...process.env, WSGATE_SECRET: '', WSGATE_HOST: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, options.killAfterMs ?? 10_000);
  const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.equal(killed, false, `PHP was still waiting after ${options.killAfterMs ?? 10_000} ms`);
  assert.equal(exit, 0, `PHP exited ${exit}: ${stderr.slice(0, 500)}`);
  return JSON.parse(stdout) as Outcome;
}

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** A server of this test's own on 127.0.0.1 (or a unix socket, given its path): its URL for WSGATE_URL. */
async function hostile(handler: (req: IncomingMessage, res: ServerResponse) => void, path?: string): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => (path ? server.listen(path, resolve) : server.listen(0, '127.0.0.1', resolve)));
  return path ? `unix:${path}` : `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const CAST = `wsCast(['n' => 1], 'all', '', 'app.test', 1.0)`;

describe('the SDK\'s errors', () => {
  it('show where WSGATE_URL points but not the credentials in it', async () => {
    const refused = `http://alice:hunter2@127.0.0.1:${await closedPort()}/gw?token=t0ps3cret&mode=x`;
    const silent = (await hostile(() => {})).replace('http://', 'http://alice:hunter2@') + '/gw?api_key=t0ps3cret&mode=x';
    for (const url of [refused, silent]) {
      const { thrown } = await php(CAST, { WSGATE_URL: url });
      assert.ok(thrown, 'the call failed');
      assert.match(thrown.message, /^wsCast: /);
      assert.match(thrown.message, /127\.0\.0\.1:\d+\/gw/, 'the message says where');
      assert.match(thrown.message, /mode=x/, 'a query value that is no secret stays');
      assert.doesNotMatch(thrown.message, /hunter2|t0ps3cret|alice/, thrown.message);
    }
  });
});

/** A server that sends `head` at once, then one more byte of `drip` every 50 ms, for as long as the caller waits. */
function trickle(head: string, drip: string) {
  return (req: IncomingMessage) => {
    const socket = req.socket;
    socket.write(head);
    const timer = setInterval(() => socket.write(drip), 50);
    socket.on('close', () => clearInterval(timer));
  };
}

/** A server that sends `head`, then as much as the caller will read, as fast as it reads. */
function flood(head: string) {
  return (req: IncomingMessage) => {
    const socket = req.socket;
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
    };
    socket.on('drain', pump);
    socket.on('error', () => {});
    socket.write(head);
    pump();
  };
}

describe('a bridge call', () => {
  const slow = {
    'a status line and headers that never end': trickle('HTTP/1.1 200 OK\r\nX-Slow: ', 'a'),
    'a body that never ends': trickle('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"status":"ok","sent":1,"x":"', 'a'),
  };
  for (const [name, handler] of Object.entries(slow)) {
    for (const where of ['http', 'unix']) {
      it(`ends at its timeout against ${name}, a byte at a time (${where})`, async () => {
        const url = await hostile(handler, where === 'unix' ? join(tempDir(), 'bridge.sock') : undefined);
        const { thrown, seconds } = await php(CAST, { WSGATE_URL: url }, { killAfterMs: 5000 });
        assert.ok(thrown, 'the call failed');
        assert.match(thrown.message, /^wsCast: wsgate at .* did not answer within 1 s$/);
        assert.ok(seconds < 2, `the call took ${seconds} s`);
      });
    }
  }

  const big = {
    'a body without end': flood('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"status":"ok","sent":1,"x":"'),
    'a header without end': flood('HTTP/1.1 200 OK\r\nX-Big: '),
    'a chunked body without end': flood('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n'),
  };
  for (const [name, handler] of Object.entries(big)) {
    it(`reads no more than WSGATE_MAX_ANSWER of ${name}`, async () => {
      const url = await hostile(handler);
      // A memory_limit the flood would pass long before the 1 s timeout.
      const { thrown } = await php(CAST, { WSGATE_URL: url, WSGATE_MAX_ANSWER: String(1 << 20) }, { memory: '32M' });
      assert.ok(thrown, 'the call failed');
      assert.match(thrown.message, /^wsCast: wsgate at .* answered more than 1048576 bytes$/);
    });
  }

  it('refuses an answer whose Content-Length is over WSGATE_MAX_ANSWER without reading it', async () => {
    const url = await hostile(trickle('HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n', 'a'));
    const { thrown, seconds } = await php(CAST, { WSGATE_URL: url, WSGATE_MAX_ANSWER: String(1 << 20) }, { killAfterMs: 5000 });
    assert.ok(thrown, 'the call failed');
    assert.match(thrown.message, /answered more than 1048576 bytes$/);
    assert.ok(seconds < 0.5, `the call took ${seconds} s`);
  });
});

describe('a bridge call to a server that answers', () => {
  it('takes a WSGATE_MAX_ANSWER of zero or below as unset, not as a bound every answer is over', async () => {
    const url = await hostile((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok","sent":3}'));
    });
    for (const max of ['0', '-5']) {
      const outcome = await php(CAST, { WSGATE_URL: url, WSGATE_MAX_ANSWER: max });
      assert.deepEqual(outcome.thrown, undefined, `WSGATE_MAX_ANSWER=${max}`);
      assert.equal(outcome.result, 3);
    }
  });

  it('sends the call under WSGATE_URL\'s path, its query after, and reads a chunked answer', async () => {
    const seen: { url?: string; authorization?: string; host?: string; body?: string } = {};
    const url = await hostile((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk));
      req.on('end', () => {
        Object.assign(seen, { url: req.url, authorization: req.headers.authorization, host: req.headers.host, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"status":"ok",');
        setTimeout(() => res.end('"sent":3}'), 20);
      });
    });
    const { result, thrown } = await php(CAST, { WSGATE_URL: `${url.replace('http://', 'http://bob:pw@')}/gw/?via=proxy` });
    assert.equal(thrown, undefined);
    assert.equal(result, 3);
    assert.equal(seen.url, '/gw/message?via=proxy');
    assert.equal(seen.authorization, `Basic ${Buffer.from('bob:pw').toString('base64')}`);
    assert.equal(seen.host, url.slice('http://'.length));
    assert.deepEqual(JSON.parse(seen.body!), { host: 'app.test', target: 'all', except: '', data: { n: 1 } });
  });
});

/** A server that answers every call with `status` and `body` as they are. */
function answers(status: number, body: string, type = 'application/json') {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  };
}

describe('an SDK call given a hostile answer', () => {
  const SECRET = 's3cr3t-bridge-value';
  const cases: { name: string; handler: ReturnType<typeof answers>; call?: string; message: RegExp }[] = [
    {
      name: 'a message that forges lines in the app\'s log',
      handler: answers(500, JSON.stringify({ status: 'error', message: 'no\n[2026-12-07 10:00:00] production.CRITICAL: forged\r\x1b[2Jx' })),
      message: /^wsCast: wsgate answered 500: no \[2026-12-07 10:00:00\] production\.CRITICAL: forged \[2Jx$/,
    },
    { name: 'a message of 1 MB', handler: answers(500, JSON.stringify({ status: 'error', message: 'x'.repeat(1 << 20) })), message: /^wsCast: wsgate answered 500: x{200}…$/ },
    { name: 'a message that is no text', handler: answers(500, JSON.stringify({ status: 'error', message: { a: [1] } })), message: /^wsCast: wsgate answered 500: \{"a":\[1\]\}$/ },
    {
      name: 'the request\'s secret, echoed',
      handler: (req, res) => answers(401, `denied: ${req.headers.authorization}`, 'text/plain')(req, res),
      message: /^wsCast: wsgate answered 401: denied: Bearer \*\*\*$/,
    },
    { name: 'an ok without the count', handler: answers(200, '{"status":"ok"}'), message: /^wsCast: wsgate's answer has no "sent": \{"status":"ok"\}$/ },
    {
      name: 'an ok without the members',
      handler: answers(200, '{"status":"ok","sockets":1}'),
      call: `wsPresence('room', 'app.test', 1.0)`,
      message: /^wsPresence: wsgate's answer has no "tokens": /,
    },
  ];
  for (const { name, handler, call, message } of cases) {
    it(`throws a RuntimeException with a clean one-line message for ${name}`, async () => {
      const url = await hostile(handler);
      const { thrown } = await php(call ?? CAST, { WSGATE_URL: url, WSGATE_SECRET: SECRET });
      assert.ok(thrown, 'the call failed');
      assert.equal(thrown.class, 'RuntimeException', thrown.message.slice(0, 300));
      assert.match(thrown.message, message);
      assert.ok(!thrown.message.includes(SECRET));
    });
  }
});

describe('an SDK call given WSGATE_SECRET', () => {
  /** A server that answers ok, keeping the headers of the calls it got. */
  async function recording() {
    const calls: IncomingMessage['headers'][] = [];
    const url = await hostile((req, res) => {
      calls.push(req.headers);
      answers(200, '{"status":"ok","sent":1}')(req, res);
    });
    return { url, calls };
  }

  it('refuses one with a line break instead of sending it as more headers', async () => {
    const { url, calls } = await recording();
    const { thrown } = await php(CAST, { WSGATE_URL: url, WSGATE_SECRET: 'abc\r\nX-Injected: yes' });
    assert.deepEqual(calls.map((headers) => headers['x-injected']), [], 'the secret was sent as a header of its own');
    assert.ok(thrown, 'the call failed');
    assert.equal(thrown.message, 'wsCast: WSGATE_SECRET holds a line break or other control character');
  });

  it('sends "0" as the secret it is', async () => {
    const { url, calls } = await recording();
    const { result } = await php(CAST, { WSGATE_URL: url, WSGATE_SECRET: '0' });
    assert.equal(result, 1);
    assert.deepEqual(calls.map((headers) => headers.authorization), ['Bearer 0']);
  });
});
