/**
 * The runtime's WebSocket events of a wsgate connection, handed to the
 * core: frames as text (binary ones too, as the old servers did), the size
 * check for runtimes that have none of their own, and the open and close.
 */
import type { WSContext } from 'hono/ws';
import { Client } from '../../core/client.ts';
import type { Authorized } from '../../core/client.ts';
import type { Connections } from '../../core/connections.ts';

const decoder = new TextDecoder();

/** Binary frames reach the app as text, as they did with the old servers. */
export function frameText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return decoder.decode(data);
  if (ArrayBuffer.isView(data)) return decoder.decode(data);
  return String(data);
}

/** A frame's size as it came (the check for the pre-auth byte bound; exact for binary, close enough for text). */
export function frameBytes(data: unknown): number {
  if (typeof data === 'string') return data.length;
  if (data instanceof ArrayBuffer) return data.byteLength;
  return ArrayBuffer.isView(data) ? data.byteLength : 0;
}

/** A client frame to the core, after the size check for runtimes that have none of their own. */
export function deliver(core: Connections, client: Client, data: unknown): void {
  const size = frameBytes(data);
  if (size > core.limits.frame && (typeof data !== 'string' || new TextEncoder().encode(data).byteLength > core.limits.frame)) {
    return core.tooBig(client, size);
  }
  core.message(client, frameText(data));
}

/**
 * One accepted connection with the runtime's events as methods. The runtime
 * keeps this object as long as the socket is open, so it holds only what
 * later events need, and never the upgrade's request.
 */
export class ClientEvents extends Client {
  readonly core: Connections;
  constructor(core: Connections, authorized: Authorized) {
    super(authorized);
    this.core = core;
  }
  onOpen(_event: Event, ws: WSContext<unknown>): void {
    if (this.attached) return;
    this.core.open(this, ws.raw);
  }
  onMessage(event: MessageEvent): void {
    if (this.attached) deliver(this.core, this, event.data);
  }
  onClose(event: CloseEvent): void {
    if (this.attached) this.core.closed(this, event.code);
  }
}
