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
 * decided. A first or last is told only once the node has claimed its
 * answer, its note taken off in the same round trip (left until the next
 * call, a node that died idle in between would have it told twice): a
 * survivor that took the node for dead while the reply was on its way, or
 * while the node asked again, may have told it already (member-scripts.ts
 * CLAIM, TAKE). A claim whose answer is lost is asked again with its call.
 * Other notes, and the answers Redis kept, go along with the next call.
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
      const { got, lost } = await this.#settle([...earlier, asked], answers);
      if (lost.length) {
        this.#keep(line, lost);
        this.#retryLater();
      }
      this.#hooks.tell(this.#changes(earlier, got));
      if (lost.includes(asked)) return undefined;
      // A first or last another node told is no news here.
      if (isNews(own[asked.at[0]]?.[asked.at[1]])) own[asked.at[0]]![asked.at[1]] = got[earlier.length] ?? null;
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
          if (answers === 'unsent' || !answers) return this.#keep(line, earlier);
          const { got, lost } = await this.#settle(earlier, answers);
          if (lost.length) this.#keep(line, lost);
          changes.push(...this.#changes(earlier, got));
        }),
      ),
    );
    if (this.#count === 0) this.#retries = 0;
    else this.#retryLater();
    return changes;
  }

  /** What Redis keeps of the calls the node has had the answer to, to drop now (at stop). */
  drops(): Call[] {
    return this.#had.splice(0);
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

  /**
   * The answers of `asked` (at the start of `answers`), a first or last
   * claimed before it counts (undefined when another node told it), and the
   * calls whose claim was lost, to ask again. Drops what Redis kept of the rest.
   */
  async #settle(asked: Asked[], answers: unknown[][]): Promise<{ got: unknown[]; lost: Asked[] }> {
    const got: unknown[] = [];
    let at = 0;
    for (const one of asked) {
      got.push(answers[at + one.at[0]]?.[one.at[1]]);
      at += one.steps.length;
    }
    const news = asked.filter((_, i) => isNews(got[i]));
    this.#forget(...this.#notesOf(asked.filter((one) => !news.includes(one)).map((one) => one.noted)));
    if (!news.length) return { got, lost: [] };
    // Notes after the claims: one who dies in between leaves claims that a survivor finds told.
    const claims = await this.#hooks.run('claim answers', [news.map((one): Call => ['wsgateClaimAnswer', one.answer]), this.#notesOf(news.map((one) => one.noted))]);
    if (claims === 'unsent' || !claims) return { got: got.map((answer, i) => (news.includes(asked[i]!) ? undefined : answer)), lost: news };
    news.forEach((one, j) => {
      if (claims[0]![j] !== 1) got[asked.indexOf(one)] = undefined;
      this.#forget(['del', one.answer]);
    });
    return { got, lost: [] };
  }

  /** What the answers `got` of `asked` changed. */
  #changes(asked: Asked[], got: unknown[]): OrphanedChange[] {
    const changes = asked.flatMap((one, i) => one.change(got[i]) ?? []);
    if (changes.length) this.#log.info('members store answered late', { changes: changes.length });
    return changes;
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
