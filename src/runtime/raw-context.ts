/**
 * What a socket handler gets as its WSContext where the runtime adapter
 * routes events itself (Bun; Node after the open): made per event and
 * dropped after it. wsgate writes through the Wire, so handlers use only
 * `raw`, and `close` and `send` for a socket refused before it is a client
 * (first-frame auth, a Pusher pusher:error before its close).
 */
import type { WSContext } from 'hono/ws';

interface RawSocket {
  send(data: string): unknown;
  close(code?: number, reason?: string): unknown;
}

class RawContext {
  readonly raw: RawSocket;
  constructor(raw: RawSocket) {
    this.raw = raw;
  }
  send(data: string) {
    this.raw.send(data);
  }
  close(code?: number, reason?: string) {
    this.raw.close(code, reason);
  }
}

export const contextOf = (raw: RawSocket) => new RawContext(raw) as unknown as WSContext<unknown>;
