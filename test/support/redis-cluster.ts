/**
 * A Redis Cluster of the test's own: three masters with a replica each
 * (Debian's redis-server with `--cluster-enabled yes`, joined by
 * `redis-cli --cluster create`), on free loopback ports, without
 * persistence, a node timeout of one second so a replica takes over soon.
 * `failover(slot)` kills the master that serves a slot, as a crash would,
 * and resolves once its replica serves it; `reshard(slot)` moves a slot to
 * another master.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './events.ts';
import { formedOrStopped, freePort, startRedis } from './redis.ts';
import type { RedisServer } from './redis.ts';

export interface RedisClusterForTests {
  /** The URL wsgate takes: redis+cluster://127.0.0.1:<port>,... (every master's). */
  url: string;
  /** The port of the master that serves `slot` now. */
  masterOf(slot: number): Promise<number>;
  /** Kills the master that serves `slot`; resolves with the port of the one that serves it then. */
  failover(slot: number): Promise<number>;
  /** Moves `slot`, its keys with it, to another master (a resharding); resolves with that master's port. */
  reshard(slot: number): Promise<number>;
  stop(): Promise<void>;
}

type SlotRange = [number, number, [string, number, ...unknown[]], ...Array<[string, number, ...unknown[]]>];

export async function startRedisCluster(): Promise<RedisClusterForTests> {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-rcluster-'));
  const servers = new Map<number, RedisServer>();
  const stop = async () => {
    for (const server of servers.values()) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return formedOrStopped(() => formCluster(dir, servers, stop), stop);
}

async function formCluster(dir: string, servers: Map<number, RedisServer>, stop: () => Promise<void>): Promise<RedisClusterForTests> {
  for (let i = 0; i < 6; i++) {
    // The cluster bus port is a free one of its own: redis-server's default, the port + 10000, may be taken (or past 65535).
    const server = await startRedis(undefined, async (port) => {
      // Each node writes its own nodes.conf: a dir each.
      const own = join(dir, String(port));
      mkdirSync(own, { recursive: true });
      return ['--dir', own, '--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000', '--repl-diskless-sync-delay', '0'];
    });
    servers.set(server.port, server);
  }
  const ports = [...servers.keys()];
  const create = spawn('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  create.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  create.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => create.once('exit', resolve));
  if (code !== 0) throw new Error(`redis-cli --cluster create failed (${code}):\n${output}`);
  const alive = () => [...servers].filter(([, server]) => server.child.exitCode === null && server.child.signalCode === null).map(([port]) => port);
  const ask = async <T>(port: number, ...command: string[]): Promise<T> => {
    const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      return (await client.call(command[0]!, ...command.slice(1))) as T;
    } finally {
      client.disconnect();
    }
  };
  // Every node agrees the cluster is whole (create returns once the slots are assigned, not once all nodes have heard).
  for (const port of ports) await waitFor(`node ${port} sees the cluster ok`, async () => (/cluster_state:ok/.test(await ask<string>(port, 'CLUSTER', 'INFO')) ? true : undefined), 20_000);
  // A replica that has not synced yet refuses to take over: the failover tests need all of them in sync.
  for (const port of ports) {
    await waitFor(`node ${port} is a master or a replica in sync`, async () => (/role:master|master_link_status:up/.test(await ask<string>(port, 'INFO', 'replication')) ? true : undefined), 20_000);
  }
  const masterOf = async (slot: number, from = alive()[0]!) => {
    const ranges = await ask<SlotRange[]>(from, 'CLUSTER', 'SLOTS');
    const range = ranges.find(([start, end]) => slot >= start && slot <= end);
    if (!range) throw new Error(`no node serves slot ${slot}`);
    return Number(range[2][1]);
  };
  const masters = await Promise.all([0, 5461, 10923].map((slot) => masterOf(slot)));
  return {
    url: `redis+cluster://${masters.map((port) => `127.0.0.1:${port}`).join(',')}`,
    masterOf: (slot) => masterOf(slot),
    async failover(slot) {
      const before = await masterOf(slot);
      await servers.get(before)!.stop();
      // Asked of a survivor, which hears of the promotion over the cluster bus.
      return waitFor(`a replica serves slot ${slot}`, async () => {
        const now = await masterOf(slot).catch(() => before);
        return now !== before && /cluster_state:ok/.test(await ask<string>(now, 'CLUSTER', 'INFO')) ? now : undefined;
      }, 30_000);
    },
    async reshard(slot) {
      const from = await masterOf(slot);
      const roles = await Promise.all(alive().map(async (port) => ({ port, role: (await ask<string[]>(port, 'ROLE'))[0] })));
      const masters = roles.filter(({ role }) => role === 'master').map(({ port }) => port);
      const to = masters.find((port) => port !== from)!;
      const id = async (port: number) => ask<string>(port, 'CLUSTER', 'MYID');
      const [fromId, toId] = [await id(from), await id(to)];
      // The steps of CLUSTER SETSLOT's own documentation: importing, migrating, the keys, then the slot's new owner everywhere.
      await ask(to, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId);
      await ask(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId);
      for (;;) {
        const keys = await ask<string[]>(from, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100');
        if (keys.length === 0) break;
        await ask(from, 'MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...keys);
      }
      for (const port of [to, from, ...masters.filter((port) => port !== to && port !== from)]) await ask(port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
      return to;
    },
    stop,
  };
}
