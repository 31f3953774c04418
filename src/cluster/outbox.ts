/**
 * What a node publishes within two turns of the event loop goes out
 * together: the bus messages as one PUBLISH (a JSON array when there are
 * several, in the order they were written), and the answers to each other
 * node as one PUBLISH on its reply channel. Each PUBLISH costs a write, its
 * reply and a read on every node that hears it; under load many casts and
 * answers share one. Nothing waits longer than the end of the turn after the
 * one it was written in.
 *
 * Why two turns and not one: the bridge calls of a burst come on several
 * connections, and the runtime often reads them over two turns. Casts that
 * come back from Redis in one message are delivered in one turn, where the
 * runtime writes each socket's frames of all of them with one send; apart,
 * each frame is a send and a TCP segment of its own, and those sends are
 * most of what a cast costs. With 4 casts in flight, flushing after one turn
 * put 2.3 casts in a PUBLISH and cost 390-480 µs more CPU per cast than with
 * the cluster off; after two turns, 3.6 casts and 86-104 µs
 * (docs/BENCHMARKS.md). A third turn gained nothing measurable.
 */
import { setImmediate } from 'node:timers';
import { parsePeerJson } from '../core/json.ts';

/** One message waiting to go, and what runs once its PUBLISH is answered (with the error should it fail). */
interface Entry {
  text: string;
  settled?: (error?: Error) => void;
}

/** Bus messages or answers in one PUBLISH at most: a burst is cut into several rather than one huge message. */
export const BATCH_MAX = 256;

/** The text of one PUBLISH: a message alone as it is, several as a JSON array. */
export function batchText(texts: readonly string[]): string {
  return texts.length === 1 ? texts[0]! : `[${texts.join(',')}]`;
}

/** The messages of one PUBLISH, as batchText wrote them; at most `max`, the rest is dropped (and counted). */
export function unbatch(json: unknown, max = BATCH_MAX): { items: unknown[]; dropped: number } {
  if (!Array.isArray(json)) return { items: [json], dropped: 0 };
  return json.length <= max ? { items: json, dropped: 0 } : { items: json.slice(0, max), dropped: json.length - max };
}

/** The messages of one PUBLISH's text: none when it is not JSON, the first `max` of a longer batch; `problem` says which. */
export function readBatch(text: string, max = BATCH_MAX): { items: unknown[]; problem?: string } {
  const json = parsePeerJson(text);
  if (!json.ok) return { items: [], problem: json.problem };
  const { items, dropped } = unbatch(json.value, max);
  return dropped > 0 ? { items, problem: `a batch of more than ${max} messages; ${dropped} dropped` } : { items };
}

export class Outbox {
  readonly #publish: (channel: string, text: string) => Promise<void>;
  /** By channel, in the order first written to: the bus and each reply channel. */
  #waiting = new Map<string, Entry[]>();
  #scheduled = false;

  constructor(publish: (channel: string, text: string) => Promise<void>) {
    this.#publish = publish;
  }

  /** Queues `text` for `channel`; `settled` runs once its PUBLISH is answered, with the error should it fail (Redis went away on the way). */
  write(channel: string, text: string, settled?: (error?: Error) => void): void {
    let entries = this.#waiting.get(channel);
    if (!entries) this.#waiting.set(channel, (entries = []));
    entries.push({ text, settled });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => setImmediate(() => this.flush()));
    }
  }

  /**
   * Publishes everything waiting now. Called at the end of the next turn, and
   * before anything that must follow it on the same connection (a numbered
   * publication, a node's goodbye).
   */
  flush(): Promise<void>[] {
    this.#scheduled = false;
    const waiting = this.#waiting;
    if (waiting.size === 0) return [];
    this.#waiting = new Map();
    const sent: Promise<void>[] = [];
    for (const [channel, entries] of waiting) {
      for (let at = 0; at < entries.length; at += BATCH_MAX) {
        const batch = entries.slice(at, at + BATCH_MAX);
        sent.push(
          this.#publish(channel, batchText(batch.map((entry) => entry.text))).then(
            () => {
              for (const entry of batch) entry.settled?.();
            },
            (error: Error) => {
              for (const entry of batch) entry.settled?.(error);
            },
          ),
        );
      }
    }
    return sent;
  }
}
