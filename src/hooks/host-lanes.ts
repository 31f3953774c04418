/**
 * Jobs waiting for a hook process or a resident worker, one lane per host,
 * served round-robin: a host with a thousand hooks waiting takes one turn in
 * each round, so another host's single hook waits one round at most instead
 * of behind all of them. Within a lane, sub-lanes (a resident pool's sockets)
 * take turns the same way, each in its own order. Counts what the queue's
 * bound applies to, per lane too, so a full queue can give way to a host that
 * holds fewer places (HookSlots, and a resident pool's FairQueue).
 */

export interface LaneItem {
  /** The lane: the host the hook runs for ('' for what has none, such as /dispatch). */
  readonly lane: string;
  /** Its turn within the lane (a socket); one sub-lane when unset. */
  readonly sublane?: string;
  /** Whether it takes a place under the queue's bound (close hooks do not). */
  readonly bounded: boolean;
}

interface Entry<T> {
  readonly item: T;
  /** Push order across sub-lanes: a full queue gives up a lane's newest. */
  readonly seq: number;
}

/** A lane's sub-lanes in turn order (a Map keeps insertion order; one served goes to the back). */
type Lane<T> = Map<string, Entry<T>[]>;

export class HostLanes<T extends LaneItem> {
  /** Lanes in turn order: a lane served goes to the back. */
  readonly #lanes = new Map<string, Lane<T>>();
  readonly #boundedByLane = new Map<string, number>();
  #size = 0;
  #bounded = 0;
  #seq = 0;

  get size(): number {
    return this.#size;
  }

  /** Items the queue's bound counts. */
  get bounded(): number {
    return this.#bounded;
  }

  boundedIn(lane: string): number {
    return this.#boundedByLane.get(lane) ?? 0;
  }

  push(item: T): void {
    let lane = this.#lanes.get(item.lane);
    if (!lane) this.#lanes.set(item.lane, (lane = new Map()));
    const key = item.sublane ?? '';
    const entry = { item, seq: this.#seq++ };
    const sub = lane.get(key);
    if (sub) sub.push(entry);
    else lane.set(key, [entry]);
    this.#size++;
    if (item.bounded) this.#count(item.lane, 1);
  }

  /** Takes `item` out wherever it is; false when it was not here. */
  remove(item: T): boolean {
    const sub = this.#lanes.get(item.lane)?.get(item.sublane ?? '');
    const at = sub ? sub.findIndex((e) => e.item === item) : -1;
    if (at < 0) return false;
    sub!.splice(at, 1);
    this.#left(item, sub!);
    return true;
  }

  /**
   * Whether an item of `lane` may take a place under `bound`: one is free, or the lane holding the most holds at least
   * two more than `lane` would with it, and gives one up (giveWay). Not for one more: two busy hosts would take a
   * place from each other in turn, each refusal for nothing.
   */
  hasRoom(lane: string, bound: number, extra = 0): boolean {
    if (this.#bounded + extra < bound) return true;
    const fullest = this.#fullest(lane);
    return fullest !== undefined && fullest.bounded > this.boundedIn(lane) + 1;
  }

  /** The queue is full and `lane` holds fewer places than another (hasRoom): that lane's newest bounded item, taken out, to be refused. */
  giveWay(lane: string): T | undefined {
    const fullest = this.#fullest(lane);
    return fullest && this.#popNewestBounded(fullest.lane);
  }

  /** Whether any item waiting would be taken by `fits`. */
  some(fits: (item: T) => boolean): boolean {
    for (const lane of this.#lanes.values()) for (const sub of lane.values()) for (const e of sub) if (fits(e.item)) return true;
    return false;
  }

  /**
   * The first item of the next lane in turn (and within it, of the next sub-lane in turn) that `fits` takes, taken
   * out; its lane and sub-lane go to the back. Items that do not fit (their host's auth cap is full) stay in their
   * order, and later ones of the lane may go.
   */
  next(fits: (item: T) => boolean = () => true): T | undefined {
    for (const [key, lane] of this.#lanes) {
      for (const [subKey, sub] of lane) {
        const at = sub.findIndex((e) => fits(e.item));
        if (at < 0) continue;
        const { item } = at === 0 ? sub.shift()! : sub.splice(at, 1)[0]!;
        lane.delete(subKey);
        if (sub.length > 0) lane.set(subKey, sub);
        this.#lanes.delete(key);
        if (lane.size > 0) this.#lanes.set(key, lane);
        this.#size--;
        if (item.bounded) this.#count(item.lane, -1);
        return item;
      }
    }
    return undefined;
  }

  /** Empties the queue, oldest lanes first. */
  drain(): T[] {
    const all: T[] = [];
    for (const lane of this.#lanes.values()) for (const sub of lane.values()) for (const e of sub) all.push(e.item);
    this.#lanes.clear();
    this.#boundedByLane.clear();
    this.#size = 0;
    this.#bounded = 0;
    return all;
  }

  /** The lane that holds the most bounded places, other than `except`, and how many. */
  #fullest(except: string): { lane: string; bounded: number } | undefined {
    let most: { lane: string; bounded: number } | undefined;
    for (const [lane, n] of this.#boundedByLane) if (lane !== except && (!most || n > most.bounded)) most = { lane, bounded: n };
    return most;
  }

  /** The newest bounded item of a lane, taken out. */
  #popNewestBounded(key: string): T | undefined {
    const lane = this.#lanes.get(key);
    let newest: { sub: Entry<T>[]; at: number; seq: number } | undefined;
    for (const sub of lane?.values() ?? []) {
      for (let at = sub.length - 1; at >= 0; at--) {
        const e = sub[at]!;
        if (!e.item.bounded) continue;
        if (!newest || e.seq > newest.seq) newest = { sub, at, seq: e.seq };
        break;
      }
    }
    if (!newest) return undefined;
    const [{ item }] = newest.sub.splice(newest.at, 1) as [Entry<T>];
    this.#left(item, newest.sub);
    return item;
  }

  #left(item: T, sub: Entry<T>[]): void {
    if (sub.length === 0) {
      const lane = this.#lanes.get(item.lane)!;
      lane.delete(item.sublane ?? '');
      if (lane.size === 0) this.#lanes.delete(item.lane);
    }
    this.#size--;
    if (item.bounded) this.#count(item.lane, -1);
  }

  #count(lane: string, by: 1 | -1): void {
    this.#bounded += by;
    const n = (this.#boundedByLane.get(lane) ?? 0) + by;
    if (n > 0) this.#boundedByLane.set(lane, n);
    else this.#boundedByLane.delete(lane);
  }
}
