/**
 * The registry of open sockets, by host, token and place (which a socket's
 * id spells: socket-ids.ts), and every write to them: a cast is serialised
 * and encoded once, then handed to the selected sockets (or, where the
 * runtime has native topics, to the runtime in one publish).
 */
import { sha256Hex } from './ids.ts';
import { KeyIndex } from './key-index.ts';
import { SocketPlaces, type Reservations } from './socket-places.ts';
import { serialOfId } from './socket-ids.ts';
import { utf8Length } from './utf8.ts';
import { framesByProtocol } from './protocol-frames.ts';
import { countInChannel, countProtocol } from './protocol-counts.ts';
import type { ProtocolCounts } from './protocol-counts.ts';
import type { OutFrame, Wire } from '../runtime/types.ts';
import type { Selection } from './targets.ts';
import type { ClientProtocol } from './protocol.ts';

export interface Socket {
  readonly id: string;
  /** What its id spells: its place among the hub's sockets (reserve() gave it). */
  readonly serial: number;
  readonly host: string;
  readonly token: string;
  /** The runtime adapter's socket, written through the hub's Wire. */
  readonly raw: unknown;
  /** Channels it belongs to (kept by the hub); undefined until it joins one. */
  channels?: Set<string>;
  /** Where it is in its host's list of sockets (kept by the hub). */
  slot?: number;
  /** Casts reach it framed by its protocol (docs/PROTOCOL.md's envelopes, Pusher's events). */
  readonly aware?: boolean;
  /** Its protocol, for the frame of a cast when it is `aware`. */
  readonly protocol?: ClientProtocol;
}

/** Counters of frames and bytes per host, added to on the hot paths without a call per frame. */
export interface Traffic {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
}

interface HostGroup {
  /** The host name as the group's first socket brought it: later sockets of the host share this string. */
  host: string;
  topic: string;
  /** Sockets whose protocol frames casts, by protocol: each protocol's take their frames from topics of their own. */
  wrapped: ProtocolCounts;
  /** Sockets of the host, in no order: what a cast to all of them walks (each knows its `slot`). */
  sockets: Socket[];
  /** Most tokens have one socket: the Socket itself stands for a set of one. */
  tokens: KeyIndex<Socket | Set<Socket>>;
  /** Members per channel; a channel is gone when its last member leaves. */
  channels: Map<string, Set<Socket>>;
  /** A channel's members counted as `wrapped` counts the host's (only channels that have such members). */
  wrappedIn: Map<string, ProtocolCounts>;
}

export interface HostStats {
  tokens: number;
  sockets: number;
  perToken: Record<string, number>;
}

export interface HubOptions {
  wire: Wire;
  /** Bytes a socket may have unsent before it counts as not reading. */
  sendBuffer: number;
  /** A socket went over sendBuffer. */
  onSlow(socket: Socket, buffered: number): void;
  /** Where a host's frames out are counted. */
  traffic?: (host: string) => Traffic;
}

const frameBytes = (frame: OutFrame): number => (typeof frame === 'string' ? utf8Length(frame) : frame.byteLength);

/** A channel's native topic: the host is part of it, so equal channel names on two hosts never mix. */
const channelTopic = (host: string, channel: string): string => `channel:${host}\n${channel}`;

/** The topic of the same frames, framed by a protocol for its sockets. */
const wrappedTopic = (topic: string, protocol: ClientProtocol): string => `${topic}\n+${protocol.name}`;
const topicOf = (topic: string, socket: Socket): string => (socket.aware && socket.protocol ? wrappedTopic(topic, socket.protocol) : topic);

const sizeOf = (entry: Socket | Set<Socket> | undefined): number => (entry === undefined ? 0 : entry instanceof Set ? entry.size : 1);

/** Visits the sockets of a token entry: one socket, or a set of them. */
const visitEntry = (entry: Socket | Set<Socket> | undefined, visit: (socket: Socket) => void): void => {
  if (entry instanceof Set) entry.forEach(visit);
  else if (entry) visit(entry);
};

/**
 * Visits a host's sockets from the last: a socket that a write drops (too
 * slow) leaves during its own visit, and the socket moved into its place
 * has then been visited already. Any other leave waits for a close event.
 */
const visitAll = (sockets: Socket[], visit: (socket: Socket) => void): void => {
  for (let i = sockets.length - 1; i >= 0; i--) {
    const socket = sockets[i];
    if (socket) visit(socket);
  }
};

export class Hub {
  readonly #places = new SocketPlaces<Socket>();
  /** Where an upgrade takes its place, before its auth hook runs (it is told the id it spells). */
  readonly reservations: Reservations = this.#places;
  readonly #byHost = new Map<string, HostGroup>();
  readonly #wire: Wire;
  readonly #onSlow: HubOptions['onSlow'];
  readonly #traffic: HubOptions['traffic'];
  sendBuffer: number;

  constructor(options: HubOptions) {
    this.#wire = options.wire;
    this.sendBuffer = options.sendBuffer;
    this.#onSlow = options.onSlow;
    this.#traffic = options.traffic;
  }

  get size(): number {
    return this.#places.size;
  }

  /** Open sockets of a host, and of one token on it. */
  countHost(host: string): number {
    return this.#byHost.get(host)?.sockets.length ?? 0;
  }

  countToken(host: string, token: string): number {
    return sizeOf(this.#byHost.get(host)?.tokens.get(token));
  }

  /** `host` as the hub already holds it, when it does: one string per host rather than one per socket. */
  hostName(host: string): string {
    return this.#byHost.get(host)?.host ?? host;
  }

  get(id: string): Socket | undefined {
    const serial = serialOfId(id);
    return serial === undefined ? undefined : this.#places.get(serial);
  }

  /** Registers an opened socket in its place; false when its place was given up meanwhile (it opened too late). */
  add(socket: Socket): boolean {
    if (!this.#places.take(socket.serial, socket)) return false;
    let group = this.#byHost.get(socket.host);
    if (!group) {
      group = { host: socket.host, topic: `host:${socket.host}`, wrapped: new Map(), sockets: [], tokens: new KeyIndex(), channels: new Map(), wrappedIn: new Map() };
      this.#byHost.set(socket.host, group);
    }
    socket.slot = group.sockets.push(socket) - 1;
    const same = group.tokens.get(socket.token);
    if (same === undefined) group.tokens.set(socket.token, socket);
    else if (same instanceof Set) same.add(socket);
    else group.tokens.set(socket.token, new Set([same, socket]));
    countProtocol(group.wrapped, socket, 1);
    this.#wire.topics?.subscribe(socket.raw, topicOf(group.topic, socket));
    return true;
  }

  /** Returns false when the socket was not registered (already removed). */
  remove(socket: Socket): boolean {
    if (this.#places.get(socket.serial) !== socket) return false;
    this.#places.release(socket.serial);
    const group = this.#byHost.get(socket.host);
    if (!group) return true;
    // The last socket takes its place, so the list stays without holes.
    const last = group.sockets.pop()!;
    if (last !== socket) {
      group.sockets[socket.slot!] = last;
      last.slot = socket.slot;
    }
    countProtocol(group.wrapped, socket, -1);
    const same = group.tokens.get(socket.token);
    if (same === socket) group.tokens.delete(socket.token);
    else if (same instanceof Set) {
      same.delete(socket);
      if (same.size === 1) group.tokens.set(socket.token, same.values().next().value as Socket);
    }
    if (socket.channels) for (const channel of socket.channels) this.#leave(group, socket, channel);
    if (group.sockets.length === 0) this.#byHost.delete(socket.host);
    try {
      this.#wire.topics?.unsubscribe(socket.raw, topicOf(group.topic, socket));
    } catch {
      // Closed sockets leave their topics by themselves.
    }
    return true;
  }

  /** Adds a registered socket to a channel of its host; false when it was a member already (or is not registered). */
  join(socket: Socket, channel: string): boolean {
    const group = this.#byHost.get(socket.host);
    if (!group || this.#places.get(socket.serial) !== socket || socket.channels?.has(channel)) return false;
    (socket.channels ??= new Set()).add(channel);
    let members = group.channels.get(channel);
    if (!members) {
      members = new Set();
      group.channels.set(channel, members);
    }
    members.add(socket);
    countInChannel(group.wrappedIn, channel, socket, 1);
    this.#wire.topics?.subscribe(socket.raw, topicOf(channelTopic(socket.host, channel), socket));
    return true;
  }

  /** Takes a socket out of a channel; false when it was not in it. */
  leave(socket: Socket, channel: string): boolean {
    const group = this.#byHost.get(socket.host);
    if (!group || !socket.channels?.has(channel)) return false;
    this.#leave(group, socket, channel);
    return true;
  }

  #leave(group: HostGroup, socket: Socket, channel: string): void {
    socket.channels?.delete(channel);
    const members = group.channels.get(channel);
    if (members?.delete(socket)) {
      if (members.size === 0) group.channels.delete(channel);
      countInChannel(group.wrappedIn, channel, socket, -1);
    }
    try {
      this.#wire.topics?.unsubscribe(socket.raw, topicOf(channelTopic(socket.host, channel), socket));
    } catch {
      // Closed sockets leave their topics by themselves.
    }
  }

  /** Writes one frame to one socket; false when the socket is gone. */
  send(socket: Socket, frame: OutFrame): boolean {
    if (!this.#write(socket, frame)) return false;
    if (this.#traffic) {
      const counters = this.#traffic(socket.host);
      counters.framesOut++;
      counters.bytesOut += frameBytes(frame);
    }
    return true;
  }

  /** Writes without counting: a cast counts once for all its sockets. */
  #write(socket: Socket, frame: OutFrame): boolean {
    let buffered: number;
    try {
      buffered = this.#wire.send(socket.raw, frame);
    } catch {
      // A socket that closed under us is removed by its close event.
      return false;
    }
    if (buffered > this.sendBuffer) this.#onSlow(socket, buffered);
    return true;
  }

  close(socket: Socket, code?: number, reason?: string): void {
    try {
      this.#wire.close(socket.raw, code, reason);
    } catch {
      // Already closing; its close event still comes.
    }
  }

  terminate(socket: Socket): void {
    try {
      this.#wire.terminate(socket.raw);
    } catch {
      // Already gone.
    }
  }

  /**
   * Sends `frame` to the selected sockets of `host`; returns how many got it.
   * Sockets whose protocol frames casts get `wrap(protocol)` instead, when
   * given: it is called at most once per protocol; with native topics
   * whenever the host has such a socket (its protocol's topic is published
   * to blindly), else only when one is among the selected; undefined: none.
   */
  cast(host: string, selection: Selection, frame: string, except?: string, wrap?: (protocol: ClientProtocol) => string | undefined): number {
    const group = this.#byHost.get(host);
    if (!group) return 0;
    const topics = this.#wire.topics;
    if (topics && (selection.kind === 'all' || selection.kind === 'channel')) {
      const channel = selection.kind === 'channel' ? selection.channel : undefined;
      const members = channel === undefined ? undefined : group.channels.get(channel);
      if (channel !== undefined && !members) return 0;
      const skip = except === undefined ? undefined : this.get(except);
      const excepted = skip !== undefined && skip.host === host && (members === undefined || members.has(skip));
      const topic = channel === undefined ? group.topic : channelTopic(host, channel);
      topics.publish(topic, frame, excepted ? skip.raw : undefined);
      let unreached = 0;
      for (const [protocol, sockets] of group.wrapped) {
        const text = wrap ? wrap(protocol) : frame;
        if (text !== undefined) topics.publish(wrappedTopic(topic, protocol), text, excepted ? skip.raw : undefined);
        // Not sent to this protocol's sockets (Pusher's skip wsgate's presence frames): they are not among those it reached.
        else unreached += (members ? (group.wrappedIn.get(channel!)?.get(protocol) ?? 0) : sockets) - (excepted && skip.aware && skip.protocol === protocol ? 1 : 0);
      }
      return this.#counted(host, frame, (members ? members.size : group.sockets.length) - (excepted ? 1 : 0) - unreached);
    }
    const out = this.#wire.encode(frame);
    const framed = wrap && framesByProtocol(frame, out, wrap, this.#wire);
    let sent = 0;
    const skip = except === undefined ? undefined : this.get(except);
    this.#each(group, selection, (socket) => {
      if (socket === skip) return;
      const bytes = socket.aware && framed && socket.protocol ? framed(socket.protocol) : out;
      if (bytes !== undefined && this.#write(socket, bytes)) sent++;
    });
    return this.#counted(host, frame, sent);
  }

  /** Counts a cast's frames out (its bytes as cast: envelopes add a few). */
  #counted(host: string, frame: string, sent: number): number {
    if (this.#traffic && sent > 0) {
      const counters = this.#traffic(host);
      counters.framesOut += sent;
      counters.bytesOut += sent * utf8Length(frame);
    }
    return sent;
  }

  /** The sockets a selection picks on a host (for joining and leaving channels from the bridge). */
  select(host: string, selection: Selection): Socket[] {
    const group = this.#byHost.get(host);
    const picked: Socket[] = [];
    if (group) this.#each(group, selection, (socket) => void picked.push(socket));
    return picked;
  }

  /** Sockets per occupied channel of a host, of those whose names start with `prefix`. */
  occupied(host: string, prefix = ''): Record<string, number> {
    const counts: Array<[string, number]> = [];
    const channels = this.#byHost.get(host)?.channels;
    if (channels) for (const [channel, members] of channels) if (channel.startsWith(prefix)) counts.push([channel, members.size]);
    // fromEntries: `counts[channel] =` would set the prototype for a channel named `__proto__`.
    return Object.fromEntries(counts);
  }

  /** How many of a host's sockets are in a channel. */
  count(host: string, channel: string): number {
    return this.#byHost.get(host)?.channels.get(channel)?.size ?? 0;
  }

  /** Members of a channel of a host. */
  members(host: string, channel: string): Socket[] {
    return [...(this.#byHost.get(host)?.channels.get(channel) ?? [])];
  }

  #each(group: HostGroup, selection: Selection, visit: (socket: Socket) => void): void {
    switch (selection.kind) {
      case 'all':
        visitAll(group.sockets, visit);
        break;
      case 'token':
        visitEntry(group.tokens.get(selection.token), visit);
        break;
      case 'notToken':
        visitAll(group.sockets, (socket) => socket.token !== selection.token && visit(socket));
        break;
      case 'channel':
        group.channels.get(selection.channel)?.forEach(visit);
        break;
      case 'sockets':
        for (const id of new Set(selection.ids)) {
          const socket = this.get(id);
          if (socket && socket.host === group.host) visit(socket);
        }
        break;
    }
  }

  /** Every open socket, for shutdown. */
  all(): Socket[] {
    const out: Socket[] = [];
    for (const group of this.#byHost.values()) for (const socket of group.sockets) out.push(socket);
    return out;
  }

  /** Sockets and tokens per host, without hashing tokens (for /metrics). */
  sizes(): Array<{ host: string; sockets: number; tokens: number }> {
    return [...this.#byHost.values()].map((group) => ({ host: group.host, sockets: group.sockets.length, tokens: group.tokens.size }));
  }

  /** Built with Object.fromEntries: a host is the client's to name (under `*`), and `out[host] =` would set the prototype for `__proto__`. */
  stats(): Record<string, HostStats> {
    const out: Array<[string, HostStats]> = [];
    for (const [host, group] of this.#byHost) {
      const perToken: Record<string, number> = {};
      for (const same of group.tokens.values()) {
        const first = same instanceof Set ? (same.values().next().value as Socket) : same;
        // Hashed here, not kept per socket: /health is rare, and 64 characters per socket add up.
        perToken[sha256Hex(first.token)] = sizeOf(same);
      }
      out.push([host, { tokens: group.tokens.size, sockets: group.sockets.length, perToken }]);
    }
    return Object.fromEntries(out);
  }
}
