/**
 * The Pusher HTTP API's requests, done by the core over every node: events
 * cast to channels, counts of channels and users, connections closed. An
 * event reaches every subscriber of its channel on the app's host, whatever
 * protocol it speaks: Pusher clients get it as Pusher sends it, plain and
 * wsgate.js sockets get the same object, `{event, channel, data}`, with
 * `data` the text the app sent.
 */
import type { Kept } from '../../core/history/history.ts';
import type { Spread } from '../../core/publishing.ts';
import type { Selection } from '../../core/targets.ts';
import type { PusherApp } from '../../config/config.ts';
import type { CachedEvent, ChannelInfo, ChannelInfoField, PusherApiGateway, PusherEvent } from '../../http/pusher/gateway.ts';
import { channelKind, isInternal, USER_CHANNEL } from './channel-names.ts';
import { PUSHER_CLOSE } from './frames.ts';
import type { PusherFront } from './front.ts';
import { pusherEventOf } from './protocol.ts';

/** What the API needs of the core (the Gateway). */
export interface PusherCore {
  castText(host: string, selection: Selection, frame: string, except: string | undefined): number;
  channelsEverywhere(host: string, which: { prefix?: string; channel?: string }): Promise<Spread<Record<string, number>>>;
  users(host: string, channel: string): Promise<Map<string, unknown>>;
  /** A channel's newest kept publication (a cache channel's last event), if it holds one now. */
  lastKept(host: string, channel: string): Kept | undefined;
  disconnectEverywhere(host: string, selection: Selection, code: number, reason: string): Promise<Spread<number>>;
}

export class PusherApiCore implements PusherApiGateway {
  readonly #front: PusherFront;
  readonly #core: PusherCore;

  constructor(front: PusherFront, core: PusherCore) {
    this.#front = front;
    this.#core = core;
  }

  app(id: string): PusherApp | undefined {
    return this.#front.byId(id);
  }

  async trigger(app: PusherApp, event: PusherEvent, info?: ChannelInfoField[]): Promise<Record<string, ChannelInfo> | undefined> {
    for (const channel of event.channels) {
      const frame = JSON.stringify({ event: event.name, channel, data: event.data });
      this.#core.castText(app.host, { kind: 'channel', channel }, frame, event.socketId);
    }
    if (!info?.length) return undefined;
    // Entries, not `answer[channel] =`: a channel may be named `__proto__`.
    const answer: Array<[string, ChannelInfo]> = [];
    for (const channel of event.channels) answer.push([channel, await this.channel(app, channel, info)]);
    return Object.fromEntries(answer);
  }

  async channels(app: PusherApp, prefix: string | undefined, info: ChannelInfoField[]): Promise<Record<string, Omit<ChannelInfo, 'occupied'>>> {
    const counts = (await this.#core.channelsEverywhere(app.host, prefix === undefined ? {} : { prefix })).value;
    const answer: Array<[string, Omit<ChannelInfo, 'occupied'>]> = [];
    for (const [channel, sockets] of Object.entries(counts)) {
      // A user's own channel is its connection's, not one the app lists (as Pusher); the gateway's own neither.
      if (sockets === 0 || isInternal(channel)) continue;
      answer.push([channel, await this.#fields(app, channel, sockets, info)]);
    }
    return Object.fromEntries(answer);
  }

  async channel(app: PusherApp, name: string, info: ChannelInfoField[]): Promise<ChannelInfo> {
    const counts = (await this.#core.channelsEverywhere(app.host, { channel: name })).value;
    // Own properties only: `constructor` would otherwise read Object.
    const sockets = Object.hasOwn(counts, name) ? counts[name]! : 0;
    return { occupied: sockets > 0, ...(await this.#fields(app, name, sockets, info)) };
  }

  async #fields(app: PusherApp, channel: string, sockets: number, info: ChannelInfoField[]): Promise<Omit<ChannelInfo, 'occupied'>> {
    const fields: Omit<ChannelInfo, 'occupied'> = {};
    if (info.includes('subscription_count')) fields.subscription_count = sockets;
    if (info.includes('user_count') && channelKind(channel).members) fields.user_count = (await this.#core.users(app.host, channel)).size;
    return fields;
  }

  /** What a new subscriber would be sent first (client-requests.ts, #lastPublication), with the seconds left of its ttl. */
  cache(app: PusherApp, channel: string): CachedEvent | undefined {
    const last = this.#core.lastKept(app.host, channel);
    if (!last) return undefined;
    // As a Pusher client gets it: a cast that is not a Pusher event is data of its own.
    return { data: pusherEventOf(channel, last.frame).data, ttl: Math.max(0, Math.ceil((last.expires - Date.now()) / 1000)) };
  }

  async users(app: PusherApp, channel: string): Promise<string[]> {
    return [...(await this.#core.users(app.host, channel)).keys()];
  }

  /** Closes the user's connections on every node: each signed-in connection is in its user channel. */
  async terminateUser(app: PusherApp, userId: string): Promise<number> {
    const closed = await this.#core.disconnectEverywhere(app.host, { kind: 'channel', channel: USER_CHANNEL + userId }, PUSHER_CLOSE.unauthorized, 'connections terminated by the app');
    return closed.value;
  }
}
