/**
 * WebSocket text frames built by hand (RFC 6455 section 5.2), for the Node
 * adapter's cast path: one buffer per cast, written as it is to every socket.
 * Server frames are never masked, so the bytes are the same for all of them.
 */

/** A whole unmasked text frame (RFC 6455 5.2), header and payload in one buffer: the same bytes for every socket. */
export function frameOf(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + length);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (head === 2) frame[1] = length;
  else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, head, 'utf8');
  return frame;
}

/** The payload of a frame built by frameOf. */
export function payloadOf(frame: Uint8Array): Uint8Array {
  const length = frame[1]! & 0x7f;
  return frame.subarray(length === 127 ? 10 : length === 126 ? 4 : 2);
}
