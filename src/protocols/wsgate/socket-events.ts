/** The runtime's WebSocket events of a wsgate connection, handed to the core: the open, each frame, the close. */
import type { WSContext } from 'hono/ws';
import { Client } from '../../core/client.ts';
import type { Authorized } from '../../core/client.ts';
import type { Connections } from '../../core/connections.ts';
import { deliver } from '../incoming.ts';

/**
 * One accepted connection with the runtime's events as methods. The runtime
 * keeps this object as long as the socket is open, so it holds only what
 * later events need, and never the upgrade's request. The core comes with
 * the class (clientEventsOf), not as a field: a thirteenth field would take
 * every socket to Bun's next object size.
 */
export abstract class ClientEvents extends Client {
  abstract readonly core: Connections;
  onOpen(_event: Event, ws: WSContext<unknown>): void {
    if (this.attached) return;
    this.core.open(this, ws.raw);
  }
  onMessage(event: MessageEvent): void {
    if (this.attached) deliver(this.core, this, event.data);
  }
  /** A ping or pong, where the runtime tells of them: counted against its rate. */
  onControl(): void {
    if (this.attached) this.core.control(this);
  }
  onClose(event: CloseEvent): void {
    if (this.attached) this.core.closed(this, event.code);
  }
}

/** The ClientEvents of one gateway's core. */
export function clientEventsOf(core: Connections): new (authorized: Authorized) => ClientEvents {
  return class extends ClientEvents {
    get core(): Connections {
      return core;
    }
  };
}
