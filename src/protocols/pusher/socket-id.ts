import { randomInt } from 'node:crypto';

/** A Pusher socket id: two numbers joined by a dot, as clients and the SDKs check (`\d+\.\d+`); random, since it names the socket to the app. */
export function pusherSocketId(): string {
  return `${randomInt(1, 2 ** 47)}.${randomInt(1, 2 ** 47)}`;
}
