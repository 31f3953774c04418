/**
 * What a protocol's front end may ask of the core for its connections: a
 * place, auth, the open, each frame, the close. The gateway (src/gateway.ts)
 * provides it.
 */
import type { Ticket } from './admissions.ts';
import type { Refusal } from './admission.ts';
import type { Authorized, Client, ClientOptions } from './client.ts';
import type { UpgradeRefusal } from './events.ts';
import type { Limits } from '../config/config.ts';
import type { PathMatch } from '../config/paths.ts';
import type { GoneSignal } from '../runtime/types.ts';

/** How long a socket refused after it opened has to answer its close before it is dropped. */
export const REFUSED_CLOSE_MS = 1000;

export interface Connections {
  readonly limits: Limits;
  admit(host: string, token: string | undefined): { ticket: Ticket } | { refused: Refusal };
  admitToken(ticket: Ticket, token: string): Refusal | undefined;
  authorize(host: string, token: string, path: PathMatch | undefined, client: ClientOptions, signal?: GoneSignal): Promise<Authorized | Refusal>;
  /** An upgrade refused outside authorize(): logged and counted. */
  refused(refusal: UpgradeRefusal): void;
  open(client: Client, raw: unknown): Client;
  message(client: Client, text: string): void;
  /** A ping or pong it sent: counted against its message rate. */
  control(client: Client): void;
  tooBig(client: Client, bytes: number): void;
  /** Handling one of its frames threw: the client is closed with 1011. */
  failed(client: Client, error: unknown): void;
  closed(client: Client, code: number): void;
  /** A frame of the protocol's own to one client; false when it is gone. */
  send(client: Client, frame: string): boolean;
  /**
   * Closes a socket that never became a client (refused after it opened),
   * and drops it if its peer has not answered the close within a second:
   * else a peer that never answers keeps it for the runtime's close timeout
   * (30 s on Node), beyond every limit.
   */
  closeRefused(raw: unknown, code: number, reason: string): void;
  /** Closes a client with a code of the protocol's own. */
  close(client: Client, code: number, reason: string): void;
}
