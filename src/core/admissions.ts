/**
 * Sockets that are not open yet but already hold a place: an upgrade whose
 * auth hook runs, a socket waiting for its auth frame. They count against
 * the socket limits like open ones, so a flood of half-finished upgrades
 * cannot get past `limits.sockets`, `socketsPerHost` or `socketsPerToken`.
 */

/** One socket's place while it is admitted but not open. Released once, whatever happens. */
export class Ticket {
  readonly host: string;
  #token: string | undefined;
  #released = false;
  readonly #from: Admissions;
  #evict: ((code: number, reason: string, kind: string) => void) | undefined;

  constructor(from: Admissions, host: string) {
    this.#from = from;
    this.host = host;
  }

  get token(): string | undefined {
    return this.#token;
  }

  get released(): boolean {
    return this.#released;
  }

  /** The token became known (the first-frame flow): from now on it counts for that token too. */
  setToken(token: string): void {
    if (this.#released || this.#token !== undefined) return;
    this.#token = token;
    this.#from.count(this.host, token, 1);
  }

  /**
   * A socket already open while it holds its place (the first-frame flow): a stop, or a reload that removes its host,
   * closes it as it does the open sockets, rather than leaving it to its auth timeout or the exit. Only such tickets
   * are kept in a list: an upgrade's ticket has no socket to close yet.
   */
  closeOnEvict(evict: (code: number, reason: string, kind: string) => void): void {
    if (this.#released) return;
    this.#evict = evict;
    this.#from.hold(this);
  }

  /** @internal */
  evict(code: number, reason: string, kind: string): void {
    this.#evict?.(code, reason, kind);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#from.leave(this);
  }
}

const tokenKey = (host: string, token: string) => `${host}\n${token}`;

export class Admissions {
  #size = 0;
  readonly #hosts = new Map<string, number>();
  readonly #tokens = new Map<string, number>();
  /** Tickets of open sockets that a stop or reload must close (Ticket.closeOnEvict). */
  readonly #held = new Set<Ticket>();

  /** Places held in all. */
  get size(): number {
    return this.#size;
  }

  countHost(host: string): number {
    return this.#hosts.get(host) ?? 0;
  }

  countToken(host: string, token: string): number {
    return this.#tokens.get(tokenKey(host, token)) ?? 0;
  }

  enter(host: string, token?: string): Ticket {
    const ticket = new Ticket(this, host);
    this.#size++;
    this.#hosts.set(host, this.countHost(host) + 1);
    if (token !== undefined) ticket.setToken(token);
    return ticket;
  }

  /** Closes the open sockets holding a place, of every host or of those `served` says are gone. */
  evict(code: number, reason: string, kind: string, served: (host: string) => boolean = () => false): void {
    for (const ticket of [...this.#held]) if (!served(ticket.host)) ticket.evict(code, reason, kind);
  }

  /** @internal */
  hold(ticket: Ticket): void {
    this.#held.add(ticket);
  }

  /** @internal Ticket's side of the bookkeeping. */
  count(host: string, token: string, by: 1 | -1): void {
    const key = tokenKey(host, token);
    const n = (this.#tokens.get(key) ?? 0) + by;
    if (n > 0) this.#tokens.set(key, n);
    else this.#tokens.delete(key);
  }

  /** @internal */
  leave(ticket: Ticket): void {
    this.#held.delete(ticket);
    this.#size--;
    const n = this.countHost(ticket.host) - 1;
    if (n > 0) this.#hosts.set(ticket.host, n);
    else this.#hosts.delete(ticket.host);
    if (ticket.token !== undefined) this.count(ticket.host, ticket.token, -1);
  }
}
