import { createHash } from 'node:crypto';

const HEX = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];
// Random bytes are drawn a page at a time: one call into the runtime's generator costs as much as a whole upgrade's JS.
const pool = new Uint8Array(4096);
let taken = pool.length;
const codes = new Array<number>(16);

/** 16 lower-case hex characters from 8 random bytes, as one flat string (not a rope of pieces): the demo pages' tokens and names. */
export function randomHexId(): string {
  if (taken + 8 > pool.length) {
    crypto.getRandomValues(pool);
    taken = 0;
  }
  for (let i = 0; i < 8; i++) {
    const byte = pool[taken + i]!;
    codes[2 * i] = HEX[byte >> 4]!;
    codes[2 * i + 1] = HEX[byte & 15]!;
  }
  taken += 8;
  return String.fromCharCode(...codes);
}

/** Tokens are credentials: only their SHA-256 ever leaves the process. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** The first 12 hex characters of a token's sha256: enough to tell tokens apart in logs and on the dashboard. */
export function shortHash(tokenHash: string): string {
  return tokenHash.slice(0, 12);
}
