/**
 * The registry of open sockets, indexed by host, token and id, and the cast:
 * a frame is serialised once by the caller and handed to every selected socket.
 */
import type { Selection } from './targets.ts';

/** What the hub needs of a live connection; the runtime adapter provides it. */
export interface Conn {
  send(frame: string): void;
  close(code?: number, reason?: string): void;
  /** Drops the connection at once, without the close handshake. */
  terminate(): void;
}

export interface Socket {
  readonly id: string;
  readonly host: string;
  readonly token: string;
  /** sha256 hex of the token, for logs and /health. */
  readonly tokenHash: string;
  readonly conn: Conn;
}

interface HostGroup {
  sockets: Set<Socket>;
  tokens: Map<string, Set<Socket>>;
}

export interface HostStats {
  tokens: number;
  sockets: number;
  perToken: Record<string, number>;
}

export class Hub {
  readonly #byId = new Map<string, Socket>();
  readonly #byHost = new Map<string, HostGroup>();

  get size(): number {
    return this.#byId.size;
  }

  /** Open sockets of a host, and of one token on it. */
  countHost(host: string): number {
    return this.#byHost.get(host)?.sockets.size ?? 0;
  }

  countToken(host: string, token: string): number {
    return this.#byHost.get(host)?.tokens.get(token)?.size ?? 0;
  }

  get(id: string): Socket | undefined {
    return this.#byId.get(id);
  }

  add(socket: Socket): void {
    this.#byId.set(socket.id, socket);
    let group = this.#byHost.get(socket.host);
    if (!group) {
      group = { sockets: new Set(), tokens: new Map() };
      this.#byHost.set(socket.host, group);
    }
    group.sockets.add(socket);
    let same = group.tokens.get(socket.token);
    if (!same) {
      same = new Set();
      group.tokens.set(socket.token, same);
    }
    same.add(socket);
  }

  /** Returns false when the socket was not registered (already removed). */
  remove(socket: Socket): boolean {
    if (this.#byId.get(socket.id) !== socket) return false;
    this.#byId.delete(socket.id);
    const group = this.#byHost.get(socket.host);
    if (!group) return true;
    group.sockets.delete(socket);
    const same = group.tokens.get(socket.token);
    if (same) {
      same.delete(socket);
      if (same.size === 0) group.tokens.delete(socket.token);
    }
    if (group.sockets.size === 0) this.#byHost.delete(socket.host);
    return true;
  }

  /** Sends `frame` to the selected sockets of `host`; returns how many got it. */
  cast(host: string, selection: Selection, frame: string, except?: string): number {
    const group = this.#byHost.get(host);
    if (!group) return 0;
    let sent = 0;
    const deliver = (socket: Socket) => {
      if (socket.id === except) return;
      try {
        socket.conn.send(frame);
        sent++;
      } catch {
        // A socket that closed under us is removed by its close event.
      }
    };
    switch (selection.kind) {
      case 'all':
        group.sockets.forEach(deliver);
        break;
      case 'token':
        group.tokens.get(selection.token)?.forEach(deliver);
        break;
      case 'notToken':
        for (const [token, sockets] of group.tokens) if (token !== selection.token) sockets.forEach(deliver);
        break;
      case 'sockets':
        for (const id of new Set(selection.ids)) {
          const socket = this.#byId.get(id);
          if (socket && socket.host === host) deliver(socket);
        }
        break;
    }
    return sent;
  }

  /** Every open socket, for shutdown. */
  all(): Socket[] {
    return [...this.#byId.values()];
  }

  stats(): Record<string, HostStats> {
    const out: Record<string, HostStats> = {};
    for (const [host, group] of this.#byHost) {
      const perToken: Record<string, number> = {};
      for (const sockets of group.tokens.values()) {
        const first = sockets.values().next().value as Socket;
        perToken[first.tokenHash] = sockets.size;
      }
      out[host] = { tokens: group.tokens.size, sockets: group.sockets.size, perToken };
    }
    return out;
  }
}
