/**
 * The app's subscriptions, and the channels wsgate has this connection in:
 * who hears what arrives on a channel, when to ask wsgate to join one or
 * leave it, and where a stream stands when the connection joins or leaves it.
 */
import { emitter, type Emitter, type Listener } from './emitter.ts';
import type { Link } from './frames.ts';
import type { Positions } from './positions.ts';
import type { Member, MessageHandler, Position, RecoveredEvent, SubscribeOptions, Subscription, WsgateErrorEvent } from './types.ts';

interface Sub {
  readonly request: boolean;
  readonly events: Emitter;
}

export interface Subscriptions {
  subscribe(channel: string, handler?: MessageHandler, options?: SubscribeOptions): Subscription;
  /** Tells the channel's subscriptions; the client too, except of messages that have a subscription to go to. */
  tell(channel: string, event: string, ...args: unknown[]): void;
  /** wsgate joined the connection to the channel; `recovered` is its verdict if we asked to recover the stream. */
  joined(channel: string, position: Position | undefined, recovered: boolean | undefined): void;
  /** wsgate accepted a subscribe. */
  subscribed(channel: string, position: Position | undefined, recovered: boolean | undefined): void;
  refused(channel: string, reason: string): void;
  left(channel: string): void;
  /** On "ready": asks for the channels wsgate did not join at the upgrade. */
  request(): void;
  /** Whether the app's subscriptions ask for the channel themselves (with its position) once connected. */
  asks(channel: string): boolean;
  /** After "connected": the verdicts on the streams joined at the upgrade. */
  tellVerdicts(): void;
  /** The connection is gone, and with it the channels it was in. */
  reset(): void;
}

export function subscriptions(client: Emitter, link: Link, positions: Positions, presence: (channel: string) => Promise<Member[]>): Subscriptions {
  const subs = new Map<string, Set<Sub>>();
  /** Channels wsgate has this connection in, and those it asked for itself. Both end with the connection. */
  const joined = new Set<string>();
  const requested = new Set<string>();
  /** Subscribes sent and not yet answered, per channel: a refusal of an older one leaves a newer one asked. */
  const unanswered = new Map<string, number>();
  const answered = (channel: string): number => {
    const left = (unanswered.get(channel) ?? 1) - 1;
    if (left > 0) unanswered.set(channel, left);
    else unanswered.delete(channel);
    return left;
  };
  /** Channels we asked to leave and wsgate has not yet said we left: a subscription made meanwhile asks again once it has. */
  const leaving = new Set<string>();
  /** Positions of channels whose last asking subscription ended offline: out of `recover`, and back if one asks again before "ready". */
  const shelved = new Map<string, Position>();
  /**
   * Verdicts on streams joined at the upgrade: told on "ready", once the missed publications are in.
   * A false one outlives a connection lost before "ready": the publications after its gap were handed over,
   * so the next connection resumes after them and would call the stream recovered.
   */
  const verdicts = new Map<string, boolean>();

  function request(channel: string): void {
    requested.add(channel);
    unanswered.set(channel, (unanswered.get(channel) ?? 0) + 1);
    const since = positions.all.get(channel);
    link.write(since ? { wsgate: 'subscribe', channel, since } : { wsgate: 'subscribe', channel });
  }

  /** Some subscription on the channel asks for it itself. */
  function asks(channel: string): boolean {
    return [...(subs.get(channel) ?? [])].some((sub) => sub.request);
  }

  /** A subscription on the channel asks for it, wsgate did not join it, and nobody asked yet. */
  function wantsRequest(channel: string): boolean {
    return !joined.has(channel) && !requested.has(channel) && asks(channel);
  }

  function tell(channel: string, event: string, ...args: unknown[]): void {
    const list = subs.get(channel);
    if (event !== 'message' || !list) client.emit(event, ...args);
    if (list) for (const sub of [...list]) sub.events.emit(event, ...args);
  }

  return {
    subscribe(channel, handler, options = {}) {
      const sub: Sub = { request: options.request !== false, events: emitter() };
      if (handler) sub.events.on('message', handler as Listener);
      let list = subs.get(channel);
      if (!list) subs.set(channel, (list = new Set()));
      list.add(sub);
      const kept = sub.request ? shelved.get(channel) : undefined;
      if (kept) {
        shelved.delete(channel);
        // Ended and made again while offline (a component mounted anew): it resumes where it stood.
        if (!positions.all.has(channel)) positions.settle(channel, kept, undefined);
      }
      if (link.connected && wantsRequest(channel)) request(channel);
      return {
        channel,
        on: (event, listener) => sub.events.on(event, listener as Listener),
        presence: () => presence(channel),
        unsubscribe() {
          const current = subs.get(channel);
          if (!current?.delete(sub)) return;
          if (current.size === 0) subs.delete(channel);
          if (sub.request && !link.connected && !asks(channel)) {
            // Left while offline: its position would go out in every later recover, and take a stream's room there.
            const position = positions.all.get(channel);
            if (position) shelved.set(channel, position);
            positions.forget(channel);
            return;
          }
          // Leave only what we asked for, once nobody else here still asks for it.
          if (!requested.has(channel) || [...current].some((other) => other.request)) return;
          requested.delete(channel);
          if (!link.connected) return;
          leaving.add(channel);
          link.write({ wsgate: 'unsubscribe', channel });
        },
      };
    },
    tell,
    joined(channel, position, recovered) {
      joined.add(channel);
      // A stream we stood somewhere in, joined without a verdict: `recover` had no room for it, so what it missed is lost.
      const verdict = recovered ?? (positions.all.has(channel) ? false : undefined);
      positions.settle(channel, position, recovered);
      if (verdict === undefined) return;
      // A join after "ready" (a bridge subscribe) is told at once.
      if (link.connected) tell(channel, 'recovered', { channel, recovered: verdict } satisfies RecoveredEvent);
      else verdicts.set(channel, verdict && verdicts.get(channel) !== false);
    },
    subscribed(channel, position, recovered) {
      answered(channel);
      joined.add(channel);
      positions.settle(channel, position, recovered);
      if (recovered !== undefined) tell(channel, 'recovered', { channel, recovered } satisfies RecoveredEvent);
    },
    refused(channel, reason) {
      if (answered(channel) === 0) requested.delete(channel);
      client.emit('error', { reason, channel } satisfies WsgateErrorEvent);
    },
    left(channel) {
      joined.delete(channel);
      // Not in the stream any more: nothing after this was missed.
      positions.forget(channel);
      // Subscribed again while the unsubscribe was on its way: still "joined" then, so it could not ask; it can now.
      if (leaving.delete(channel) && link.connected && wantsRequest(channel)) request(channel);
    },
    asks,
    request() {
      shelved.clear();
      // wsgate sent its "joined" frames before "ready": ask only for the rest.
      for (const channel of subs.keys()) if (wantsRequest(channel)) request(channel);
    },
    tellVerdicts() {
      const told = [...verdicts];
      verdicts.clear();
      for (const [channel, recovered] of told) tell(channel, 'recovered', { channel, recovered } satisfies RecoveredEvent);
    },
    reset() {
      // Left for good, though wsgate's "left" never came: as after it, or after an unsubscribe offline.
      for (const channel of leaving) if (!asks(channel)) positions.forget(channel);
      joined.clear();
      requested.clear();
      unanswered.clear();
      leaving.clear();
      for (const [channel, recovered] of verdicts) if (recovered) verdicts.delete(channel);
    },
  };
}
