/**
 * A TCP proxy of the test's own in front of one redis-server, then another:
 * `switchTo(port)` cuts every connection and sends the new ones to the other
 * server, as a failover moves a client to the promoted replica.
 */
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';

export interface SwitchingProxy {
  url: string;
  /** New connections go to `port` from now on; the open ones are cut. */
  switchTo(port: number): void;
  close(): Promise<void>;
}

export async function switchingProxy(firstPort: number): Promise<SwitchingProxy> {
  let upstreamPort = firstPort;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => (client.destroy(), upstream.destroy(), sockets.delete(client), sockets.delete(upstream));
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const cutAll = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    switchTo: (port) => {
      upstreamPort = port;
      cutAll();
    },
    close: async () => {
      cutAll();
      server.close();
      await once(server, 'close');
    },
  };
}
