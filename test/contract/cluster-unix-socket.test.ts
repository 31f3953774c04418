/**
 * Cluster mode over a Redis on this machine's Unix socket
 * (`unix:///path/redis.sock?password=...`): two nodes find each other through
 * it, a cast reaches both with the exact sum, and the log shows the URL
 * without its password. Redis listens on no TCP port at all, so nothing
 * could have gone another way. Skipped when redis-server is missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { ROOT, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';
import { redisMissing } from '../support/redis.ts';

const skip = targetAvailable() ?? redisMissing;

describe(`cluster over a Redis Unix socket on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-redis-sock-'));
  const socket = join(dir, 'redis.sock');
  const nodes: Started[] = [];
  const clients: Client[] = [];
  let redis: ReturnType<typeof spawn> | undefined;

  before(async () => {
    redis = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--requirepass', 'sock-secret', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      redis!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // With no TCP port, Redis 7.0 says "The server is now ready to accept connections at <path>".
        if (/ready to accept connections/i.test(output)) resolve();
      });
      redis!.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
    });
    const url = `unix://${socket}?password=sock-secret&prefix=sock:`;
    // A ttl and deadline well above a loaded machine's stalls of a node process: no node is taken for gone or named missing.
    for (const name of ['n1', 'n2']) {
      nodes.push(await startServer({ config: { hosts: { 'u.test': { module: join(ROOT, 'test', 'fixtures', 'hooks.ts') } }, cluster: { redis: url, node: name, heartbeat: 0.2, ttl: 5, deadline: 5 } } }));
    }
    for (const node of nodes) await waitFor(`${node.url} knows both nodes`, async () => ((await health(node)).cluster?.live.length === 2 ? true : undefined));
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    for (const node of nodes) await node.stop();
    redis?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const health = async (node: Started) => (await (await fetch(`${node.url}/health`)).json()) as { cluster?: { live: string[] } };

  it('casts to both nodes with the exact sum, and logs the URL without its password', async () => {
    const [n1, n2] = nodes as [Started, Started];
    const a = await connect(n1.port, { host: 'u.test', token: 'a' });
    const b = await connect(n2.port, { host: 'u.test', token: 'b' });
    clients.push(a, b);
    const res = await fetch(`${n2.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'u.test', target: 'all', data: 'over the socket' }) });
    const answer = (await res.json()) as { sent?: number; nodes?: { answered: string[]; missing: string[] } };
    assert.equal(answer.sent, 2, JSON.stringify(answer));
    assert.deepEqual(answer.nodes?.missing, []);
    assert.equal(await a.next(), '"over the socket"');
    assert.equal(await b.next(), '"over the socket"');
    const line = await n1.waitForLog(/ cluster node=n1 redis=/);
    assert.match(line, /redis="unix:\/\/\S*redis\.sock\?password=\*\*\*&prefix=sock%3A"$/);
    assert.doesNotMatch(n1.logs.join('\n'), /sock-secret/);
  });
});
