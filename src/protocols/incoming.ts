/**
 * A client's frames as every protocol hands them to the core: as text
 * (binary ones too, as the old servers did), after the size check for
 * runtimes that have none of their own.
 */
import type { Client } from '../core/client.ts';
import type { Connections } from '../core/connections.ts';

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
  try {
    core.message(client, frameText(data));
  } catch (error) {
    // Never into the runtime's listener (core/lifecycle.ts failed()).
    core.failed(client, error);
  }
}

