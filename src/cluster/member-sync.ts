/**
 * A node's list in the shared member store put right, and the store with it
 * (redis-members.ts), each time the connection comes up or back: out go the
 * lines of an earlier run of this name and those of this run's sockets that
 * left while Redis was away, or whose leave a failover lost (its departure,
 * told already, is not told again); back come this run's entries Redis lost. Joins
 * and leaves may come meanwhile: each goes through the same scripts, so each
 * change is told once, by the join, the leave or this.
 */
import type { OrphanedChange } from '../core/members.ts';
import type { Logger } from '../ops/log.ts';
import type { AskAgain } from './member-asks.ts';
import type { Departed } from './member-departed.ts';
import type { MemberLink } from './member-connection.ts';
import { parseListed, removeListed, restoreMine } from './member-held.ts';
import type { Mine } from './member-held.ts';
import { nodeKeys } from './member-scripts.ts';
import { tellUnanswered } from './member-unanswered.ts';

export interface ListSyncParts {
  link: MemberLink;
  prefix: string;
  /** This start of the node. */
  run: string;
  /** The node's name, once it is started. */
  node: () => string | undefined;
  stopped: () => boolean;
  /** What this run's sockets hold, by the line its list has for it. */
  mine: ReadonlyMap<string, Mine>;
  /** Lines of `mine` whose add has not answered: the add decides them. */
  adding: ReadonlySet<string>;
  /** Calls whose answer was lost: they decide their lines, not the list. */
  asks: AskAgain;
  /** Lines whose departure was told: a failover that lost their leave leaves them listed. */
  departed: Departed;
  /** Tells the store's listeners what changed. */
  tell: (changes: OrphanedChange[]) => void;
  log: Logger;
}

export class ListSync {
  readonly #parts: ListSyncParts;
  /** The list being put right; `again`: the connection came back meanwhile, so once more after. */
  #syncing: { again: boolean } | undefined;

  constructor(parts: ListSyncParts) {
    this.#parts = parts;
  }

  async sync(): Promise<void> {
    const { link, prefix, run, mine, adding, asks, departed, tell, log } = this.#parts;
    const node = this.#parts.node();
    if (node === undefined || this.#parts.stopped() || !link.ready) return;
    if (this.#syncing) {
      this.#syncing.again = true;
      return;
    }
    const syncing = (this.#syncing = { again: false });
    const redis = link.redis;
    let late: OrphanedChange[] = [];
    try {
      // Calls whose answer was lost first: they decide their lines, not the list.
      late = await asks.askAll();
      // And those a run of this name before it died with (it was not cleared, this run came back first).
      late.push(...(await tellUnanswered(redis, prefix, node, (other) => other !== run)));
      const texts = await redis.smembers(nodeKeys(prefix, node).held);
      const listed = new Set(texts);
      const stale = texts.filter((text) => !mine.has(text) && !asks.has(text)).map(parseListed);
      const lost = [...mine.values()].filter((one) => !listed.has(one.text) && !adding.has(one.text) && !asks.has(one.text));
      // A line held again meanwhile is not removed; one whose add is still out is not restored.
      const held = (text: string) => mine.has(text);
      const settled = (text: string) => mine.has(text) && !adding.has(text) && !asks.has(text);
      const changes = await link.inOrder(async () => [...late, ...(await removeListed(redis, prefix, node, stale, held, (text) => departed.has(text))), ...(await restoreMine(redis, prefix, node, lost, settled))]);
      link.succeeded();
      if (stale.length || lost.length) log.info('members list put right', { node, removed: stale.length, restored: lost.length, changes: changes.length });
      tell(changes);
    } catch (error) {
      tell(late);
      link.failed('put list right', error);
    } finally {
      this.#syncing = undefined;
    }
    if (syncing.again) await this.sync();
  }
}
