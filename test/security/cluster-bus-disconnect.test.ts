/**
 * A disconnect on the cluster bus is checked as the bridge checks one: a
 * close code an app may send and a reason that fits a close frame. The
 * runtimes each fail differently on others (Node's ws throws and the socket
 * stays, Bun puts 1005 or the code mod 65536 on the wire, Deno drops the
 * connection with 1006), so one from anyone who can PUBLISH on the Redis,
 * or a node of another build, is ignored and logged, and closes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import { redisMissing, startRedis } from '../support/redis.ts';
import { Redis } from 'ioredis';

const skip = targetAvailable() ?? redisMissing;

describe(`a disconnect on the bus that no bridge call could make, on ${TARGET}`, { skip, timeout: 60_000 }, () => {
  it('is ignored and logged, and the sockets stay open', async () => {
    const redis = await startRedis();
    const { port } = redis;
    const writer = new Redis(port, '127.0.0.1');
    const node = await startServer({ config: { hosts: { 'c.test': { app: APP, build: false } }, cluster: { redis: `redis://127.0.0.1:${port}`, node: 'n1', heartbeat: 0.2, ttl: 1.5, deadline: 1 } } });
    try {
      const cast = async (data: string) => (await (await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'c.test', target: 'all', data }) })).json()) as { sent?: number; nodes?: { answered: string[] } };
      await waitFor('the node in the cluster', async () => (await cast('probe')).nodes?.answered.includes('n1'));
      const client = await connect(node.port, { host: 'c.test', token: 't' });
      // Counted once its connect hook is done.
      await waitFor('the socket counted', async () => (await cast('hello')).sent === 1);
      for (const [code, reason] of [[1005, 'reserved'], [70000, 'too big'], [1000, 'r'.repeat(124)], [4000.5, 'fraction']] as const) {
        node.logs.length = 0;
        await writer.publish('wsgate:bus', JSON.stringify({ id: '', from: 'intruder', request: { t: 'disconnect', host: 'c.test', selection: { kind: 'all' }, code, reason } }));
        // Bridge calls follow it on the bus: this one is applied after it.
        assert.equal((await cast(`after ${code}`)).sent, 1, `the socket is still there after code ${code}`);
        await waitFor(`"after ${code}" received`, () => client.received.includes(`"after ${code}"`));
        assert.match(await node.waitForLog(/cluster message ignored/), code === 1000 ? /reason/ : /close code/);
      }
      client.ws.terminate();
    } finally {
      writer.disconnect();
      await node.stop();
      await redis.stop();
    }
  });
});
