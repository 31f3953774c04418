/**
 * The events of one webhook that wait to be sent, oldest first.
 *
 * An event that undoes one still waiting here (a channel vacated, then
 * occupied again; a member removed, then added again) takes that one out and
 * is not added itself: what the endpoint knows ends the same, and churn (a
 * page that subscribes and unsubscribes in a loop, a user reloading)
 * cannot fill the queue or push other events out of it. Pusher does the same
 * for presence: a user who leaves and comes back within 3 s is heard of by
 * neither event. An event already out (in a batch being sent) is not
 * undone: the next one is queued as usual.
 *
 * A list rather than an array, so that an event can leave from the middle
 * in constant time whatever the length of the queue.
 */

/** What an event turns on or off: its `key` (a channel, or a member of one), and which way. */
export interface Toggle {
  key: string;
  on: boolean;
  /** A member's: the key of its channel's occupancy. */
  channel?: string;
}

interface Entry {
  json: string;
  bytes: number;
  toggle: Toggle | undefined;
  due: number;
  prev: Entry | undefined;
  next: Entry | undefined;
  /** The waiting events of its key just before and after it: when the newest is undone, the one before becomes the newest. */
  older: Entry | undefined;
  newer: Entry | undefined;
}

export class PendingEvents {
  #head: Entry | undefined;
  #tail: Entry | undefined;
  #length = 0;
  #bytes = 0;
  /** The newest waiting event of each key: the only one a new event of that key can undo. */
  readonly #latest = new Map<string, Entry>();
  /** Waiting events per key that turn it off (a channel vacated). */
  readonly #offs = new Map<string, number>();

  get length(): number {
    return this.#length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Whether an event of `key` waits here. */
  has(key: string): boolean {
    return this.#latest.has(key);
  }

  /** Whether an event that turns `key` off (a channel vacated) waits here. */
  hasOff(key: string): boolean {
    return this.#offs.has(key);
  }

  /** Takes out the newest waiting event of the toggle's key if it went the other way; false when there is none. */
  undo(toggle: Toggle): boolean {
    const waiting = this.#latest.get(toggle.key);
    if (!waiting || waiting.toggle!.on === toggle.on) return false;
    this.#unlink(waiting);
    return true;
  }

  /** Queues an event as it is, due at `due` (for a list whose events wait for a time, oldest due first). */
  append(json: string, bytes: number, toggle?: Toggle, due = 0): void {
    const older = toggle && this.#latest.get(toggle.key);
    const entry: Entry = { json, bytes, toggle, due, prev: this.#tail, next: undefined, older, newer: undefined };
    if (older) older.newer = entry;
    if (this.#tail) this.#tail.next = entry;
    else this.#head = entry;
    this.#tail = entry;
    this.#length++;
    this.#bytes += bytes;
    if (toggle) this.#latest.set(toggle.key, entry);
    if (toggle && !toggle.on) this.#offs.set(toggle.key, (this.#offs.get(toggle.key) ?? 0) + 1);
  }

  /** When the oldest is due, as appended; undefined when none waits. */
  get firstDue(): number | undefined {
    return this.#head?.due;
  }

  /** Takes the oldest out and gives it back (to move it, or to drop it). */
  shift(): { json: string; bytes: number; toggle: Toggle | undefined } | undefined {
    const head = this.#head;
    if (!head) return undefined;
    this.#unlink(head);
    return { json: head.json, bytes: head.bytes, toggle: head.toggle };
  }

  /**
   * Takes the oldest events out as one batch: at most `maxEvents`, and no
   * more than `maxBytes` of them unless the first alone is larger.
   */
  take(maxEvents: number, maxBytes: number): { events: string[]; keys: string[] } {
    const events: string[] = [];
    const keys: string[] = [];
    let bytes = 0;
    while (this.#head && events.length < maxEvents) {
      const next = this.#head;
      if (events.length > 0 && bytes + next.bytes > maxBytes) break;
      bytes += next.bytes;
      events.push(next.json);
      if (next.toggle) keys.push(next.toggle.key);
      this.#unlink(next);
    }
    return { events, keys };
  }

  /** Forgets everything; returns how many events waited. */
  clear(): number {
    const count = this.#length;
    this.#head = this.#tail = undefined;
    this.#length = this.#bytes = 0;
    this.#latest.clear();
    this.#offs.clear();
    return count;
  }

  #unlink(entry: Entry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.#head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.#tail = entry.prev;
    entry.prev = entry.next = undefined;
    this.#length--;
    this.#bytes -= entry.bytes;
    if (entry.older) entry.older.newer = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    // An older event of the key may still wait (a pair was sent rather than undone while the endpoint was unsure): forgotten, a later event would not be held behind it, and would overtake it.
    if (entry.toggle && this.#latest.get(entry.toggle.key) === entry) {
      if (entry.older) this.#latest.set(entry.toggle.key, entry.older);
      else this.#latest.delete(entry.toggle.key);
    }
    entry.older = entry.newer = undefined;
    if (entry.toggle && !entry.toggle.on) {
      const offs = this.#offs.get(entry.toggle.key)! - 1;
      if (offs > 0) this.#offs.set(entry.toggle.key, offs);
      else this.#offs.delete(entry.toggle.key);
    }
  }
}
