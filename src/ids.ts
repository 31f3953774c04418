import { createHash } from 'node:crypto';

/** A socket id: 16 lower-case hex characters from 8 random bytes. */
export function newSocketId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let id = '';
  for (const b of bytes) id += (b < 16 ? '0' : '') + b.toString(16);
  return id;
}

/** Tokens are credentials: only their SHA-256 ever leaves the process. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
