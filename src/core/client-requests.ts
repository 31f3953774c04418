/**
 * What a client asks of the gateway itself, in its lane like any frame:
 * subscribe (through the subscribe hook, or signed by the app and checked by
 * its protocol), unsubscribe, who is in a channel, an event to the others in
 * a channel, sign-in. The client is told the outcome in its protocol's words.
 */
import type { Client } from './client.ts';
import type { Channels } from './channels.ts';
import type { CoreEvents } from './events.ts';
import { BUSY } from './hook-calls.ts';
import type { HookCalls } from './hook-calls.ts';
import type { Hub } from './hub.ts';
import type { ClientRequest, ParsedFrame } from './protocol.ts';
import type { Recovery } from './history/recovery.ts';
import { streamKey } from './history/history.ts';
import type { Routes } from './routes.ts';
import type { Selection } from './targets.ts';
import { channelRule } from '../config/channel-rules.ts';
import { refuses } from '../hooks/runners/runner.ts';

/**
 * Why a client may not join one more channel of its own choosing, or
 * undefined when it may: every channel it is in counts, those the app
 * joined it to (path, grants, the bridge) too, though the app's own joins
 * are never refused. A channel it is in already costs nothing more.
 */
function channelsFull(client: Client, channel: string, max: number): string | undefined {
  const size = client.channels?.size ?? 0;
  if (size < max || client.channels?.has(channel)) return undefined;
  return `a socket may be in at most ${max} channels (limits.channelsPerSocket)`;
}

export interface ClientRequestsParts {
  hub: Hub;
  /** The limits as configured now: a reload's new ones apply to the next subscribe. */
  routes: Pick<Routes, 'limits'>;
  hooks: HookCalls;
  channels: Channels;
  recovery: Recovery;
  events: CoreEvents;
  /** Whether another protocol served on the host keeps a channel for itself (a Pusher app's user channels): no client may ask for it. */
  reserved(host: string, channel: string): boolean;
  /** Casts on every node (Publishing.castText): a client's event to its channel. */
  castText(host: string, selection: Selection, frame: string, except: string | undefined, unkept?: boolean): number;
}

export class ClientRequests {
  readonly #p: ClientRequestsParts;

  constructor(parts: ClientRequestsParts) {
    this.#p = parts;
  }

  /**
   * A client's own subscribe, unsubscribe or presence request, in its lane
   * like any frame: the subscribe hook (host, token, socket, channel)
   * decides, `false` or a failure refuses; the client is told either way.
   */
  async run(client: Client, parsed: NonNullable<ParsedFrame>): Promise<void> {
    const { hub, channels, recovery, events } = this.#p;
    const protocol = client.protocol;
    const answer = (frame: string) => {
      if (client.open) hub.send(client, frame);
    };
    if ('problem' in parsed) return answer(protocol.error(parsed.problem, parsed.channel));
    if (parsed.reply !== undefined) answer(parsed.reply);
    if (!('request' in parsed)) return;
    const request = parsed.request;
    if (request.op === 'publish') return this.#publish(client, request);
    if (request.op === 'signin') return this.#signin(client, request);
    const { channel } = request;
    if (request.op === 'subscribe' && request.signed) return this.#signedSubscribe(client, request);
    if (request.op === 'presence') {
      if (!client.channels?.has(channel)) return answer(protocol.error('presence is only for a channel this socket is in', channel));
      return answer(channels.presenceAnswer(client, channel));
    }
    if (request.op === 'unsubscribe') {
      channels.leave(client, channel);
      const done = protocol.unsubscribed(channel);
      return done === undefined ? undefined : answer(done);
    }
    if (this.#p.reserved(client.host, channel)) return answer(protocol.subscribeRefused(channel, "the channel is the Pusher app's own on this host"));
    if (!client.route.config.clientChannels) return answer(protocol.subscribeRefused(channel, 'this host does not let clients choose channels ("clientChannels")'));
    // Before the hook, so a client at its limit costs no hook run.
    const full = channelsFull(client, channel, this.#p.routes.limits.channelsPerSocket);
    if (full) {
      events.notice({ kind: 'subscribe', client, channel, refused: true });
      return answer(protocol.subscribeRefused(channel, full));
    }
    const result = await this.#p.hooks.run(client, client.route, 'subscribe', channel);
    // Only a hook that ran and said yes lets a client in: a failure or a full hook queue refuses.
    const refused = result === undefined || result === BUSY || refuses(result);
    // The app may have joined it to more channels while the hook ran: the limit is checked again.
    const fullNow = refused ? undefined : channelsFull(client, channel, this.#p.routes.limits.channelsPerSocket);
    events.notice({ kind: 'subscribe', client, channel, refused: refused || fullNow !== undefined });
    if (!client.open) return;
    if (refused) return answer(protocol.subscribeRefused(channel, result === undefined ? 'the subscribe hook failed' : result === BUSY ? 'the gateway is busy; try again later' : 'refused'));
    if (fullNow) return answer(protocol.subscribeRefused(channel, fullNow));
    if (!protocol.resumes) {
      channels.join(client, channel);
      return answer(protocol.inStream(channel, 'subscribed', {}));
    }
    const since = request.op === 'subscribe' ? request.since : undefined;
    // Already in it: still say where the stream is, and give what it missed.
    if (!(await channels.joinAsked(client, channel, since))) recovery.announce(client, channel, streamKey(client.host, channel), channelRule(client.route.config.channels, channel)?.history, 'subscribed', since);
  }

  /** A subscribe the app signed (checked by the protocol): no hook; a member's channel answers with its users. */
  async #signedSubscribe(client: Client, request: Extract<ClientRequest, { op: 'subscribe' }>): Promise<void> {
    const { channels, hub } = this.#p;
    const { channel, member, maxUsers, maxChannels } = request;
    const refuse = (reason: string) => void (client.open && hub.send(client, client.protocol.subscribeRefused(channel, reason)));
    if (maxChannels !== undefined && (client.channels?.size ?? 0) >= maxChannels && !client.channels?.has(channel)) return refuse(`a connection may be in at most ${maxChannels} channels`);
    let users: Map<string, unknown> | undefined;
    if (member) {
      const full = () => refuse(`the channel holds its maximum of ${maxUsers} users`);
      // A channel seen full is refused without joining it; the store counts again as it adds, for users joining at once.
      if (maxUsers !== undefined && !client.channels?.has(channel)) {
        const now = await channels.users(client.host, channel);
        if (now.size >= maxUsers && !now.has(member.user)) return full();
      }
      const joined = await channels.joinAsMember(client, channel, member, maxUsers);
      if (joined === 'full') return full();
      users = joined ?? (client.channels?.has(channel) ? await channels.users(client.host, channel) : undefined);
    } else channels.join(client, channel, 'subscribed');
    if (request.quiet || !client.open || !client.channels?.has(channel)) return;
    hub.send(client, client.protocol.inStream(channel, 'subscribed', users ? { users } : {}));
    if (request.cache) this.#lastPublication(client, channel);
  }

  /** What a channel that keeps its last publication has, or word that it has none. */
  #lastPublication(client: Client, channel: string): void {
    const last = this.#p.recovery.last(client.host, channel);
    if (last) return void this.#p.hub.send(client, client.protocol.publication(channel, undefined, last.frame));
    const miss = client.protocol.cacheMiss?.(channel);
    if (miss !== undefined) this.#p.hub.send(client, miss);
    this.#p.events.cacheMiss(client.host, channel);
  }

  /** A client signed in: in its channels, and among the users online (the first of its user's sockets tells those who watch it). */
  async #signin(client: Client, request: Extract<ClientRequest, { op: 'signin' }>): Promise<void> {
    const { channels, hub } = this.#p;
    for (const channel of request.channels) channels.join(client, channel, 'subscribed');
    const online = await channels.joinAsMember(client, request.online, request.user);
    const frame = online && client.open ? request.answer(online) : undefined;
    if (frame !== undefined) hub.send(client, frame);
  }

  /** An event from a client to the others in a channel it is in (the protocol checked that it may send it). */
  #publish(client: Client, request: Extract<ClientRequest, { op: 'publish' }>): void {
    const { channel } = request;
    if (!client.channels?.has(channel)) {
      if (client.open) this.#p.hub.send(client, client.protocol.error(`not subscribed to ${channel}`, channel));
      return;
    }
    this.#p.castText(client.host, { kind: 'channel', channel }, request.frame, client.id, request.unkept);
    this.#p.events.clientEvent(client, channel, request.event, request.data, request.user);
  }

}
