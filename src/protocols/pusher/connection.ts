/**
 * One Pusher connection: the runtime's events, and what its frames ask,
 * read with what only the connection knows: its app (whose secret signs its
 * channels), the user it signed in as, its client-event allowance and
 * whether it was pinged. The core does the rest, as for any connection.
 */
import type { WSContext } from 'hono/ws';
import { Client } from '../../core/client.ts';
import type { Authorized, RateLimits } from '../../core/client.ts';
import { takeFrame } from '../../core/rate.ts';
import type { Connections } from '../../core/connections.ts';
import type { ParsedFrame } from '../../core/protocol.ts';
import { jsonText } from '../../core/json.ts';
import { utf8Length, wellFormed } from '../../core/utf8.ts';
import type { PusherApp } from '../../config/config.ts';
import { deliver } from '../incoming.ts';
import { channelKind, channelNameProblem, isInternal, ONLINE, PRESENCE_USER_ID_MAX, USER_CHANNEL, userIdProblem, WATCHERS, WATCHLIST_MAX } from './channel-names.ts';
import { connectionEstablished, PING, PONG, PUSHER_CLOSE, pusherError, signinSuccess, subscriptionError, watchlistEvents } from './frames.ts';
import { memberOf, readFrame, signinOf, subscribeOf, unsubscribeOf, userOf } from './messages.ts';
import type { ClientFrame } from './messages.ts';
import { verifyChannel, verifyUser } from './signatures.ts';

/** A pusher:signin and a pusher:ping can come in the same burst as a page's subscribes. */
const CONTROL_FRAMES_AT_CONNECT = 4;

/** Where a front keeps its open connections (for pings, reloads and counts per app). */
export interface PusherRegistry {
  opened(connection: PusherConnection): void;
  closed(connection: PusherConnection): void;
}

/** Seconds a pinged connection has to answer before it is closed with 4201 (pusher-js waits as long for its own pings). */
export const PONG_TIMEOUT = 30;

export class PusherConnection extends Client {
  readonly core: Connections;
  readonly #registry: PusherRegistry;
  #app: PusherApp;
  /** The user it signed in as (pusher:signin). */
  #user: string | undefined;
  /** Its user id in each presence channel, for the user_id its client events carry there. */
  #members: Map<string, string> | undefined;
  /** When its next client event is due (core/rate.ts): a second's worth may come at once. */
  #eventsDue = 0;
  /** When it was pinged for being quiet; 0 once it says anything. */
  #pingedAt = 0;

  /** Pusher's spelling of its id, which its token is too (its upgrade gave it both). */
  override get id(): string {
    return this.token;
  }

  constructor(core: Connections, registry: PusherRegistry, authorized: Authorized, app: PusherApp) {
    super(authorized);
    this.core = core;
    this.#registry = registry;
    this.#app = app;
  }

  get app(): PusherApp {
    return this.#app;
  }

  get user(): string | undefined {
    return this.#user;
  }

  /** pusher-js sends a subscribe for each of its channels at once, at every connect: as many as it may be in must fit. */
  override maxWaiting(pending: number): number {
    return Math.max(pending, this.#app.limits.subscriptions);
  }

  /** The same burst must pass the rate limit too, with room for the signin and ping that can come with it. */
  override messageBurst(limits: RateLimits): number {
    return Math.max(limits.messageBurst, this.#app.limits.subscriptions + CONTROL_FRAMES_AT_CONNECT);
  }

  /** A reload changed its app's settings (the app is still served, under the same key). */
  moveToApp(app: PusherApp): void {
    this.#app = app;
  }

  onOpen(_event: Event, ws: WSContext<unknown>): void {
    if (this.attached) return;
    this.core.open(this, ws.raw);
    this.core.send(this, connectionEstablished(this.id, this.#app.activityTimeout));
    this.#registry.opened(this);
  }

  onMessage(event: MessageEvent): void {
    if (this.attached) deliver(this.core, this, event.data);
  }

  /** A WebSocket ping or pong, where the runtime tells of them: counted against its rate, but no answer to a pusher:ping. */
  onControl(): void {
    if (this.attached) this.core.control(this);
  }

  onClose(event: CloseEvent): void {
    if (!this.attached) return;
    this.#registry.closed(this);
    this.core.closed(this, event.code);
  }

  /** Once a second: a connection quiet for its activity timeout is pinged, and closed when it stays quiet. */
  check(now: number): void {
    if (!this.open || this.closing) return;
    if (this.#pingedAt > 0) {
      if (now - this.#pingedAt >= PONG_TIMEOUT * 1000) this.core.close(this, PUSHER_CLOSE.noPong, 'Pong reply not received');
    } else if (now - this.lastSeen >= this.#app.activityTimeout * 1000) {
      this.#pingedAt = now;
      this.core.send(this, PING);
    }
  }

  override request(text: string): ParsedFrame {
    // Any frame answers a ping.
    this.#pingedAt = 0;
    const frame = readFrame(text);
    if (!frame) return { reply: pusherError(null, 'a frame must be a JSON object with an "event"') };
    switch (frame.event) {
      case 'pusher:ping':
        return { reply: PONG };
      case 'pusher:pong':
        return undefined;
      case 'pusher:subscribe':
        return this.#subscribe(frame);
      case 'pusher:unsubscribe': {
        const data = unsubscribeOf(frame);
        if (!data) return { reply: pusherError(null, 'pusher:unsubscribe needs {"channel": ...}') };
        // The gateway's own channels are left only with the connection: out of its #server-to-user- channel a connection
        // would outlive terminate_connections, out of #online it would look offline. Pusher answers no unsubscribe, so neither does this.
        if (!isClientChannel(data.channel, this.#app)) return undefined;
        this.#members?.delete(data.channel);
        return { request: { op: 'unsubscribe', channel: data.channel } };
      }
      case 'pusher:signin':
        return this.#signin(frame);
    }
    if (frame.event.startsWith('client-')) return this.#clientEvent(frame);
    return { reply: pusherError(null, `unknown event ${JSON.stringify(frame.event.slice(0, 100))}: clients send pusher: and client- events only`) };
  }

  #subscribe(frame: ClientFrame): ParsedFrame {
    const data = subscribeOf(frame);
    if (!data) return { reply: pusherError(null, 'pusher:subscribe needs {"channel": ...}') };
    const { channel } = data;
    const problem = channelNameProblem(channel, this.#app.limits);
    if (problem) return { reply: subscriptionError(channel, problem, 400, 'Error') };
    const kind = channelKind(channel);
    if (kind.user !== undefined) {
      if (kind.user !== this.#user) return { reply: subscriptionError(channel, 'only the connection signed in as this user may subscribe to its channel', 403) };
      return { request: { op: 'subscribe', channel, signed: true } };
    }
    const cache = kind.cache || undefined;
    const limits = this.#app.limits;
    const maxChannels = limits.subscriptions;
    if (!kind.signed) return { request: { op: 'subscribe', channel, signed: true, cache, maxChannels } };
    if (data.auth === undefined || !verifyChannel(this.#app, this.id, channel, data.auth, kind.members ? data.channel_data : undefined)) {
      return { reply: subscriptionError(channel, `invalid signature for ${channel}`, 401) };
    }
    if (!kind.members) return { request: { op: 'subscribe', channel, signed: true, cache, maxChannels } };
    const member = data.channel_data === undefined ? undefined : memberOf(data.channel_data);
    if (!member) return { reply: subscriptionError(channel, 'a presence channel needs channel_data with a user_id', 400, 'Error') };
    // Pusher's own presence rule, not the channel name's: a name limit raised in the config must not let ids through that webhooks and the API would carry.
    const idProblem = userIdProblem(member.user, PRESENCE_USER_ID_MAX);
    if (idProblem) return { reply: subscriptionError(channel, `channel_data's user_id: ${idProblem}`, 400, 'Error') };
    const infoText = member.info === undefined ? '' : jsonText(member.info);
    if (infoText === undefined) return { reply: subscriptionError(channel, 'user_info is nested too deeply to be sent', 400, 'Error') };
    if (utf8Length(infoText) > this.#app.limits.userInfo) {
      return { reply: subscriptionError(channel, `user_info is over ${this.#app.limits.userInfo} bytes`, 400, 'Error') };
    }
    (this.#members ??= new Map()).set(channel, member.user);
    return { request: { op: 'subscribe', channel, signed: true, member, maxUsers: limits.presenceMembers, cache, maxChannels } };
  }

  #signin(frame: ClientFrame): ParsedFrame {
    const data = signinOf(frame);
    if (!data) return { reply: pusherError(null, 'pusher:signin needs {"auth": ..., "user_data": ...}') };
    const user = userOf(data.user_data);
    if (!user) return { reply: pusherError(null, 'user_data must be JSON with a non-empty string "id"') };
    if (!verifyUser(this.#app, this.id, data.user_data, data.auth)) return { reply: pusherError(PUSHER_CLOSE.unauthorized, 'invalid signature for pusher:signin') };
    if (this.#user !== undefined) return { reply: pusherError(null, 'this connection is signed in already') };
    const watchlist = [...new Set(user.watchlist ?? [])];
    if (watchlist.length > WATCHLIST_MAX) return { reply: pusherError(null, `a watchlist has at most ${WATCHLIST_MAX} users`) };
    for (const id of [user.id, ...watchlist]) {
      const problem = userIdProblem(id);
      if (problem) return { reply: pusherError(null, `${problem} (${JSON.stringify(id.slice(0, 40))})`) };
    }
    this.#user = user.id;
    return {
      request: {
        op: 'signin',
        user: { user: user.id },
        // Quietly in its user channel from now on, so the API reaches it there (and terminate_connections finds it) before pusher-js subscribes.
        channels: [USER_CHANNEL + user.id, ...watchlist.map((id) => WATCHERS + id)],
        online: ONLINE,
        answer: (online) => {
          const here = watchlist.filter((id) => online.has(id));
          return here.length ? watchlistEvents('online', here) : undefined;
        },
      },
      reply: signinSuccess(data.user_data),
    };
  }

  #clientEvent(frame: ClientFrame): ParsedFrame {
    const app = this.#app;
    const channel = frame.channel;
    if (!app.clientEvents) return { reply: pusherError(null, 'client events are not enabled for this app') };
    const kind = channel === undefined ? undefined : channelKind(channel);
    if (channel === undefined || !kind?.clientEvents) return { reply: pusherError(null, 'client events go to a private or presence channel only') };
    if (!this.channels?.has(channel)) return { reply: pusherError(null, `not subscribed to ${channel}`) };
    if (frame.event.length > app.limits.eventName) return { reply: pusherError(null, `the event name is longer than ${app.limits.eventName} characters`) };
    // Lone surrogates as U+FFFD, as UTF-8 would carry them: as "\ud800" escapes in a webhook batch they made PHP (Laravel, the SDK) refuse the whole batch, everyone's events in it.
    const event = wellFormed(frame.event);
    const data = typeof frame.data === 'string' ? wellFormed(frame.data) : (frame.data ?? {});
    const text = typeof data === 'string' ? data : jsonText(data);
    if (text === undefined) return { reply: pusherError(null, "the event's data cannot be sent: it is nested too deeply") };
    if (utf8Length(text) > app.limits.payload) return { reply: pusherError(null, `the event's data is over ${app.limits.payload} bytes`) };
    if (!this.#takeEvent(app.clientEventsPerSecond)) return { reply: pusherError(PUSHER_CLOSE.clientEventRate, `over ${app.clientEventsPerSecond} client events per second`) };
    const user = this.#members?.get(channel);
    // The observers (the client_event webhook) get the text made here, which is what they would make of it: serialising the value again could fail where this did not.
    // A cache channel's last event is the app's (as Pusher keeps it): one subscriber's event must not become what every later one starts from.
    return { request: { op: 'publish', channel, event, data: text, frame: clientEventFrame(event, channel, data, text, user), user, ...(kind.cache ? { unkept: true } : {}) } };
  }

  /** One client event from its rate, up to one second's worth at once. */
  #takeEvent(perSecond: number): boolean {
    const due = takeFrame(this.#eventsDue, performance.now(), perSecond, perSecond);
    if (due === undefined) return false;
    this.#eventsDue = due;
    return true;
  }
}

/**
 * A client event as the channel's others get it, around `text`, the data's
 * JSON text made once (a string `data` goes in as a string, as it came).
 * Only names and strings are serialised here, which cannot throw.
 */
export function clientEventFrame(event: string, channel: string, data: unknown, text: string, user: string | undefined): string {
  const dataJson = typeof data === 'string' ? JSON.stringify(data) : text;
  const userJson = user === undefined ? '' : `,"user_id":${JSON.stringify(user)}`;
  return `{"event":${JSON.stringify(event)},"channel":${JSON.stringify(channel)},"data":${dataJson}${userJson}}`;
}

/** A channel a client may name: a valid Pusher name, and not one of the gateway's own (a user's, #online, a user's watchers). */
export function isClientChannel(name: string, app: PusherApp): boolean {
  return !isInternal(name) && channelNameProblem(name, app.limits) === undefined;
}
