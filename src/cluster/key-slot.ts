/**
 * The slot of a Redis Cluster that serves a key or a shard channel: CRC16
 * (XMODEM) of its hash tag, or of the whole name when it has none, modulo
 * 16384, as Redis computes it (cluster-spec, "Keys distribution model").
 */
import { Buffer } from 'node:buffer';

export const SLOTS = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The part of `name` that is hashed: between its first '{' and the next '}', when that holds anything; else all of it. */
export function hashTag(name: Buffer): Buffer {
  const open = name.indexOf('{');
  if (open < 0) return name;
  const close = name.indexOf('}', open + 1);
  return close > open + 1 ? name.subarray(open + 1, close) : name;
}

export function keySlot(name: string): number {
  return crc16(hashTag(Buffer.from(name))) % SLOTS;
}
