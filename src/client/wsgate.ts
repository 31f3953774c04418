/**
 * wsgate.js, the browser client of wsgate's client protocol (docs/PROTOCOL.md):
 * connect(), and the public types of types.ts, which tells how to use it.
 *
 * connect() owns the socket and routes what it reads to the parts that keep
 * the client's state: frames.ts checks each frame, subscriptions.ts knows who
 * hears a channel and which channels to ask for, positions.ts where each
 * stream stands, presence.ts the member requests, reconnect.ts when to try
 * again and upgrade-url.ts on which URL.
 *
 * Browser code that imports nothing from outside src/client/:
 * scripts/embed-client.mjs bundles it as an ES module and as a classic script
 * (window.wsgate), for src/client/bundle.ts.
 */
import { emitter, type Listener } from './emitter.ts';
import { read, type Link, type Receiver } from './frames.ts';
import { trackPositions } from './positions.ts';
import { presenceRequests } from './presence.ts';
import { reconnectSchedule } from './reconnect.ts';
import { subscriptions } from './subscriptions.ts';
import type { ClientOptions, ConnectedEvent, DisconnectedEvent, Meta, WsgateClient, WsgateErrorEvent } from './types.ts';
import { baseUrl, upgradeUrl } from './upgrade-url.ts';

export type * from './types.ts';

export function connect(url = '/websocket', options: ClientOptions = {}): WsgateClient {
  const limit = options.queue ?? 100;
  const reconnect = options.reconnect ?? true;
  const Socket = options.WebSocket ?? WebSocket;
  const base = baseUrl(url);

  const events = emitter();
  const positions = trackPositions();
  /** What the app sent while not connected. */
  const queue: string[] = [];

  let ws: WebSocket | undefined;
  let opened = false;
  let connected = false;
  let socketId: string | undefined;
  let everReady = false;
  let closed = false;

  const link: Link = {
    get connected() {
      return connected;
    },
    get closed() {
      return closed;
    },
    write(frame) {
      ws?.send(JSON.stringify(frame));
    },
  };
  const presence = presenceRequests(link);
  const subs = subscriptions(events, link, positions, presence.ask);
  const receiver: Receiver = {
    message: (data) => events.emit('message', data, {}),
    ready,
    error(reason, channel) {
      if (channel !== undefined) presence.refuse(channel, reason);
      events.emit('error', channel === undefined ? { reason } : ({ reason, channel } satisfies WsgateErrorEvent));
    },
    pub(channel, position, data) {
      const meta: Meta = { channel };
      // Without a position (no history) there is nothing to compare: always delivered.
      if (position) {
        if (!positions.advance(channel, position)) return;
        meta.epoch = position.epoch;
        meta.offset = position.offset;
      }
      subs.tell(channel, 'message', data, meta);
    },
    joined: subs.joined,
    subscribed: subs.subscribed,
    refused: subs.refused,
    left: subs.left,
    presence: presence.answer,
    member: (kind, event) => subs.tell(event.channel, kind, event),
  };
  const schedule = reconnectSchedule(options, () => {
    try {
      open();
    } catch {
      // The constructor can throw (e.g. blocked by the page's policy): try again later.
      schedule.next();
    }
  });

  function open(): void {
    const socket = new Socket(upgradeUrl(base, positions.all, subs.asks));
    ws = socket;
    opened = false;
    // Only the current socket counts; after close() its frames are ignored, but its close is still told.
    socket.onopen = () => {
      if (ws === socket) opened = true;
    };
    socket.onmessage = (event: MessageEvent) => {
      if (ws === socket && !closed) read(event.data, receiver);
    };
    socket.onclose = (event: CloseEvent) => {
      if (ws === socket) lost(event.code, event.reason);
    };
  }

  function lost(code: number, reason: string): void {
    const wasOpen = opened;
    ws = undefined;
    opened = false;
    connected = false;
    socketId = undefined;
    subs.reset();
    presence.rejectAll('wsgate: disconnected');
    if (wasOpen) events.emit('disconnected', { code, reason } satisfies DisconnectedEvent);
    // After the event: its handler may have called close().
    if (!closed && reconnect) return schedule.next();
    schedule.cancel();
    // No connection follows: what is held or asked from now on would wait for ever.
    closed = true;
    queue.length = 0;
  }

  function ready(socket: string | undefined): void {
    connected = true;
    socketId = socket;
    schedule.reset();
    const reconnected = everReady;
    everReady = true;
    subs.request();
    for (const text of queue.splice(0)) ws?.send(text);
    presence.sendHeld();
    events.emit('connected', { socket: socketId ?? '', reconnect: reconnected } satisfies ConnectedEvent);
    subs.tellVerdicts();
  }

  open();

  return {
    get socket() {
      return socketId;
    },
    get connected() {
      return connected;
    },
    send(data) {
      if (closed) return false;
      const text = typeof data === 'string' ? data : JSON.stringify(data);
      // JSON has no text for undefined or a function.
      if (typeof text !== 'string') return false;
      if (connected) {
        ws?.send(text);
        return true;
      }
      if (queue.length >= limit) return false;
      queue.push(text);
      return true;
    },
    on: (event, handler) => events.on(event, handler as Listener),
    subscribe: subs.subscribe,
    presence: presence.ask,
    close() {
      if (closed) return;
      closed = true;
      connected = false;
      schedule.cancel();
      queue.length = 0;
      presence.rejectAll('wsgate: closed');
      // Its close event still arrives, and tells "disconnected" if it was open.
      ws?.close(1000);
    },
  };
}
