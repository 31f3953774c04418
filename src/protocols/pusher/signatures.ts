// Placeholder until the pusher-api branch lands its signatures module (same names and arguments).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PusherApp } from '../../config/config.ts';

const hmac = (secret: string, text: string): string => createHmac('sha256', secret).update(text).digest('hex');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function verifyChannel(app: PusherApp, socketId: string, channel: string, auth: string, channelData?: string): boolean {
  const text = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return same(auth, `${app.key}:${hmac(app.secret, text)}`);
}

export function verifyUser(app: PusherApp, socketId: string, userData: string, auth: string): boolean {
  return same(auth, `${app.key}:${hmac(app.secret, `${socketId}::user::${userData}`)}`);
}
