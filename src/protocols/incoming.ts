/**
 * A client's frames as every protocol hands them to the core: as text
 * (binary ones too, as the old servers did), after the size check for
 * runtimes that have none of their own.
 */
import type { Client } from '../core/client.ts';
import type { Connections } from '../core/connections.ts';
import { utf8Length } from '../core/utf8.ts';

const decoder = new TextDecoder();

/** Binary frames reach the app as text, as they did with the old servers. */
export function frameText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return decoder.decode(data);
  if (ArrayBuffer.isView(data)) return decoder.decode(data);
  return String(data);
}

/**
 * A frame's size as it came on the wire: text in UTF-8, not in UTF-16 units,
 * which count a character of 3 bytes as 1 and would let a frame weigh three
 * times what its bounds allow.
 */
export function frameBytes(data: unknown): number {
  if (typeof data === 'string') return utf8Length(data);
  if (data instanceof ArrayBuffer) return data.byteLength;
  return ArrayBuffer.isView(data) ? data.byteLength : 0;
}

/** The most UTF-8 bytes one UTF-16 unit takes (a surrogate pair, 2 units, takes 4). */
const MAX_BYTES_PER_UNIT = 3;

/** A client frame to the core, after the size check for runtimes that have none of their own. */
export function deliver(core: Connections, client: Client, data: unknown): void {
  const limit = core.limits.frame;
  // Text that would fit even at 3 bytes a unit is not scanned: the common frame is far below the limit.
  if (typeof data !== 'string' || data.length * MAX_BYTES_PER_UNIT > limit) {
    const size = frameBytes(data);
    if (size > limit) return core.tooBig(client, size);
  }
  try {
    core.message(client, frameText(data));
  } catch (error) {
    // Never into the runtime's listener (core/lifecycle.ts failed()).
    core.failed(client, error);
  }
}

