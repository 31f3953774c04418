/**
 * A pool's waiting jobs, fair between hosts and then between sockets: hosts
 * that share an app share its pool, so each host is a lane (dispatch jobs
 * and each webhook app are lanes of their own) and each socket a sub-lane,
 * served round-robin (HostLanes). A full queue gives the newest place of the
 * host holding the most to a host holding at least two fewer, as HookSlots
 * does for one-shot hooks: one host's flood cannot keep the others out.
 */
import { HostLanes } from '../host-lanes.ts';
import type { LaneItem } from '../host-lanes.ts';

export class FairQueue<T extends LaneItem> {
  readonly #lanes = new HostLanes<T>();
  /** Jobs handed back (their worker died before they started): first in line, ahead of every lane. */
  readonly #front: T[] = [];
  /** How many of #front the bound counts: kept, not counted, as every job that would wait asks (hasRoom). */
  #frontBounded = 0;

  get length(): number {
    return this.#front.length + this.#lanes.size;
  }

  /** Waiting jobs the queue's bound counts (not close hooks). */
  get bounded(): number {
    return this.#frontBounded + this.#lanes.bounded;
  }

  push(item: T): void {
    this.#lanes.push(item);
  }

  /** Back first in line. */
  unshift(item: T): void {
    this.#front.unshift(item);
    if (item.bounded) this.#frontBounded++;
  }

  shift(): T | undefined {
    const item = this.#front.shift();
    if (!item) return this.#lanes.next();
    if (item.bounded) this.#frontBounded--;
    return item;
  }

  /** Takes `item` out wherever it waits; false when it no longer waits. */
  remove(item: T): boolean {
    const at = this.#front.indexOf(item);
    if (at < 0) return this.#lanes.remove(item);
    this.#front.splice(at, 1);
    if (item.bounded) this.#frontBounded--;
    return true;
  }

  /** Whether a job of `lane` may wait under `bound`, a place being free or given up by a fuller lane (giveWay). */
  hasRoom(lane: string, bound: number): boolean {
    return this.#lanes.hasRoom(lane, bound, this.#frontBounded);
  }

  /** The newest job of the lane holding the most places, taken out for a job of `lane`, which holds fewer. */
  giveWay(lane: string): T | undefined {
    return this.#lanes.giveWay(lane);
  }

  /** Empties the queue, oldest lanes first. */
  drain(): T[] {
    this.#frontBounded = 0;
    return [...this.#front.splice(0), ...this.#lanes.drain()];
  }
}
