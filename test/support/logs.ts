/**
 * The gateway's own word on a socket, from its log: the id it gave the socket
 * of a token (the `open` line names tokens by a short SHA-256 only) and the
 * code its `close` line recorded. For what the client cannot see, such as the
 * code a runtime failed a connection with when it sent no close frame.
 */
import { createHash } from 'node:crypto';
import type { Started } from './server.ts';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const shortHash = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 12);
const openLine = (host: string, token: string, id: string) => new RegExp(` open host=${escape(host)} socket=${id} token=${shortHash(token)} `);

/** The ids of the sockets of `token` on `host` logged so far: to tell a token's next socket from its earlier ones. */
export function loggedSocketIds(server: Started, host: string, token: string): string[] {
  const pattern = openLine(host, token, '([0-9a-f]{16})');
  return server.logs.flatMap((line) => pattern.exec(line)?.[1] ?? []);
}

/**
 * The socket id of `token`'s socket on `host`, other than those in `except`;
 * waits for its `open` line (the log pipe may be behind the socket).
 */
export async function socketIdOf(server: Started, host: string, token: string, except: string[] = [], timeoutMs?: number): Promise<string> {
  const id = except.length ? `(?!${except.join('|')})[0-9a-f]{16}` : '[0-9a-f]{16}';
  const line = await server.waitForLog(openLine(host, token, id), timeoutMs);
  return / socket=([0-9a-f]{16})/.exec(line)![1]!;
}

/** The close code of the socket's `close` line, once it is logged. */
export async function loggedCloseCode(server: Started, host: string, socket: string, timeoutMs?: number): Promise<number> {
  const line = await server.waitForLog(new RegExp(` close host=${escape(host)} socket=${socket} `), timeoutMs);
  return Number(/ code=(\d+)/.exec(line)?.[1]);
}
