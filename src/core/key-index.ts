/**
 * A string-keyed index for what there is one of per socket (sockets by
 * token). It keeps its entries as the properties of an object with no
 * prototype rather than in a Map: Bun's engine spends about 130 bytes per
 * Map entry (230 after churn) against about 57 per property, measured with
 * 10,000 keys (docs/BENCHMARKS.md, memory per idle socket). V8 spends
 * about the same either way.
 *
 * Lookups and changes only: walking all entries is for rare paths (shutdown,
 * /health), since enumerating a large dictionary object builds a list of
 * its keys first.
 */
export class KeyIndex<T> {
  #entries: Record<string, T> = Object.create(null) as Record<string, T>;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string): T | undefined {
    return this.#entries[key];
  }

  has(key: string): boolean {
    return this.#entries[key] !== undefined;
  }

  /** `value` must not be undefined: undefined means absent. */
  set(key: string, value: T): void {
    if (this.#entries[key] === undefined) this.#size++;
    this.#entries[key] = value;
  }

  /** False when there was no entry. */
  delete(key: string): boolean {
    if (this.#entries[key] === undefined) return false;
    delete this.#entries[key];
    // An emptied index starts again from a new object: a dictionary object keeps the table its largest size needed.
    if (--this.#size === 0) this.#entries = Object.create(null) as Record<string, T>;
    return true;
  }

  /** Every entry's value (a copy: the index may change while they are used). */
  values(): T[] {
    const out: T[] = [];
    for (const key in this.#entries) out.push(this.#entries[key]!);
    return out;
  }

  /** Every key and value (a copy). */
  entries(): Array<[string, T]> {
    const out: Array<[string, T]> = [];
    for (const key in this.#entries) out.push([key, this.#entries[key]!]);
    return out;
  }
}
