/**
 * Socket ids as spelt from a socket's serial: its place among the hub's
 * sockets and that place's nonce. The id leads back to the socket without an
 * index by id, and a socket keeps a number rather than a string: an index
 * entry and a string per socket were a third of what the gateway kept of an
 * idle socket beyond the runtime's own (docs/BENCHMARKS.md, "Eighth step").
 *
 * 64 bits, as the contract's 16 lower-case hex characters: this process's
 * salt (12 bits), the nonce (28), the place (24). A place's nonce starts at
 * random and moves on each time the place is given up, so an id that is kept
 * after its socket closed does not name the next socket in that place; the
 * salt and the random start keep ids of different nodes apart.
 * Pusher's ids spell the same 64 bits as its clients check them (`\d+\.\d+`).
 */
import { randomBytes } from 'node:crypto';

export const PLACE_BITS = 24;
export const NONCE_BITS = 28;
const SALT_BITS = 12;
/** Places a hub has at most: a socket more than that is refused. */
export const PLACES = 2 ** PLACE_BITS;
export const NONCES = 2 ** NONCE_BITS;

/** This process's salt: ids of another node (another salt) are not looked for here. */
const SALT = randomBytes(2).readUInt16BE(0) >> (16 - SALT_BITS);

/** What a socket keeps as its id: nonce * PLACES + place, exact in a double. */
export const serialOf = (place: number, nonce: number): number => nonce * PLACES + place;
export const placeOf = (serial: number): number => serial % PLACES;
export const nonceOf = (serial: number): number => Math.floor(serial / PLACES);

const hex = (value: number, digits: number): string => value.toString(16).padStart(digits, '0');

/** The contract's id: 16 lower-case hex characters. */
export function socketIdText(serial: number): string {
  return hex(SALT, 3) + hex(nonceOf(serial), 7) + hex(placeOf(serial), 6);
}

/** The same id as Pusher spells one: two numbers joined by a dot. */
export function pusherIdText(serial: number): string {
  return `${SALT * NONCES + nonceOf(serial)}.${placeOf(serial)}`;
}

const HEX_ID = /^[0-9a-f]{16}$/;
const PUSHER_ID = /^(\d{1,13})\.(\d{1,8})$/;

/** The serial an id of this process spells, either way; undefined for anything else (another node's, made up). */
export function serialOfId(id: string): number | undefined {
  let salt: number;
  let nonce: number;
  let place: number;
  if (HEX_ID.test(id)) {
    salt = parseInt(id.slice(0, 3), 16);
    nonce = parseInt(id.slice(3, 10), 16);
    place = parseInt(id.slice(10), 16);
  } else {
    const pusher = PUSHER_ID.exec(id);
    if (!pusher) return undefined;
    const high = Number(pusher[1]);
    salt = Math.floor(high / NONCES);
    nonce = high % NONCES;
    place = Number(pusher[2]);
  }
  return salt === SALT && place < PLACES ? serialOf(place, nonce) : undefined;
}
