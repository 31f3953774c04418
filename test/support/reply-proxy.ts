/**
 * A TCP proxy of the test's own between a client and a redis-server: it
 * forwards every command at once, and can hold Redis's replies (Redis runs
 * the commands all the same) until released, or cut the connections with
 * them, so a test can make an answer come late or never.
 */
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface ReplyProxy {
  url: string;
  /** Holds Redis's replies from now on. */
  hold(): void;
  /** Holds Redis's replies from the first command whose text holds `text` (case-insensitive) on, that command's reply included. */
  holdFrom(text: string): void;
  /** Resolves once a command whose text holds `text` (case-insensitive) has passed to Redis. */
  seen(text: string): Promise<void>;
  /** Lets the held replies through, and those after them. */
  release(): void;
  /** Cuts every connection, dropping the replies held: the client sees its connection close mid-call. */
  cut(): void;
  close(): Promise<void>;
}

export async function replyHoldingProxy(redisPort: number): Promise<ReplyProxy> {
  let holding = false;
  let from: string | undefined;
  const held: Array<{ to: Socket; chunk: Buffer }> = [];
  const sockets = new Set<Socket>();
  const watches: Array<{ text: string; resolve: () => void }> = [];
  const server: Server = createServer((client) => {
    const upstream = createConnection(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1').toLowerCase();
      if (from !== undefined && text.includes(from)) [holding, from] = [true, undefined];
      upstream.write(chunk);
      for (const watch of watches.filter((one) => text.includes(one.text))) watches.splice(watches.indexOf(watch), 1), watch.resolve();
    });
    upstream.on('data', (chunk: Buffer) => (holding ? held.push({ to: client, chunk }) : client.write(chunk)));
    const end = () => (client.destroy(), upstream.destroy());
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    hold: () => void (holding = true),
    holdFrom: (text) => void (from = text.toLowerCase()),
    seen: (text) => new Promise<void>((resolve) => watches.push({ text: text.toLowerCase(), resolve })),
    release: () => {
      holding = false;
      from = undefined;
      for (const { to, chunk } of held.splice(0)) to.write(chunk);
    },
    cut: () => {
      held.splice(0);
      holding = false;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
