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
