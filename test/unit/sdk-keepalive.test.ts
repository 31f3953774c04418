/**
 * The plain-PHP SDK against a server that keeps the connection open after
 * its answer, though the call asked it to close: the answer is complete once
 * its framing says so (its Content-Length, or a chunked body's last chunk),
 * and the call returns then, not at its timeout.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../support/server.ts';

const SDK = join(ROOT, 'php', 'wsgate.php');
const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** A server that writes `answer` as it is once the request is in, and never closes. */
async function keepsOpen(answer: string): Promise<string> {
  const server = createServer((req: IncomingMessage) => {
    req.resume();
    req.on('end', () => req.socket.write(answer));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** wsCast() with a 2 s timeout against `url`: what it returned or threw, and how long it took. */
async function cast(url: string): Promise<{ result?: unknown; thrown?: string; seconds: number }> {
  const code = `require ${JSON.stringify(SDK)};
    $start = microtime(true);
    try { $out = ['result' => wsCast(['n' => 1], 'all', '', 'app.test', 2.0)]; }
    catch (Throwable $e) { $out = ['thrown' => $e->getMessage()]; }
    $out['seconds'] = microtime(true) - $start;
    echo json_encode($out);`;
  const child = spawn('php', ['-r', code], { env: { ...process.env, WSGATE_URL: url, WSGATE_SECRET: '', WSGATE_HOST: '' } });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  await new Promise((resolve) => child.on('close', resolve));
  return JSON.parse(stdout) as { result?: unknown; thrown?: string; seconds: number };
}

const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n';

describe('a bridge call to a server that keeps the connection open', () => {
  const framings = {
    'a Content-Length': `${head}Content-Length: 24\r\n\r\n{"status":"ok","sent":3}`,
    'a chunked body': `${head}Transfer-Encoding: chunked\r\n\r\nf\r\n{"status":"ok",\r\n9\r\n"sent":3}\r\n0\r\n\r\n`,
    'a chunked body with a chunk extension and a trailer': `${head}Transfer-Encoding: chunked\r\n\r\n18;x=y\r\n{"status":"ok","sent":3}\r\n0\r\nX-Trailer: 1\r\n\r\n`,
  };
  for (const [name, answer] of Object.entries(framings)) {
    it(`returns once ${name} is in, not at its timeout`, async () => {
      const { result, thrown, seconds } = await cast(await keepsOpen(answer));
      assert.equal(thrown, undefined);
      assert.equal(result, 3);
      assert.ok(seconds < 1, `the call took ${seconds} s`);
    });
  }
});
