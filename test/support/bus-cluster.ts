/**
 * wsgate nodes in a cluster on a real redis-server of their own, and a
 * client of that Redis of the test's own: whoever can PUBLISH on the bus
 * (a hostile client of the Redis, a corrupt or foreign node) sends what the
 * security tests of the bus forge.
 */
import { Redis } from 'ioredis';
import { waitFor } from './events.ts';
import { startRedis } from './redis.ts';
import type { RedisServer } from './redis.ts';
import { APP, startServer } from './server.ts';
import type { Started } from './server.ts';

export const BUS_HOST = 'c.test';

export interface BusCluster {
  redis: RedisServer;
  /** The test's own client of the cluster's Redis. */
  writer: Redis;
  /** Starts node `name`, its host `c.test` given `host` on top of the app; stop() kills it. */
  startNode(name: string): Promise<Started>;
  /** Publishes each request on the bus as if from a node named `intruder`, a string as it is, in one go and in order. */
  forge(...messages: Array<object | string>): Promise<void>;
  /** Kills every node started, then Redis. */
  stop(): Promise<void>;
}

/** Nodes beat every `heartbeat` s (ttl and deadline as in the cluster config); `host`: more of c.test's config. */
export async function startBusCluster(options: { heartbeat: number; ttl: number; deadline: number; host?: object }): Promise<BusCluster> {
  const { host = {}, ...timing } = options;
  const redis = await startRedis();
  const writer = new Redis(redis.port, '127.0.0.1');
  const nodes: Started[] = [];
  return {
    redis,
    writer,
    async startNode(name) {
      const node = await startServer({ config: { hosts: { [BUS_HOST]: { app: APP, build: false, ...host } }, cluster: { redis: `redis://127.0.0.1:${redis.port}`, node: name, ...timing } } });
      nodes.push(node);
      return node;
    },
    async forge(...messages) {
      const batch = writer.pipeline();
      for (const message of messages) batch.publish('wsgate:bus', typeof message === 'string' ? message : JSON.stringify({ id: '', from: 'intruder', request: message }));
      await batch.exec();
    },
    async stop() {
      writer.disconnect();
      for (const node of nodes.reverse()) await node.stop('SIGKILL');
      await redis.stop();
    },
  };
}

/** POSTs `data` to `target` of c.test through `node`'s bridge; the cluster's answer says which nodes answered. */
export async function sendThrough(node: Started, target: string, data: string): Promise<{ nodes?: { answered: string[]; missing: string[] } }> {
  const res = await fetch(`${node.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: BUS_HOST, target, data }) });
  return (await res.json()) as { nodes?: { answered: string[]; missing: string[] } };
}

/** The nodes that answered a send to every socket of c.test through `node`, and those it named missing. */
export async function askAll(node: Started): Promise<{ answered: string[]; missing: string[] }> {
  const { nodes } = await sendThrough(node, 'all', 'x');
  return { answered: nodes?.answered ?? [], missing: nodes?.missing ?? [] };
}

/** A channel's history on `node`. */
export async function historyOf(node: Started, channel: string): Promise<{ epoch?: string; publications?: Array<{ data: unknown }> }> {
  return (await (await fetch(`${node.url}/history?host=${BUS_HOST}&channel=${channel}`)).json()) as { epoch?: string; publications?: Array<{ data: unknown }> };
}

/**
 * One node, n1, of a cluster on its own, beating fast, whose c.test keeps a
 * history of `room:*` channels; in the cluster once a cast of `probe` to
 * `channel` is answered by it.
 */
export async function startStreamNode(channel: string, host: object = {}): Promise<BusCluster & { node: Started }> {
  const cluster = await startBusCluster({ heartbeat: 0.2, ttl: 1.5, deadline: 1, host: { ...host, channels: { 'room:*': { history: { size: 50, ttl: 60 } } } } });
  try {
    const node = await cluster.startNode('n1');
    await waitFor('the node in the cluster', async () => (await sendThrough(node, `channel:${channel}`, 'probe')).nodes?.answered.includes('n1'));
    return { ...cluster, node };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
