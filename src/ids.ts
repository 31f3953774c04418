import { createHash, randomBytes } from 'node:crypto';

/** A socket id: 16 lower-case hex characters from 8 random bytes (one flat string, not a rope of 16 pieces). */
export function newSocketId(): string {
  return randomBytes(8).toString('hex');
}

/** Tokens are credentials: only their SHA-256 ever leaves the process. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
