/**
 * The keys (a channel, a member of one) whose state a webhook's endpoint may
 * not have: an event of theirs is out in a batch (it may yet fail), or was
 * lost (its batch failed, or the queue's bound dropped it). Undoing a pair
 * is right only when the endpoint knows the state from before the pair; for
 * these keys the pair is what would tell it, so it is sent.
 *
 * Lost keys are kept until an event of theirs is delivered. Past `cap` of
 * them, the queue stops undoing anything: it has lost track, and sending
 * every event is never wrong.
 */
export class UnsureKeys {
  readonly #out = new Map<string, number>();
  readonly #lost = new Set<string>();
  readonly #cap: number;
  #overflow = false;

  constructor(cap: number) {
    this.#cap = cap;
  }

  has(key: string): boolean {
    return this.#overflow || this.#out.has(key) || this.#lost.has(key);
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
    if (this.#lost.size >= this.#cap && !this.#lost.has(key)) this.#overflow = true;
    else this.#lost.add(key);
  }
}
