/**
 * The gateway's own word on a socket, from its log: the id it gave the socket
 * of a token (the `open` line names tokens by a short SHA-256 only) and the
 * code its `close` line recorded. For what the client cannot see, such as the
 * code a runtime failed a connection with when it sent no close frame.
 */
import { createHash } from 'node:crypto';
import type { Started } from './server.ts';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The socket id of `token`'s socket on `host`; waits for its `open` line (the log pipe may be behind the socket). */
export async function socketIdOf(server: Started, host: string, token: string, timeoutMs?: number): Promise<string> {
  const tokenHash = createHash('sha256').update(token).digest('hex').slice(0, 12);
  const line = await server.waitForLog(new RegExp(` open host=${escape(host)} socket=[0-9a-f]{16} token=${tokenHash} `), timeoutMs);
  return /socket=([0-9a-f]{16})/.exec(line)![1]!;
}

/** The close code of the socket's `close` line, once it is logged. */
export async function loggedCloseCode(server: Started, host: string, socket: string, timeoutMs?: number): Promise<number> {
  const line = await server.waitForLog(new RegExp(` close host=${escape(host)} socket=${socket} `), timeoutMs);
  return Number(/ code=(\d+)/.exec(line)?.[1]);
}
