/**
 * Channel membership: joining (with what a resuming client missed, before
 * anything live), leaving, the join and leave events of channels that ask
 * for them, and who is in a channel.
 */
import type { Client } from './client.ts';
import type { Broker } from './broker.ts';
import type { Hub } from './hub.ts';
import type { Presence } from './presence.ts';
import type { CoreEvents } from './events.ts';
import type { MemberStore, OrphanedChange } from './members.ts';
import type { ClientProtocol, Member } from './protocol.ts';
import type { Recovery } from './history/recovery.ts';
import { streamKey } from './history/history.ts';
import type { Position } from './history/history.ts';
import type { Selection } from './targets.ts';
import { sha256Hex } from './ids.ts';
import { channelRule } from '../config/channel-rules.ts';

/** A channel's answer to its members' presence requests, as last rendered, and in whose words. */
interface KeptAnswer {
  render: ClientProtocol['presence'];
  frame: string;
}

/**
 * Characters of kept presence answers in all (about as many bytes): the
 * oldest go first beyond it, and a channel whose answer is not kept is
 * rendered again when asked, as it always was.
 */
const KEPT_ANSWERS_CHARS = 16 << 20;

const channelKey = (host: string, channel: string): string => `${host}\n${channel}`;

export class Channels {
  readonly #hub: Hub;
  readonly #recovery: Recovery;
  readonly #broker: Broker;
  readonly #members: MemberStore;
  readonly #events: CoreEvents;

  /**
   * Presence answers by channel: rendering one hashes the token of every
   * member, tens of milliseconds for a few thousand, and a client may ask as
   * often as it may send. Dropped whenever it would say something else:
   * someone joins or leaves the channel, or a member's info changes.
   */
  readonly #answers = new Map<string, KeptAnswer>();
  #answersChars = 0;

  /** What frames member events the store finds with no client to ask (a dead node's users): the protocol of members by user. */
  readonly #memberFrames: ClientProtocol | undefined;

  constructor(parts: { hub: Hub; recovery: Recovery; broker: Broker; members: MemberStore; events: CoreEvents; memberFrames?: ClientProtocol }) {
    this.#hub = parts.hub;
    this.#recovery = parts.recovery;
    this.#broker = parts.broker;
    this.#members = parts.members;
    this.#events = parts.events;
    this.#memberFrames = parts.memberFrames;
    parts.members.onOrphaned?.((change) => this.#orphaned(change));
  }

  /** A change the member store found (a dead node's users and channels, or a Redis that was away): told as if it happened here. */
  #orphaned({ host, channel, member, vacated, added = false, occupied }: OrphanedChange): void {
    if (member) {
      this.#tellMember(this.#memberFrames, host, channel, member, added, '');
      this.#events.member(host, channel, member, added);
    }
    if ((vacated || occupied) && this.#events.wantsChannels) this.#events.channel(host, channel, occupied === true);
  }

  /** Joins each; a promise when some join waits for the shared store, done once they all are. */
  joinAll(client: Client, channels: string[]): Promise<void> | undefined {
    let waiting: Array<Promise<void>> | undefined;
    for (const channel of channels) {
      const joined = this.#join(client, channel, 'joined');
      if (typeof joined !== 'boolean') (waiting ??= []).push(joined);
    }
    return waiting && Promise.all(waiting).then(() => undefined);
  }

  /**
   * Joins one channel; on channels with presence events, the others in it are
   * told. A client that resumes is told too (`how` says in which words), with
   * the publications it missed, before anything live can reach it. False when
   * it was in it already.
   */
  join(client: Client, channel: string, how: 'joined' | 'subscribed' = 'joined', since?: Position): boolean {
    const joined = this.#join(client, channel, how, since);
    // A join that waits for the shared store goes on by itself.
    return typeof joined === 'boolean' ? joined : true;
  }

  /**
   * As join(), for the client's own subscribe: done once a join that waits
   * for the shared store is, so the frames it sent next (an unsubscribe, a
   * presence request, another subscribe against channelsPerSocket) find it
   * in the channel, in its lane, as on a node alone.
   */
  async joinAsked(client: Client, channel: string, since?: Position): Promise<boolean> {
    const joined = this.#join(client, channel, 'subscribed', since);
    if (typeof joined === 'boolean') return joined;
    await joined;
    return true;
  }

  /** A join, or the wait for the shared store a resuming one is done after. */
  #join(client: Client, channel: string, how: 'joined' | 'subscribed', since?: Position): boolean | Promise<void> {
    const limits = channelRule(client.route.config.channels, channel)?.history;
    const key = streamKey(client.host, channel);
    if (client.protocol.resumes && this.#broker.shared && limits && !client.channels?.has(channel)) {
      const asked = since ?? client.recoverOf(channel);
      // This node's copy cannot fill the gap (it was not up, or not for all of it): the shared store may.
      if (asked && this.#recovery.worthReading(key, asked, limits)) {
        client.takeRecover(channel);
        return this.#recovery.joinFromStore(client, channel, key, limits, how, asked, () => this.#enter(client, channel));
      }
    }
    if (!this.#enter(client, channel)) return false;
    if (client.protocol.resumes) this.#recovery.announce(client, channel, key, limits, how, since);
    return true;
  }

  /** Makes it a member, and tells the others where the channel asks for it. */
  #enter(client: Client, channel: string): boolean {
    if (!this.#hub.join(client, channel)) return false;
    this.#forgetAnswer(client.host, channel);
    this.#events.notice({ kind: 'joined', client, channel });
    this.#occupancy(client.host, channel, true);
    this.presenceEvent(client, channel, 'join');
    return true;
  }

  /**
   * Joins a channel with members by user, as `member` (its signature
   * checked by the protocol); the others are told when it is the user's
   * first socket there. Resolves to the channel's users, or undefined when
   * the client was in it already or went away meanwhile; 'full', and out of
   * it again, when its user would be one beyond `maxUsers`.
   */
  joinAsMember(client: Client, channel: string, member: Member): Promise<Map<string, unknown> | undefined>;
  joinAsMember(client: Client, channel: string, member: Member, maxUsers: number | undefined): Promise<Map<string, unknown> | 'full' | undefined>;
  async joinAsMember(client: Client, channel: string, member: Member, maxUsers?: number): Promise<Map<string, unknown> | 'full' | undefined> {
    if (!this.#enter(client, channel)) return undefined;
    const first = await this.#members.add(client.host, channel, client.id, member, maxUsers);
    if (first === 'full') {
      this.leave(client, channel);
      return 'full';
    }
    if (first) this.#memberEvent(client, channel, member, true);
    if (!client.open) return undefined;
    return this.#members.users(client.host, channel);
  }

  /** The users in a channel with members by user (on every node the member store sees). */
  users(host: string, channel: string): Promise<Map<string, unknown>> {
    return this.#members.users(host, channel);
  }

  #memberEvent(client: Client, channel: string, member: Member, added: boolean): void {
    this.#tellMember(client.protocol, client.host, channel, member, added, client.id);
    this.#events.member(client.host, channel, member, added);
  }

  /** A member event to the channel's members (or to those the protocol says), on every node. */
  #tellMember(protocol: ClientProtocol | undefined, host: string, channel: string, member: Member, added: boolean, except: string): void {
    const told = protocol?.memberEvent?.(added, channel, member);
    if (typeof told === 'string') this.#broker.publish({ t: 'presenceEvent', host, channel, frame: told, except });
    else if (told) this.#broker.publish({ t: 'presenceEvent', host, channel: told.to, frame: told.frame, except });
  }

  /** Takes it out of a channel; `tell`: the app did, and a client that resumes is told. False when it was not in it. */
  leave(client: Client, channel: string, tell = false): boolean {
    if (!this.#hub.leave(client, channel)) return false;
    this.departed(client, channel);
    if (tell && client.open) {
      const left = client.protocol.left(channel);
      if (left !== undefined) this.#hub.send(client, left);
    }
    return true;
  }

  /** It is out of a channel (left, or closed): the others are told, as the channel asks. */
  departed(client: Client, channel: string): void {
    this.#forgetAnswer(client.host, channel);
    this.presenceEvent(client, channel, 'leave');
    if (client.protocol.hasMembers?.(channel)) {
      void this.#members.remove(client.host, channel, client.id).then((member) => {
        if (member) this.#memberEvent(client, channel, member, false);
      });
    }
    this.#occupancy(client.host, channel, false);
  }

  /** Tells observers when a channel's first socket on any node came, or its last went (the store decides, once). */
  #occupancy(host: string, channel: string, joined: boolean): void {
    if (!this.#events.wantsChannels) return;
    void this.#members.occupancy(host, channel, joined, this.#hub.count(host, channel)).then((changed) => {
      if (changed) this.#events.channel(host, channel, joined);
    });
  }

  /** A join or leave told to the channel's other members on every node, where the channel's options ask for it. */
  presenceEvent(client: Client, channel: string, event: 'join' | 'leave'): void {
    if (!channelRule(client.route.config.channels, channel)?.presenceEvents) return;
    const frame = client.protocol.presenceEvent(event, channel, client.id, client.info);
    this.#broker.publish({ t: 'presenceEvent', host: client.host, channel, frame, except: client.id });
  }

  /** Joins (or leaves) a channel for every client a selection picks on this node; returns how many joined (left). */
  subscribe(host: string, selection: Selection, channel: string, join: boolean): number {
    let changed = 0;
    for (const client of this.#hub.select(host, selection) as Client[]) {
      if (join ? this.join(client, channel) : this.leave(client, channel, true)) changed++;
    }
    this.#events.notice({ kind: 'subscribed', host, channel, target: selection.kind, sockets: changed, join });
    return changed;
  }

  /** Closes every client a selection picks on this node (POST /disconnect); returns how many. */
  disconnect(host: string, selection: Selection, code: number, reason: string): number {
    const clients = this.#hub.select(host, selection) as Client[];
    for (const client of clients) {
      this.#events.closing(client, { kind: 'disconnect', code });
      this.#hub.close(client, code, reason);
    }
    return clients.length;
  }

  /**
   * A member's info replaced (its connect hook answers after it joined the
   * channels of its path and auth): the kept answers that said the old one
   * are dropped, as nothing else would tell them.
   */
  setInfo(client: Client, info: unknown): void {
    client.setInfo(info);
    if (client.channels) for (const channel of client.channels) this.#forgetAnswer(client.host, channel);
  }

  /** Who is in a channel on this node: each client with its token's hash and its info, and clients per token hash. */
  presence(host: string, channel: string): Presence {
    return presenceOf(this.#hub.members(host, channel) as Client[]);
  }

  /**
   * A member's own presence request answered in its protocol's words: the
   * channel's members on this node, as presence() says them. The answer is
   * kept until it is dropped (#enter, departed, setInfo): members on other
   * nodes are not in it, so only this node's changes can make it wrong.
   */
  presenceAnswer(client: Client, channel: string): string {
    const key = channelKey(client.host, channel);
    const render = client.protocol.presence;
    const kept = this.#answers.get(key);
    // A channel may hold clients of another protocol: they are answered in their own words.
    if (kept && kept.render === render) return kept.frame;
    const frame = render(channel, this.presence(client.host, channel).members);
    this.#forgetAnswer(client.host, channel);
    this.#keepAnswer(key, { render, frame });
    return frame;
  }

  #keepAnswer(key: string, answer: KeptAnswer): void {
    if (answer.frame.length > KEPT_ANSWERS_CHARS) return;
    this.#answers.set(key, answer);
    this.#answersChars += answer.frame.length;
    for (const [oldest, { frame }] of this.#answers) {
      if (this.#answersChars <= KEPT_ANSWERS_CHARS) break;
      this.#answers.delete(oldest);
      this.#answersChars -= frame.length;
    }
  }

  #forgetAnswer(host: string, channel: string): void {
    if (this.#answers.size === 0) return;
    const key = channelKey(host, channel);
    const kept = this.#answers.get(key);
    if (!kept) return;
    this.#answers.delete(key);
    this.#answersChars -= kept.frame.length;
  }
}

/** Who is in a channel, of `clients`: tokens as their hashes, each hashed once however many of its sockets are there. */
function presenceOf(clients: Client[]): Presence {
  const members: Presence['members'] = [];
  const tokens: Record<string, number> = {};
  const hashes = new Map<string, string>();
  for (const client of clients) {
    let hash = hashes.get(client.token);
    if (hash === undefined) {
      hash = sha256Hex(client.token);
      hashes.set(client.token, hash);
    }
    tokens[hash] = (tokens[hash] ?? 0) + 1;
    members.push(client.info === undefined ? { socket: client.id, token: hash } : { socket: client.id, token: hash, info: client.info });
  }
  return { sockets: members.length, tokens, members };
}
