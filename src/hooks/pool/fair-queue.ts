/**
 * A pool's waiting jobs, fair between sockets: one lane per socket (dispatch
 * jobs share one), served round-robin, each lane in its own order.
 */
/**
 * Waiting jobs by lane, served round-robin: the lane served last goes to
 * the back, so a lane with a hundred jobs waiting takes one turn in each
 * round, and another lane's single job waits one round at most.
 */
export class FairQueue<T extends { job: { lane?: string } }> {
  /** Lanes in turn order (a Map keeps insertion order; a lane moves to the back by re-insertion). */
  readonly #lanes = new Map<string, T[]>();
  /** Jobs handed back (their worker died before they started): first in line, ahead of every lane. */
  readonly #front: T[] = [];
  #size = 0;

  get length(): number {
    return this.#size;
  }

  push(item: T): void {
    const key = item.job.lane ?? '';
    const lane = this.#lanes.get(key);
    if (lane) lane.push(item);
    else this.#lanes.set(key, [item]);
    this.#size++;
  }

  /** Back first in line. */
  unshift(item: T): void {
    this.#front.unshift(item);
    this.#size++;
  }

  shift(): T | undefined {
    let item = this.#front.shift();
    if (!item) {
      const next = this.#lanes.entries().next();
      if (next.done) return undefined;
      const [key, lane] = next.value;
      item = lane.shift()!;
      this.#lanes.delete(key);
      if (lane.length > 0) this.#lanes.set(key, lane);
    }
    this.#size--;
    return item;
  }

  /** Takes `item` out wherever it waits; false when it no longer waits. */
  remove(item: T): boolean {
    const at = this.#front.indexOf(item);
    if (at >= 0) {
      this.#front.splice(at, 1);
      this.#size--;
      return true;
    }
    const key = item.job.lane ?? '';
    const lane = this.#lanes.get(key);
    const index = lane?.indexOf(item) ?? -1;
    if (index < 0) return false;
    lane!.splice(index, 1);
    if (lane!.length === 0) this.#lanes.delete(key);
    this.#size--;
    return true;
  }

  /** Empties the queue, oldest lanes first. */
  drain(): T[] {
    const all = [...this.#front];
    for (const lane of this.#lanes.values()) all.push(...lane);
    this.#front.length = 0;
    this.#lanes.clear();
    this.#size = 0;
    return all;
  }
}
