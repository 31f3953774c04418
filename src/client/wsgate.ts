/**
 * wsgate.js: the browser client of wsgate's client protocol (docs/PROTOCOL.md).
 *
 *   const client = connect('/ws/rooms/lobby');
 *   const room = client.subscribe('room:lobby', (data, meta) => render(data));
 *   client.send({ say: 'hi' });
 *
 * It opts in with `?wsgate=1`, reconnects with growing delays, resumes every
 * stream where it stopped (`recover`, `since`) and hands each publication to
 * the app exactly once, in order.
 *
 * Browser code with no imports: scripts/embed-client.mjs bundles it as an ES
 * module and as a classic script (window.wsgate), for src/client/bundle.ts.
 */

export interface ClientOptions {
  /** First reconnect delay in ms (default 333, as long as Phlo's page script waits). */
  delay?: number;
  /** Each further attempt waits this many times longer (default 3). */
  factor?: number;
  /** The longest delay in ms (default 10000). */
  maxDelay?: number;
  /** Each delay is off by up to this fraction either way (default 0.25). */
  jitter?: number;
  /** Frames held while not connected (default 100); send() refuses more. */
  queue?: number;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** The WebSocket class to use (default the global one), e.g. a fake in tests. */
  WebSocket?: typeof WebSocket;
}

/** Where a stream stands: the last publication handed to the app. */
export interface Position {
  epoch: string;
  offset: number;
}

/** What came with a message: its stream and, on streams with history, its position. */
export interface Meta {
  channel?: string;
  epoch?: string;
  offset?: number;
}

export interface Member {
  socket: string;
  /** sha256 of the member's token. */
  token: string;
  info?: unknown;
}

export interface PresenceEvent {
  channel: string;
  socket: string;
  info?: unknown;
}

export interface RecoveredEvent {
  channel: string;
  /** false: what was missed is lost (expired, or wsgate restarted), so reload the state. */
  recovered: boolean;
}

export interface ConnectedEvent {
  socket: string;
  /** Not the first connection of this client. */
  reconnect: boolean;
}

export interface DisconnectedEvent {
  code: number;
  reason: string;
}

export interface WsgateErrorEvent {
  reason: string;
  channel?: string;
}

export type MessageHandler = (data: unknown, meta: Meta) => void;

export interface ClientEvents {
  message: MessageHandler;
  connected: (event: ConnectedEvent) => void;
  disconnected: (event: DisconnectedEvent) => void;
  recovered: (event: RecoveredEvent) => void;
  join: (event: PresenceEvent) => void;
  leave: (event: PresenceEvent) => void;
  error: (event: WsgateErrorEvent) => void;
}

export type SubscriptionEvents = Pick<ClientEvents, 'message' | 'join' | 'leave' | 'recovered'>;

export interface SubscribeOptions {
  /** Ask wsgate to join the channel unless it already did (default true); false only listens. */
  request?: boolean;
}

export interface Subscription {
  readonly channel: string;
  on<K extends keyof SubscriptionEvents>(event: K, handler: SubscriptionEvents[K]): () => void;
  presence(): Promise<Member[]>;
  unsubscribe(): void;
}

export interface WsgateClient {
  /** The socket's id, from wsgate's "ready" frame. */
  readonly socket: string | undefined;
  /** True from "ready" until the connection closes. */
  readonly connected: boolean;
  /** Strings go as they are, anything else as JSON; held while not connected. False: not sent nor held. */
  send(data: unknown): boolean;
  on<K extends keyof ClientEvents>(event: K, handler: ClientEvents[K]): () => void;
  subscribe(channel: string, handler?: MessageHandler, options?: SubscribeOptions): Subscription;
  presence(channel: string): Promise<Member[]>;
  /** Closes the connection and stops reconnecting, for good. */
  close(): void;
}

/** wsgate refuses an upgrade whose `recover` names more streams than this. */
const MAX_RECOVER = 100;

type Listener = (...args: unknown[]) => void;
type Frame = Record<string, unknown>;

interface Emitter {
  on(event: string, handler: Listener): () => void;
  emit(event: string, ...args: unknown[]): void;
}

function emitter(): Emitter {
  const listeners = new Map<string, Set<Listener>>();
  return {
    on(event, handler) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(handler);
      return () => void set.delete(handler);
    },
    emit(event, ...args) {
      // A copy: handlers may unsubscribe while we go through them.
      for (const handler of [...(listeners.get(event) ?? [])]) {
        try {
          handler(...args);
        } catch (error) {
          // An app handler that throws must not stop the others, nor leave the
          // client half way through a frame; the error still surfaces.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    },
  };
}

const isRecord = (value: unknown): value is Frame => typeof value === 'object' && value !== null && !Array.isArray(value);
const isOffset = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;

/** The frame's epoch and offset, when it has both (a stream with history). */
function positionOf(frame: Frame): Position | undefined {
  return typeof frame.epoch === 'string' && isOffset(frame.offset) ? { epoch: frame.epoch, offset: frame.offset } : undefined;
}

/** The socket's URL without wsgate's query: relative to the page, http(s) made ws(s). */
function baseUrl(url: string): URL {
  const resolved = new URL(url, typeof location === 'undefined' ? undefined : location.href);
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  else if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  // WebSocket refuses a URL with a fragment.
  resolved.hash = '';
  return resolved;
}

/** The URL with `wsgate=1` and the positions to recover, and the app's own query as it was. */
function upgradeUrl(base: URL, positions: Map<string, Position>): string {
  const url = new URL(base.href);
  // Filtered as text, not through URLSearchParams, which would re-encode the app's query.
  const query = url.search
    .slice(1)
    .split('&')
    .filter((part) => part !== '' && !/^(wsgate|recover)(=|$)/.test(part));
  query.push('wsgate=1');
  if (positions.size > 0) {
    // The most recently moved streams, which are last in the map.
    const recover = Object.fromEntries([...positions].slice(-MAX_RECOVER));
    query.push(`recover=${encodeURIComponent(JSON.stringify(recover))}`);
  }
  url.search = `?${query.join('&')}`;
  return url.href;
}

interface Sub {
  readonly channel: string;
  readonly request: boolean;
  readonly events: Emitter;
}

interface Waiter {
  resolve(members: Member[]): void;
  reject(error: Error): void;
  sent: boolean;
}

export function connect(url = '/websocket', options: ClientOptions = {}): WsgateClient {
  const delay = options.delay ?? 333;
  const factor = options.factor ?? 3;
  const maxDelay = options.maxDelay ?? 10000;
  const jitter = options.jitter ?? 0.25;
  const limit = options.queue ?? 100;
  const reconnect = options.reconnect ?? true;
  const Socket = options.WebSocket ?? WebSocket;
  const base = baseUrl(url);

  const events = emitter();
  /** Per stream, the last publication handed to the app; insertion order is recency (see upgradeUrl). */
  const positions = new Map<string, Position>();
  const subscriptions = new Map<string, Set<Sub>>();
  /** Channels wsgate has this connection in, and those it asked for itself. Both end with the connection. */
  const joined = new Set<string>();
  const requested = new Set<string>();
  /** Verdicts on streams joined at the upgrade: told on "ready", once the missed publications are in. */
  const recoveredAtUpgrade: RecoveredEvent[] = [];
  const queue: string[] = [];
  /** Presence requests per channel, oldest first: wsgate answers each channel in order. */
  const waiting = new Map<string, Waiter[]>();

  let ws: WebSocket | undefined;
  let opened = false;
  let connected = false;
  let socketId: string | undefined;
  let everReady = false;
  let closed = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function open(): void {
    const socket = new Socket(upgradeUrl(base, positions));
    ws = socket;
    opened = false;
    // Only the current socket counts; after close() its frames are ignored, but its close is still told.
    socket.onopen = () => {
      if (ws === socket) opened = true;
    };
    socket.onmessage = (event: MessageEvent) => {
      if (ws === socket && !closed) receive(event.data);
    };
    socket.onclose = (event: CloseEvent) => {
      if (ws === socket) lost(event.code, event.reason);
    };
  }

  function retry(): void {
    timer = undefined;
    try {
      open();
    } catch {
      // The constructor can throw (e.g. blocked by the page's policy): try again later.
      schedule();
    }
  }

  function schedule(): void {
    attempt++;
    const wait = Math.min(maxDelay, delay * factor ** (attempt - 1));
    // Jitter spreads the reconnects of many clients after a restart of wsgate.
    timer = setTimeout(retry, wait * (1 + jitter * (2 * Math.random() - 1)));
  }

  function lost(code: number, reason: string): void {
    const wasOpen = opened;
    ws = undefined;
    opened = false;
    connected = false;
    socketId = undefined;
    joined.clear();
    requested.clear();
    recoveredAtUpgrade.length = 0;
    rejectWaiting('wsgate: disconnected');
    if (wasOpen) events.emit('disconnected', { code, reason } satisfies DisconnectedEvent);
    // After the event: its handler may have called close().
    if (!closed && reconnect) schedule();
  }

  function rejectWaiting(reason: string): void {
    const all = [...waiting.values()].flat();
    waiting.clear();
    for (const waiter of all) waiter.reject(new Error(reason));
  }

  function write(frame: Frame): void {
    ws?.send(JSON.stringify(frame));
  }

  function requestSubscribe(channel: string): void {
    requested.add(channel);
    const since = positions.get(channel);
    write(since ? { wsgate: 'subscribe', channel, since } : { wsgate: 'subscribe', channel });
  }

  /** A subscription on the channel asks for it, wsgate did not join it, and nobody asked yet. */
  function wantsRequest(channel: string): boolean {
    if (joined.has(channel) || requested.has(channel)) return false;
    return [...(subscriptions.get(channel) ?? [])].some((sub) => sub.request);
  }

  /** Tells the channel's subscriptions; the client too, except of messages that have a subscription to go to. */
  function tell(channel: string, event: string, ...args: unknown[]): void {
    const subs = subscriptions.get(channel);
    if (event !== 'message' || !subs) events.emit(event, ...args);
    if (subs) for (const sub of [...subs]) sub.events.emit(event, ...args);
  }

  /** Moves a stream's position, and to the end of the map, which makes it recent. */
  function keep(channel: string, position: Position): void {
    positions.delete(channel);
    positions.set(channel, position);
  }

  /** A "joined" or "subscribed" frame: where the stream is; the verdict on recovery, if asked. */
  function settle(channel: string, frame: Frame): boolean | undefined {
    const recovered = typeof frame.recovered === 'boolean' ? frame.recovered : undefined;
    const position = positionOf(frame);
    if (recovered === undefined) {
      // We gave no position: what counts is what comes after wsgate's.
      if (position) keep(channel, position);
      else positions.delete(channel);
    } else if (position && positions.get(channel)?.epoch !== position.epoch) {
      // Another epoch (a restart): everything of it that follows is new to us.
      keep(channel, { epoch: position.epoch, offset: 0 });
    }
    // Same epoch, recovered or not: what wsgate still holds after our position
    // follows, and moves it on; keep ours.
    return recovered;
  }

  function receive(data: unknown): void {
    if (typeof data !== 'string') return events.emit('message', data, {});
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return events.emit('message', data, {});
    }
    if (isRecord(frame) && typeof frame.wsgate === 'string') control(frame);
    else events.emit('message', frame, {});
  }

  function control(frame: Frame): void {
    const kind = frame.wsgate;
    if (kind === 'ready') return ready(frame);
    const channel = typeof frame.channel === 'string' ? frame.channel : undefined;
    if (kind === 'error') return failed(frame, channel);
    // Every other frame is about a channel.
    if (channel === undefined) return;
    switch (kind) {
      case 'pub':
        return publication(channel, frame);
      case 'joined': {
        joined.add(channel);
        const recovered = settle(channel, frame);
        if (recovered === undefined) return;
        // A join after "ready" (a bridge subscribe) is told at once.
        if (connected) tell(channel, 'recovered', { channel, recovered } satisfies RecoveredEvent);
        else recoveredAtUpgrade.push({ channel, recovered });
        return;
      }
      case 'left':
      case 'unsubscribed':
        // Not in the stream any more: nothing after this was missed.
        joined.delete(channel);
        positions.delete(channel);
        return;
      case 'subscribed':
        return subscribed(channel, frame);
      case 'presence':
        return waiting.get(channel)?.shift()?.resolve(Array.isArray(frame.members) ? frame.members.filter((m): m is Member => isRecord(m) && typeof m.socket === 'string') : []);
      case 'join':
      case 'leave':
        if (typeof frame.socket !== 'string') return;
        return tell(channel, kind, 'info' in frame ? { channel, socket: frame.socket, info: frame.info } : { channel, socket: frame.socket });
    }
    // Any other kind is from a newer wsgate: ignored.
  }

  function publication(channel: string, frame: Frame): void {
    const meta: Meta = { channel };
    const position = positionOf(frame);
    // Without a position (no history) there is nothing to compare: always delivered.
    if (position) {
      const kept = positions.get(channel);
      // Already handed over: the overlap of recovery and the live stream.
      if (kept && kept.epoch === position.epoch && position.offset <= kept.offset) return;
      keep(channel, position);
      meta.epoch = position.epoch;
      meta.offset = position.offset;
    }
    tell(channel, 'message', frame.data, meta);
  }

  function subscribed(channel: string, frame: Frame): void {
    if (frame.ok !== true) {
      requested.delete(channel);
      events.emit('error', { reason: typeof frame.reason === 'string' ? frame.reason : 'refused', channel } satisfies WsgateErrorEvent);
      return;
    }
    joined.add(channel);
    const recovered = settle(channel, frame);
    if (recovered !== undefined) tell(channel, 'recovered', { channel, recovered } satisfies RecoveredEvent);
  }

  function failed(frame: Frame, channel: string | undefined): void {
    const reason = typeof frame.reason === 'string' ? frame.reason : 'error';
    // wsgate answers a presence request it refuses with an error for that channel.
    if (channel !== undefined) waiting.get(channel)?.shift()?.reject(new Error(reason));
    events.emit('error', channel === undefined ? { reason } : ({ reason, channel } satisfies WsgateErrorEvent));
  }

  function ready(frame: Frame): void {
    connected = true;
    socketId = typeof frame.socket === 'string' ? frame.socket : undefined;
    attempt = 0;
    const reconnected = everReady;
    everReady = true;
    // wsgate sent its "joined" frames before "ready": ask only for the rest.
    for (const channel of subscriptions.keys()) if (wantsRequest(channel)) requestSubscribe(channel);
    for (const text of queue.splice(0)) ws?.send(text);
    for (const [channel, list] of waiting) {
      for (const waiter of list) {
        if (waiter.sent) continue;
        waiter.sent = true;
        write({ wsgate: 'presence', channel });
      }
    }
    events.emit('connected', { socket: socketId ?? '', reconnect: reconnected } satisfies ConnectedEvent);
    for (const verdict of recoveredAtUpgrade.splice(0)) tell(verdict.channel, 'recovered', verdict);
  }

  function presence(channel: string): Promise<Member[]> {
    return new Promise((resolve, reject) => {
      if (closed) return reject(new Error('wsgate: closed'));
      const waiter: Waiter = { resolve, reject, sent: connected };
      let list = waiting.get(channel);
      if (!list) waiting.set(channel, (list = []));
      list.push(waiter);
      // Not connected: asked on "ready" (after any subscribe), or rejected if that connection fails.
      if (connected) write({ wsgate: 'presence', channel });
    });
  }

  function subscribe(channel: string, handler?: MessageHandler, subscribeOptions: SubscribeOptions = {}): Subscription {
    const sub: Sub = { channel, request: subscribeOptions.request !== false, events: emitter() };
    if (handler) sub.events.on('message', handler as Listener);
    let subs = subscriptions.get(channel);
    if (!subs) subscriptions.set(channel, (subs = new Set()));
    subs.add(sub);
    if (connected && wantsRequest(channel)) requestSubscribe(channel);
    return {
      channel,
      on: (event, listener) => sub.events.on(event, listener as Listener),
      presence: () => presence(channel),
      unsubscribe() {
        const current = subscriptions.get(channel);
        if (!current?.delete(sub)) return;
        if (current.size === 0) subscriptions.delete(channel);
        // Leave only what we asked for, once nobody else here still asks for it.
        if (!requested.has(channel) || [...current].some((other) => other.request)) return;
        requested.delete(channel);
        if (connected) write({ wsgate: 'unsubscribe', channel });
      },
    };
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
    subscribe,
    presence,
    close() {
      if (closed) return;
      closed = true;
      connected = false;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
      rejectWaiting('wsgate: closed');
      // Its close event still arrives, and tells "disconnected" if it was open.
      ws?.close(1000);
    },
  };
}
