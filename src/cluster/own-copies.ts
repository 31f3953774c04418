/**
 * This node's own copies of what it put on the bus. A PUBLISH whose reply
 * never came (its connection dropped in between, as on a failover) may have
 * been carried out all the same: its copy may be back on the subscriber
 * already, or may still come. What failed is applied here alone only when
 * its copy has not come, and a copy that comes after that is dropped, so it
 * is applied here once either way.
 */
export class OwnCopies {
  readonly #deadlineMs: number;
  /** Marks whose PUBLISH has no reply yet, and whether their copy is back: as many as PUBLISHes in flight. */
  readonly #unsettled = new Map<string, boolean>();
  /** Applied here alone after their PUBLISH failed, with when. Kept a deadline long: a copy comes back at once or never. */
  readonly #alone = new Map<string, number>();

  constructor(deadlineMs: number) {
    this.#deadlineMs = deadlineMs;
  }

  /** `mark` goes out now. */
  published(mark: string): void {
    this.#unsettled.set(mark, false);
  }

  /** Redis answered its PUBLISH. */
  carried(mark: string): void {
    this.#unsettled.delete(mark);
  }

  /** Its PUBLISH failed. True when its copy is not back: this node may apply it alone now (then say so, appliedAlone()). */
  failed(mark: string): boolean {
    const back = this.#unsettled.get(mark);
    this.#unsettled.delete(mark);
    return !back;
  }

  /** Applied here alone after its PUBLISH failed: its copy is dropped should it still come. */
  appliedAlone(mark: string): void {
    const now = performance.now();
    for (const [old, at] of this.#alone) {
      if (now - at < this.#deadlineMs) break;
      this.#alone.delete(old);
    }
    this.#alone.set(mark, now);
  }

  /** Its copy came back from the bus: whether to apply it (not when it was applied here alone). */
  cameBack(mark: string): boolean {
    if (this.#alone.delete(mark)) return false;
    if (this.#unsettled.has(mark)) this.#unsettled.set(mark, true);
    return true;
  }
}
