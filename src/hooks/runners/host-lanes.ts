/**
 * Jobs waiting for a hook process, one lane per host, served round-robin:
 * a host with a thousand hooks waiting takes one turn in each round, so
 * another host's single hook waits one round at most instead of behind all
 * of them. Each lane keeps its own order. Counts what the queue's bound
 * applies to, per lane too, so a full queue can give way to a host that
 * holds fewer places (HookSlots).
 */

export interface LaneItem {
  /** The lane: the host the hook runs for ('' for what has none, such as /dispatch). */
  readonly lane: string;
  /** Whether it takes a place under the queue's bound (close hooks do not). */
  readonly bounded: boolean;
}

export class HostLanes<T extends LaneItem> {
  /** Lanes in turn order: a lane served goes to the back (a Map keeps insertion order). */
  readonly #lanes = new Map<string, T[]>();
  readonly #boundedByLane = new Map<string, number>();
  #size = 0;
  #bounded = 0;

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
    const lane = this.#lanes.get(item.lane);
    if (lane) lane.push(item);
    else this.#lanes.set(item.lane, [item]);
    this.#size++;
    if (item.bounded) this.#count(item.lane, 1);
  }

  /** Takes `item` out wherever it is; false when it was not here. */
  remove(item: T): boolean {
    const lane = this.#lanes.get(item.lane);
    const at = lane ? lane.indexOf(item) : -1;
    if (at < 0) return false;
    lane!.splice(at, 1);
    this.#left(item, lane!);
    return true;
  }

  /** The lane that holds the most bounded places, other than `except`, and how many. */
  fullest(except: string): { lane: string; bounded: number } | undefined {
    let most: { lane: string; bounded: number } | undefined;
    for (const [lane, n] of this.#boundedByLane) if (lane !== except && (!most || n > most.bounded)) most = { lane, bounded: n };
    return most;
  }

  /** The newest bounded item of a lane, taken out (the one a full queue gives up for another host's). */
  popNewestBounded(lane: string): T | undefined {
    const items = this.#lanes.get(lane);
    if (!items) return undefined;
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i]!;
      if (!item.bounded) continue;
      items.splice(i, 1);
      this.#left(item, items);
      return item;
    }
    return undefined;
  }

  /** Whether any item waiting would be taken by `fits`. */
  some(fits: (item: T) => boolean): boolean {
    for (const items of this.#lanes.values()) for (const item of items) if (fits(item)) return true;
    return false;
  }

  /**
   * The first item of the next lane in turn that has one `fits` takes, taken out; its lane goes to the back. A lane's
   * items that do not fit (its host's auth cap is full) stay in their order, and later ones of the lane may go.
   */
  next(fits: (item: T) => boolean): T | undefined {
    for (const [key, items] of this.#lanes) {
      const at = items.findIndex(fits);
      if (at < 0) continue;
      const item = at === 0 ? items.shift()! : items.splice(at, 1)[0]!;
      this.#lanes.delete(key);
      if (items.length > 0) this.#lanes.set(key, items);
      this.#size--;
      if (item.bounded) this.#count(item.lane, -1);
      return item;
    }
    return undefined;
  }

  #left(item: T, items: T[]): void {
    if (items.length === 0) this.#lanes.delete(item.lane);
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
