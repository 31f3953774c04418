/**
 * The keys (a channel, a member of one) whose state a webhook's endpoint may
 * not have: an event of theirs is out in a batch (it may yet fail), or was
 * lost (its batch failed, or the queue's bound dropped it). Undoing a pair
 * is right only when the endpoint knows the state from before the pair; for
 * these keys the pair is what would tell it, so it is sent.
 *
 * Lost keys are kept until an event of theirs is delivered, at most `cap`
 * of them: past it the key lost longest ago is forgotten (a channel whose
 * events stopped long ago), so that the queue keeps undoing churn.
 */
export class UnsureKeys {
  readonly #out = new Map<string, number>();
  readonly #lost = new Set<string>();
  readonly #cap: number;

  constructor(cap: number) {
    this.#cap = cap;
  }

  has(key: string): boolean {
    return this.#out.has(key) || this.#lost.has(key);
  }

  /** Events of these keys went out in a batch. */
  sent(keys: readonly string[]): void {
    for (const key of keys) this.#out.set(key, (this.#out.get(key) ?? 0) + 1);
  }

  /** Their batch was answered: delivered (2xx) or not (given up, refused, dropped). */
  answered(keys: readonly string[], delivered: boolean): void {
    for (const key of keys) {
      const out = this.#out.get(key)! - 1;
      if (out > 0) this.#out.set(key, out);
      else this.#out.delete(key);
      if (delivered) this.#lost.delete(key);
      else this.lose(key);
    }
  }

  /** An event of the key will never reach the endpoint. */
  lose(key: string): void {
    // Last in the set's order: the order is when each was last lost.
    this.#lost.delete(key);
    if (this.#lost.size >= this.#cap) this.#lost.delete(this.#lost.values().next().value as string);
    this.#lost.add(key);
  }
}
