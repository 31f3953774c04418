/**
 * The nodes this one counts live, and so expects an answer from: taken from
 * each heartbeat's read of the set of nodes (liveness.ts recount), added when
 * a joining is confirmed there, dropped when a node says it is leaving and is
 * out of the set. Each node whose beats stopped is told gone, once.
 */
import type { Logger } from '../ops/log.ts';
import { Joinings, recount, type LivenessTiming } from './liveness.ts';

export class LiveNodes {
  readonly #node: string;
  readonly #log: Logger;
  readonly #timing: LivenessTiming;
  /** Whether `node` is in the set of nodes in Redis now. */
  readonly #isNode: (node: string) => Promise<boolean>;
  #live: ReadonlySet<string> = new Set<string>();
  /** The live nodes as a request expects them; made again only when they change. */
  #expected: ReadonlySet<string> | undefined;
  /** When each node was last found in the set of nodes (this node's clock). */
  readonly #seen = new Map<string, number>();
  readonly #joinings: Joinings;
  /** When this node last took the count of the live ones (its clock). */
  #counted = 0;
  /** Told of each node whose beats stopped, by every node that saw it live; not of nodes that said they were leaving. */
  readonly #gone: Array<(node: string) => void> = [];
  #stopped = false;

  constructor(node: string, log: Logger, timing: LivenessTiming, isNode: (node: string) => Promise<boolean>) {
    this.#node = node;
    this.#log = log;
    this.#timing = timing;
    this.#isNode = isNode;
    this.#joinings = new Joinings(node, log, isNode);
  }

  /** Live nodes as of the last heartbeat, this one included, in order. */
  expected(): ReadonlySet<string> {
    return (this.#expected ??= new Set([this.#node, ...this.#live].sort()));
  }

  /** The live nodes but this one. */
  others(): string[] {
    return [...this.#live].filter((node) => node !== this.#node);
  }

  /** `listener` is told of each node found gone (its heartbeat older than the ttl), once per going. */
  onGone(listener: (node: string) => void): void {
    this.#gone.push(listener);
  }

  /** A joining heard on the bus: a made-up name never counts (liveness.ts), so the set of nodes is read first. */
  joining(node: string): void {
    void this.#joinings.heard(node, () => this.#live, this.#seen).then((live) => live && !this.#stopped && this.#set(live));
  }

  /** Believed once the node is out of the set of nodes, which a real one leaves before it says so: a forged word would hide a live node until its next beat. */
  async leaving(node: string): Promise<void> {
    if (await this.#isNode(node).catch(() => false)) return;
    this.#seen.delete(node);
    this.#joinings.forget(node);
    this.#set(new Set([...this.#live].filter((live) => live !== node)));
  }

  /** Takes the nodes a beat found as live, and logs those that came and went. */
  recount(found: string[]): void {
    const now = Date.now();
    const live = recount(this.#seen, found, this.#live, now, this.#counted, this.#timing);
    this.#counted = now;
    for (const node of live) if (!this.#live.has(node) && node !== this.#node) this.#log.info('cluster node up', { node });
    const gone = this.#joinings.settle(found, this.#seen, [...this.#live].filter((node) => !live.has(node) && node !== this.#node));
    this.#set(live);
    for (const node of gone) {
      this.#log.warn('cluster node gone', { node });
      for (const listener of this.#gone) {
        try {
          listener(node);
        } catch (error) {
          this.#log.error('cluster node gone listener failed', { node, error: (error as Error).message });
        }
      }
    }
  }

  /** The node stops: a joining confirmed from now on changes nothing. */
  stop(): void {
    this.#stopped = true;
  }

  #set(live: ReadonlySet<string>): void {
    this.#live = live;
    this.#expected = undefined;
  }
}
