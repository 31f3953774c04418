/**
 * The member store's deciding calls (a join, a leave, a node's first or last
 * socket in a channel) whose answer was lost: a timeout after Redis ran the
 * script, or a connection that dropped mid-call. Each is asked again, the
 * same steps under the same answer key (member-scripts.ts), until it
 * answers; a first or last it decided is then told as an orphaned change, so
 * it is told once, never lost. Until then the caller was told "nothing
 * changed", as when Redis is away.
 *
 * Each call is noted in Redis until the node has its answer (member-
 * unanswered.ts), so that whoever outlives the node tells what the call
 * decided. The note of a first or last goes at once (one command for the
 * answers that came together, not waited for): left until the next call, a
 * node that died idle in between would have it told twice. Other notes, and
 * the answers Redis kept, go along with the next call.
 *
 * The calls about one line of the node's list (one socket in a channel, or
 * the node in a channel) go one after another, each after the lost ones
 * ahead of it: asked again out of order, a join could come back after its
 * own leave, and a leave's answer would miss the join's.
 */
import type { OrphanedChange } from '../core/members.ts';
import type { Logger } from '../ops/log.ts';
import type { Call } from './member-scripts.ts';

/** A deciding call, as sent. */
export interface Asked {
  steps: Call[][];
  /** The step and command of `steps` that is the script. */
  at: readonly [number, number];
  /** The key its answer is kept under, until the node has it. */
  answer: string;
  /** Its note among the node's unanswered calls (set by the first step of `steps`): the node's set and the entry. */
  noted: { key: string; entry: string };
  /** What its answer tells when it comes late; undefined when it is not news. */
  change(answer: unknown): OrphanedChange | undefined;
}

/** A first or a last: an answer Redis keeps until the node has it. */
export const isNews = (answer: unknown): boolean => answer === 1 || Array.isArray(answer);

export interface AskAgainHooks {
  /** Runs steps; their replies, undefined when the answer was lost, or 'unsent' when nothing reached Redis (it was away). */
  run(op: string, steps: Call[][]): Promise<unknown[][] | undefined | 'unsent'>;
  /** Tells what late answers to a new call's line changed. */
  tell(changes: OrphanedChange[]): void;
  /** Asks again (askAll, through the store's sync, which the connection coming back runs too). */
  retry(): void;
  /** The wait before the retry after `attempt` retries. */
  backoff(attempt: number): number;
  /** Old notes to trim along with the next call, when due (member-unanswered.ts oldNotesTrim). */
  trim(): Call[];
}

/** Kept answers dropped along with one call, and the most waiting to be (by default). */
const DROPS_PER_CALL = 64;
const MAX_HAD = 10_000;

export class AskAgain {
  readonly #hooks: AskAgainHooks;
  readonly #log: Logger;
  readonly #max: number;
  readonly #maxHad: number;
  /** The lost calls of each line, oldest first. */
  readonly #lost = new Map<string, Asked[]>();
  #count = 0;
  /** The last call queued per line. */
  readonly #lines = new Map<string, Promise<void>>();
  /** The next retry, for answers lost while the connection stayed up (a timeout), and how many ran since all answered. */
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retries = 0;
  #stopped = false;
  /** Whether lost calls were dropped since there was room again: one warning per time. */
  #dropping = false;
  /**
   * What Redis keeps of calls the node has had the answer to: dropped along
   * with the next call rather than by a command of their own (no round trip
   * more per join or leave). Answers past the bound are left to their
   * expiry, notes to the trim of old notes (AskAgainHooks.trim).
   */
  readonly #had: Call[] = [];
  /** The notes of firsts and lasts the node has had: they go at once (#dropNow). */
  readonly #told: Array<{ key: string; entry: string }> = [];

  /**
   * `max`: the most lost calls kept; past it a lost call is dropped (logged), so a long outage grows no list without
   * bound. `maxHad`: the most drops that wait for a call to go along with.
   */
  constructor(hooks: AskAgainHooks, log: Logger, max = 10_000, maxHad = MAX_HAD) {
    this.#hooks = hooks;
    this.#log = log;
    this.#max = max;
    this.#maxHad = maxHad;
  }

  get size(): number {
    return this.#count;
  }

  /**
   * Whether `line` has calls whose answer is not known yet, lost or still
   * under way: those, not a sync, decide it. A sync that took a leave under
   * way for a stale line would take its socket out first, and the leave
   * would find nothing to say.
   */
  has(line: string): boolean {
    return this.#lost.has(line) || this.#lines.has(line);
  }

  /**
   * Runs `asked` about `line` after the line's calls ahead of it, with the
   * lost ones asked again first; its replies, or undefined when its answer
   * was lost too (it is then kept to be asked again).
   */
  decide(op: string, line: string, asked: Asked): Promise<unknown[][] | undefined> {
    return this.#onLine(line, async () => {
      const earlier = this.#take(line);
      const had = [...this.#had.splice(0, DROPS_PER_CALL), ...this.#hooks.trim()];
      const steps = [...earlier.flatMap((one) => one.steps), ...asked.steps];
      const answers = await this.#hooks.run(op, [[...had, ...steps[0]!], ...steps.slice(1)]);
      if (answers === 'unsent' || !answers) {
        this.#forget(...had);
        // A call Redis never saw decided nothing: the store's sync puts its line right, as for any call made while Redis was away.
        this.#keep(line, answers === 'unsent' ? earlier : [...earlier, asked]);
        this.#retryLater();
        return undefined;
      }
      answers[0] = answers[0]!.slice(had.length);
      const own = answers.slice(answers.length - asked.steps.length);
      this.#hooks.tell(this.#settle(earlier, answers));
      this.#answered(asked, own[asked.at[0]]?.[asked.at[1]]);
      void this.#dropNow();
      return own;
    });
  }

  /** Asks every lost call again; what their answers changed, for the caller to tell with its own. */
  async askAll(): Promise<OrphanedChange[]> {
    const changes: OrphanedChange[] = [];
    await Promise.all(
      [...this.#lost.keys()].map((line) =>
        this.#onLine(line, async () => {
          const earlier = this.#take(line);
          if (!earlier.length) return;
          const answers = await this.#hooks.run('ask again', earlier.flatMap((one) => one.steps));
          if (answers && answers !== 'unsent') changes.push(...this.#settle(earlier, answers));
          else this.#keep(line, earlier);
        }),
      ),
    );
    await this.#dropNow();
    if (this.#count === 0) this.#retries = 0;
    else this.#retryLater();
    return changes;
  }

  /** What Redis keeps of the calls the node has had the answer to, to drop now (at stop). */
  drops(): Call[] {
    return [...this.#notesOf(this.#told.splice(0)), ...this.#had.splice(0)];
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
  }

  #retryLater(): void {
    if (this.#retry !== undefined || this.#stopped || !this.#count) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#hooks.retry();
    }, this.#hooks.backoff(this.#retries++));
  }

  /** What the answers of `asked` (at the start of `answers`) changed; drops what Redis kept of them. */
  #settle(asked: Asked[], answers: unknown[][]): OrphanedChange[] {
    const changes: OrphanedChange[] = [];
    let at = 0;
    for (const one of asked) {
      const answer = answers[at + one.at[0]]?.[one.at[1]];
      at += one.steps.length;
      const change = one.change(answer);
      if (change) changes.push(change);
      this.#answered(one, answer);
    }
    if (changes.length) this.#log.info('members store answered late', { changes: changes.length });
    return changes;
  }

  /** The node has the answer of `one`: its note goes, at once for a first or last (then its kept answer with the next call). */
  #answered(one: Asked, answer: unknown): void {
    if (!isNews(answer)) return this.#forget(...this.#notesOf([one.noted]));
    this.#told.push(one.noted);
    this.#forget(['del', one.answer]);
  }

  /** Takes the notes of the firsts and lasts the node has had off its set; left to the next call when that fails. */
  async #dropNow(): Promise<void> {
    const drops = this.#notesOf(this.#told.splice(0));
    if (!drops.length) return;
    const answers = await this.#hooks.run('drop answered', [drops]);
    if (answers === 'unsent' || !answers) this.#forget(...drops);
  }

  /** One command per set of notes. */
  #notesOf(notes: Array<{ key: string; entry: string }>): Call[] {
    const byKey = new Map<string, string[]>();
    for (const { key, entry } of notes) byKey.set(key, [...(byKey.get(key) ?? []), entry]);
    return [...byKey].map(([key, entries]): Call => ['zrem', key, ...entries]);
  }

  #forget(...answers: Call[]): void {
    this.#had.push(...answers);
    if (this.#had.length > this.#maxHad) this.#had.splice(0, this.#had.length - this.#maxHad);
  }

  #take(line: string): Asked[] {
    const lost = this.#lost.get(line) ?? [];
    this.#lost.delete(line);
    this.#count -= lost.length;
    return lost;
  }

  #keep(line: string, asked: Asked[]): void {
    const room = Math.max(0, this.#max - this.#count);
    if (asked.length > room && !this.#dropping) this.#log.warn('members store lost answers dropped', { kept: this.#count, note: 'too many calls wait to be asked again; the firsts and lasts of those past them may not be told' });
    this.#dropping = asked.length > room;
    const kept = asked.slice(0, room);
    if (!kept.length) return;
    this.#lost.set(line, kept);
    this.#count += kept.length;
  }

  #onLine<T>(line: string, work: () => Promise<T>): Promise<T> {
    const run = (this.#lines.get(line) ?? Promise.resolve()).then(work);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.#lines.set(line, tail);
    void tail.then(() => {
      if (this.#lines.get(line) === tail) this.#lines.delete(line);
    });
    return run;
  }
}
