/**
 * How many hook processes run at once, process-wide: every one-shot hook and
 * every `build: true` dispatch takes a slot for the life of its process.
 * One-shot auth hooks are also capped per host, so one host's flood of
 * upgrades cannot take every slot. What is over a cap waits in one bounded
 * FIFO queue; over the queue's bound it is refused at once (busy), and what
 * leaves (its client gone) frees its place. One object lives as long as
 * wsgate, across reloads: in-flight counts stay right, new limits apply.
 */
import type { GoneSignal } from '../../runtime/types.ts';
import { HostLanes } from '../host-lanes.ts';

export interface SlotLimits {
  /** Hook processes running at once (limits.hookProcesses). */
  processes: number;
  /** Jobs waiting for a slot (limits.hookQueue); over it, busy at once. */
  queue: number;
  /** One-shot auth hooks of one host running at once (limits.authsPerHost). */
  authsPerHost: number;
}

/** What a job needs: a slot, and for an auth hook, one of its host's. */
export interface SlotClaim {
  /**
   * The host the hook runs for. Waiters are served round-robin by host, and a full queue gives a place held by the
   * host holding the most to a host holding fewer: one host's flood of slow hooks cannot keep another's from running.
   */
  host?: string;
  /** Set for auth hooks: the host whose auth cap applies. */
  authHost?: string;
  /**
   * Waits whatever the queue's bound: for close hooks, which the app needs to
   * hear of every socket it accepted (their number is bounded by limits.sockets).
   */
  neverBusy?: boolean;
}

export type Acquired = { ok: true; release: () => void } | { ok: false; busy: string } | { ok: false; cancelled: true };

export interface SlotStats {
  running: number;
  queued: number;
  processes: number;
  queue: number;
  authsPerHost: number;
}

interface Waiter {
  readonly lane: string;
  readonly bounded: boolean;
  claim: SlotClaim;
  grant: (acquired: Acquired) => void;
  leave?: () => void;
}

export class HookSlots {
  #limits: SlotLimits;
  #running = 0;
  readonly #authRunning = new Map<string, number>();
  /** Waiters by host; the bound counts all but close hooks (a mass disconnect queues one per socket, kept out of it). */
  readonly #queue = new HostLanes<Waiter>();

  /** Asked before a job is refused as busy: it may cancel waiters whose clients went (Runtime.checkUpgrades). */
  readonly #beforeBusy: () => void;

  constructor(limits: SlotLimits, beforeBusy: () => void = () => {}) {
    this.#limits = { ...limits };
    this.#beforeBusy = beforeBusy;
  }

  get limits(): SlotLimits {
    return this.#limits;
  }

  /** Reload: new limits apply to what starts from now on; what runs keeps its slot. */
  configure(limits: SlotLimits): void {
    this.#limits = { ...limits };
    this.#pump();
  }

  stats(): SlotStats {
    return { running: this.#running, queued: this.#queue.size, ...this.#limits };
  }

  /** Why a job with this claim would be refused now, if it would (the answer for an async request before it is queued). */
  refusal(claim: SlotClaim = {}): string | undefined {
    if (this.#startsNow(claim) || this.#hasRoom(claim)) return undefined;
    this.#beforeBusy();
    if (this.#startsNow(claim)) return undefined;
    return this.#hasRoom(claim) ? undefined : this.#busy(claim);
  }

  /**
   * A slot now, or once one frees up; busy at once when the queue is full;
   * cancelled when `signal` aborts first (its place in the queue is freed).
   * `release` must be called exactly once when the process is done.
   */
  acquire(claim: SlotClaim = {}, signal?: GoneSignal): Promise<Acquired> {
    if (signal?.aborted) return Promise.resolve({ ok: false, cancelled: true });
    if (this.#startsNow(claim)) return Promise.resolve(this.#take(claim));
    if (!claim.neverBusy && this.#queue.bounded >= this.#limits.queue) {
      if (!this.#hasRoom(claim)) {
        // Waiters whose clients went leave the queue now, if the runtime learns of that only when asked.
        this.#beforeBusy();
        // Its own client may be one of those that went.
        if (signal?.aborted) return Promise.resolve({ ok: false, cancelled: true });
        if (this.#startsNow(claim)) return Promise.resolve(this.#take(claim));
        if (!this.#hasRoom(claim)) return Promise.resolve({ ok: false, busy: this.#busy(claim) });
      }
      if (this.#queue.bounded >= this.#limits.queue) this.#giveWay(claim);
    }
    return new Promise<Acquired>((resolve) => {
      const waiter: Waiter = { lane: claim.host ?? '', bounded: !claim.neverBusy, claim, grant: resolve };
      if (signal) {
        const onAbort = () => {
          this.#queue.remove(waiter);
          resolve({ ok: false, cancelled: true });
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.leave = () => signal.removeEventListener('abort', onAbort);
      }
      this.#queue.push(waiter);
    });
  }

  /**
   * Whether a job of this claim may wait: there is a free place under the bound, or the host holding the most places
   * holds at least two more than this claim's host would with it, and gives one up (#giveWay). Close hooks wait
   * beyond the bound and take none of its places, or a mass disconnect would make every other hook busy.
   */
  #hasRoom(claim: SlotClaim): boolean {
    return this.#queue.hasRoom(claim.host ?? '', this.#limits.queue);
  }

  /** The queue is full, and `claim`'s host holds fewer places than another: that host's newest waiter is refused for it. */
  #giveWay(claim: SlotClaim): void {
    const given = this.#queue.giveWay(claim.host ?? '');
    given?.leave?.();
    given?.grant({ ok: false, busy: `busy: limits.hookQueue (${this.#limits.queue} waiting) is full, and its places are shared between hosts` });
  }

  /** It fits, and no waiter that fits too is ahead of it (whoever waits for the same thing goes first). */
  #startsNow(claim: SlotClaim): boolean {
    return this.#fits(claim) && !this.#queue.some((w) => this.#fits(w.claim));
  }

  #fits(claim: SlotClaim): boolean {
    if (this.#running >= this.#limits.processes) return false;
    return claim.authHost === undefined || (this.#authRunning.get(claim.authHost) ?? 0) < this.#limits.authsPerHost;
  }

  #busy(claim: SlotClaim): string {
    const { processes, queue, authsPerHost } = this.#limits;
    if (this.#running < processes && claim.authHost !== undefined) {
      return `busy: limits.authsPerHost (${authsPerHost} auth hooks running for ${claim.authHost}, ${queue} waiting) is full`;
    }
    return `busy: limits.hookProcesses (${processes} hook processes running, ${queue} waiting) is full`;
  }

  #take(claim: SlotClaim): Acquired {
    this.#running++;
    const host = claim.authHost;
    if (host !== undefined) this.#authRunning.set(host, (this.#authRunning.get(host) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#running--;
        if (host !== undefined) {
          const left = this.#authRunning.get(host)! - 1;
          if (left > 0) this.#authRunning.set(host, left);
          else this.#authRunning.delete(host);
        }
        this.#pump();
      },
    };
  }

  /** Starts waiters, a host at a time in turn; one blocked only by its host's auth cap does not hold up the others. */
  #pump(): void {
    while (this.#running < this.#limits.processes) {
      const waiter = this.#queue.next((w) => this.#fits(w.claim));
      if (!waiter) return;
      waiter.leave?.();
      waiter.grant(this.#take(waiter.claim));
    }
  }
}
