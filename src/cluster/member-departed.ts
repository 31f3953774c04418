/**
 * Lines of this run's list whose departure the node told (a user's last
 * socket in a channel, the node's last in a channel), the latest of them:
 * should Redis fail over to a replica that missed the leave, the new master
 * still holds the line, and the node putting its list right takes it out
 * again without telling the departure twice (member-sync.ts). A failover
 * loses the writes of its last moments, so a bounded count covers it.
 */
export class Departed {
  readonly #lines = new Set<string>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  told(line: string): void {
    this.#lines.delete(line);
    this.#lines.add(line);
    // Oldest first: a Set keeps the order lines came in.
    for (const oldest of this.#lines) {
      if (this.#lines.size <= this.#max) break;
      this.#lines.delete(oldest);
    }
  }

  /** The line is held again (its socket came back to the channel): a departure after is news. */
  held(line: string): void {
    this.#lines.delete(line);
  }

  has(line: string): boolean {
    return this.#lines.has(line);
  }
}
