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
 * These are its public types, re-exported by wsgate.ts. Declarations only,
 * with no imports: scripts/embed-client.mjs serves them as /wsgate.d.ts, with
 * connect()'s declaration after them, a file that must stand alone.
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
  /** Reconnect after a lost connection (default true); with false a lost connection ends the client, as close() does. */
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
