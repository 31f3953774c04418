/**
 * Who is in a channel over every node: members by user (Pusher's presence
 * channels: a user is in while any of its sockets is, so its arrival is
 * told on its first socket and its departure on its last), and whether a
 * channel is occupied at all (its first socket anywhere, its last). Each
 * change is decided once, by the store, so it is told once however many
 * nodes there are. The memory store is a node alone's.
 */
import type { Member } from './protocol.ts';

/**
 * A change no socket's join or leave told: what removing a gone node's
 * entries changed (a user whose last socket was there, `member`; a channel
 * whose last socket was, `vacated`), or, with `added` or `occupied`, what
 * putting back entries the store had lost changed (a user in again, a
 * channel occupied again). Told by the one node that made the change.
 */
export interface OrphanedChange {
  host: string;
  channel: string;
  member?: Member;
  vacated?: boolean;
  /** With `member`: the user is in again (its entries were put back), not gone. */
  added?: boolean;
  occupied?: boolean;
}

export interface MemberStore {
  /**
   * `socket` joined as `member`; true when it is the user's first socket in
   * the channel. With `maxUsers`, 'full' when it would be a user beyond that
   * many, and it is not added: counted and added in one step over every node.
   */
  add(host: string, channel: string, socket: string, member: Member, maxUsers?: number): Promise<boolean | 'full'>;
  /** `socket` left; the member when it was its user's last socket there, else undefined. */
  remove(host: string, channel: string, socket: string): Promise<Member | undefined>;
  /** The users in a channel, each once, with the info its first socket brought. */
  users(host: string, channel: string): Promise<Map<string, unknown>>;
  /**
   * A socket of this node joined (`joined`) or left a channel, leaving `here`
   * of this node's sockets in it; true when that made the channel occupied
   * (its first socket on any node) or vacated (its last).
   */
  occupancy(host: string, channel: string, joined: boolean, here: number): Promise<boolean>;
  /**
   * Changes no socket's join or leave made: another node died with members
   * and channels of its own, or the store lost entries this node's sockets
   * still hold and put them back (a store shared by several nodes only; a
   * node alone takes its sockets with it).
   */
  onOrphaned?(listener: (change: OrphanedChange) => void): void;
}

interface UserEntry {
  info: unknown;
  sockets: Set<string>;
}

const key = (host: string, channel: string): string => `${host}\n${channel}`;

export class MemoryMembers implements MemberStore {
  /** Users per channel; a channel is dropped with its last user. */
  readonly #channels = new Map<string, Map<string, UserEntry>>();
  /** Which user each socket is in each channel, so a leave needs only the socket. */
  readonly #sockets = new Map<string, string>();

  async add(host: string, channel: string, socket: string, member: Member, maxUsers?: number): Promise<boolean | 'full'> {
    const at = key(host, channel);
    let users = this.#channels.get(at);
    const entry = users?.get(member.user);
    if (!entry && maxUsers !== undefined && (users?.size ?? 0) >= maxUsers) return 'full';
    if (!users) this.#channels.set(at, (users = new Map()));
    this.#sockets.set(`${at}\n${socket}`, member.user);
    if (entry) {
      entry.sockets.add(socket);
      return false;
    }
    users.set(member.user, { info: member.info, sockets: new Set([socket]) });
    return true;
  }

  async remove(host: string, channel: string, socket: string): Promise<Member | undefined> {
    const at = key(host, channel);
    const user = this.#sockets.get(`${at}\n${socket}`);
    if (user === undefined) return undefined;
    this.#sockets.delete(`${at}\n${socket}`);
    const users = this.#channels.get(at)!;
    const entry = users.get(user)!;
    entry.sockets.delete(socket);
    if (entry.sockets.size > 0) return undefined;
    users.delete(user);
    if (users.size === 0) this.#channels.delete(at);
    return { user, info: entry.info };
  }

  async occupancy(_host: string, _channel: string, joined: boolean, here: number): Promise<boolean> {
    return joined ? here === 1 : here === 0;
  }

  async users(host: string, channel: string): Promise<Map<string, unknown>> {
    const users = this.#channels.get(key(host, channel));
    return new Map([...(users ?? [])].map(([user, entry]) => [user, entry.info]));
  }
}
