/**
 * The hub's sockets by place, which their ids spell (socket-ids.ts): a
 * socket is found from its id by its place, with no index by id.
 *
 * A place is reserved when an upgrade is given its id (the auth hook gets
 * it), taken when the socket opens, and given up when it closes or its
 * upgrade is refused. An upgrade that was accepted but whose socket never
 * opens (its client vanished between the answer and the runtime's open) says
 * nothing: a place handed over waits for its open at most HANDOVER_MS, then
 * the next reservation gives it up.
 */
import { NONCES, PLACES, nonceOf, placeOf, serialOf } from './socket-ids.ts';

/** How long an accepted upgrade's place waits for its socket to open. */
export const HANDOVER_MS = 10_000;

const RESERVED = Symbol('reserved');
/** Reserved, and its upgrade accepted: the place waits for its socket to open. */
const HANDED_OVER = Symbol('handed over');

/** A FIFO of numbers: an array read from `head`, compacted once half of it is read. */
class NumberQueue {
  #items: number[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(value: number): void {
    this.#items.push(value);
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  peek(): number | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  shift(): number | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const value = this.#items[this.#head++]!;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }
}

/** What an upgrade does with its place before its socket opens. */
export interface Reservations {
  /** A place, as the serial its id spells; undefined when every place is used. */
  reserve(): number | undefined;
  /** The upgrade was accepted: its place waits for the open, at most HANDOVER_MS. */
  handOver(serial: number): void;
  /** The upgrade was refused: its place goes back (a place its socket took stays). */
  unreserve(serial: number): void;
}

export class SocketPlaces<T extends object> implements Reservations {
  #occupants: Array<T | typeof RESERVED | typeof HANDED_OVER | undefined> = [];
  /** Each place's nonce now: the serial of whoever holds it. */
  #nonces = new Uint32Array(1024);
  /** Places given up, oldest first: a place is used again as late as can be, so a kept id stays unused longer. */
  #free = new NumberQueue();
  /**
   * Places handed over, oldest first, as pairs in turn: when it stops
   * waiting for its open, then its serial. One queue without an object per
   * upgrade, and the deadline first so it is the one peeked at.
   */
  #handedOver = new NumberQueue();
  /**
   * Places handed over that still wait for their open. At none, every pair
   * left in #handedOver is stale and the queue is emptied: the sockets of a
   * burst keep nothing of their handover once they all opened, where the
   * pairs used to stay until a reservation came after their deadline.
   */
  #waiting = 0;
  #taken = 0;
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Sockets that hold a place (opened and not gone). */
  get size(): number {
    return this.#taken;
  }

  reserve(): number | undefined {
    this.#expire();
    let place = this.#free.shift();
    if (place === undefined) {
      place = this.#occupants.length;
      if (place >= PLACES) return undefined;
      this.#occupants.push(undefined);
      if (place >= this.#nonces.length) {
        const grown = new Uint32Array(Math.min(PLACES, this.#nonces.length * 2));
        grown.set(this.#nonces);
        this.#nonces = grown;
      }
      this.#nonces[place] = Math.floor(Math.random() * NONCES);
    }
    this.#occupants[place] = RESERVED;
    return serialOf(place, this.#nonces[place]!);
  }

  handOver(serial: number): void {
    if (!this.#reserved(serial)) return;
    this.#occupants[placeOf(serial)] = HANDED_OVER;
    this.#waiting++;
    this.#handedOver.push(this.#now() + HANDOVER_MS);
    this.#handedOver.push(serial);
  }

  unreserve(serial: number): void {
    if (this.#reserved(serial)) this.release(serial);
  }

  /** The socket opened: it holds its place. False when the place is not its own any more (given up meanwhile). */
  take(serial: number, socket: T): boolean {
    if (!this.#reserved(serial)) return false;
    const place = placeOf(serial);
    if (this.#occupants[place] === HANDED_OVER) this.#stopWaiting();
    this.#occupants[place] = socket;
    this.#taken++;
    return true;
  }

  /** Numbers the handover queue keeps (two per place handed over whose open is awaited, at most). */
  get handoverEntries(): number {
    return this.#handedOver.size;
  }

  /** The socket at `serial`'s place, when that place is still `serial`'s and taken. */
  get(serial: number): T | undefined {
    if (!this.#current(serial)) return undefined;
    const occupant = this.#occupants[placeOf(serial)];
    return occupant === RESERVED || occupant === HANDED_OVER ? undefined : occupant;
  }

  /** Gives up `serial`'s place, reserved or taken; false when it was not its own any more. */
  release(serial: number): boolean {
    if (!this.#current(serial)) return false;
    const place = placeOf(serial);
    const occupant = this.#occupants[place];
    if (occupant === undefined) return false;
    if (occupant === HANDED_OVER) this.#stopWaiting();
    else if (occupant !== RESERVED) this.#taken--;
    this.#occupants[place] = undefined;
    this.#nonces[place] = (this.#nonces[place]! + 1) % NONCES;
    this.#free.push(place);
    return true;
  }

  /** `serial`'s place is its own and not taken by a socket yet (reserved, or handed over). */
  #reserved(serial: number): boolean {
    if (!this.#current(serial)) return false;
    const occupant = this.#occupants[placeOf(serial)];
    return occupant === RESERVED || occupant === HANDED_OVER;
  }

  #stopWaiting(): void {
    if (--this.#waiting === 0) this.#handedOver.clear();
  }

  #current(serial: number): boolean {
    const place = placeOf(serial);
    return place < this.#occupants.length && this.#nonces[place] === nonceOf(serial);
  }

  /** Gives up the places handed over that never opened in time. */
  #expire(): void {
    const now = this.#now();
    for (let deadline = this.#handedOver.peek(); deadline !== undefined && deadline <= now; deadline = this.#handedOver.peek()) {
      this.#handedOver.shift();
      this.unreserve(this.#handedOver.shift()!);
    }
  }
}
