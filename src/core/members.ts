/**
 * Channels with members by user (Pusher's presence channels): a user is in
 * a channel while any of its sockets is, so its arrival is told on its
 * first socket and its departure on its last. The store answers for every
 * node the broker reaches: the memory store for a node alone.
 */
import type { Member } from './protocol.ts';

export interface MemberStore {
  /** `socket` joined as `member`; true when it is the user's first socket in the channel. */
  add(host: string, channel: string, socket: string, member: Member): Promise<boolean>;
  /** `socket` left; the member when it was its user's last socket there, else undefined. */
  remove(host: string, channel: string, socket: string): Promise<Member | undefined>;
  /** The users in a channel, each once, with the info its first socket brought. */
  users(host: string, channel: string): Promise<Map<string, unknown>>;
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

  async add(host: string, channel: string, socket: string, member: Member): Promise<boolean> {
    const at = key(host, channel);
    let users = this.#channels.get(at);
    if (!users) this.#channels.set(at, (users = new Map()));
    this.#sockets.set(`${at}\n${socket}`, member.user);
    const entry = users.get(member.user);
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

  async users(host: string, channel: string): Promise<Map<string, unknown>> {
    const users = this.#channels.get(key(host, channel));
    return new Map([...(users ?? [])].map(([user, entry]) => [user, entry.info]));
  }
}
