/**
 * Two live processes under one node name (`cluster.node` copied between
 * machines) cannot be told apart by the others, and each takes the other's
 * messages for its own copies: casts from the other's hooks are dropped as
 * already delivered, and sums count one of them. Nothing can be mended from
 * here, so it is said loudly: a log line (at most once a minute) and
 * /health degraded for a while after each sign.
 */
import type { Logger } from '../ops/log.ts';

/** A clash is logged at most this often. */
const LOG_EVERY_MS = 60_000;

export class NameClash {
  readonly #node: string;
  readonly #log: Logger;
  /** Signs come with joins and bridge requests, which may be minutes apart: /health says so this long after the last. */
  readonly #shownMs: number;
  #heardAt = 0;
  #loggedAt = 0;

  constructor(node: string, log: Logger, ttlMs: number) {
    this.#node = node;
    this.#log = log;
    this.#shownMs = Math.max(5 * 60_000, 3 * ttlMs);
  }

  /** A message under this node's name that another process wrote. */
  heard(): void {
    const now = Date.now();
    this.#heardAt = now;
    if (now - this.#loggedAt < LOG_EVERY_MS) return;
    this.#loggedAt = now;
    this.#log.error('cluster node name taken', { node: this.#node, reason: this.problem });
  }

  get problem(): string | undefined {
    if (!this.#heardAt || Date.now() - this.#heardAt > this.#shownMs) return undefined;
    return `another live node is named ${this.#node} (cluster.node): each takes the other's casts from hooks for its own and drops them, and sums miss one of them; give every node a name of its own`;
  }
}
