/**
 * The close code of a socket a runtime closed for a protocol error: 1007 for
 * a text frame that is not UTF-8, 1009 for one over the size limit. Each
 * runtime stops reading once it has failed the connection, so the client's
 * closing reply never arrives and the close event says 1006 (Deno: 0); what
 * the runtime said of the error is where the real code is.
 */
import type { WSContext, WSEvents } from 'hono/ws';

const ABNORMAL = 1006;

/** The close code an error (or Bun's close reason) stands for, when it names one. */
export function protocolCloseCode(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null) {
    // ws (Node) marks its errors with the code it closed the connection with.
    for (const key of Object.getOwnPropertySymbols(error)) {
      const value = (error as Record<symbol, unknown>)[key];
      if (key.description === 'status-code' && typeof value === 'number') return value;
    }
  }
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  if (/invalid utf-?8/i.test(text)) return 1007;
  if (/too big|max payload|payload size/i.test(text)) return 1009;
  return undefined;
}

/**
 * The code uWebSockets (Bun) sent when it failed a connection: it reports
 * 1006 with a reason that starts "Received" and says what was wrong. 1009
 * and 1007 for what they name; every other such reason ("unexpected RSV1
 * bit", "too big control frame", "invalid close code") went out as 1002.
 */
export function uwsCloseCode(reason: string): number | undefined {
  if (!reason.startsWith('Received ')) return undefined;
  if (reason === 'Received too big message') return 1009;
  if (/invalid utf-?8/i.test(reason)) return 1007;
  return 1002;
}

// By raw socket: the error comes before the close, and Node's is seen on ws itself, outside the events object.
const causes = new WeakMap<object, number>();

/** Keeps the close code an error of this socket stands for, for its close event. */
export function noteProtocolError(raw: object, error: unknown): void {
  const code = protocolCloseCode(error);
  if (code !== undefined && !causes.has(raw)) causes.set(raw, code);
}

/** The code to report: the runtime's, unless it reported none (1006 or 0) for a socket it failed for a known reason. */
export function closeCodeOf(raw: unknown, reported: number): number {
  if (reported !== ABNORMAL && reported !== 0) return reported;
  return (typeof raw === 'object' && raw !== null && causes.get(raw)) || ABNORMAL;
}

/** The gateway's events, with the ping and pong one of those that count them (the open socket, first-frame auth). */
type Events = WSEvents<unknown> & { onControl?(ws: WSContext<unknown>): void };

/**
 * The gateway's events for one socket, with onClose given the code found by
 * closeCodeOf. No onError of its own: @hono/node-ws builds an ErrorEvent only
 * when there is one, and Node 20 has no ErrorEvent to build.
 */
export class ReportedClose {
  readonly #events: Events;
  constructor(events: Events) {
    this.#events = events;
  }
  onOpen(event: Event, ws: WSContext<unknown>) {
    return this.#events.onOpen?.(event, ws);
  }
  onMessage(event: MessageEvent, ws: WSContext<unknown>) {
    return this.#events.onMessage?.(event, ws);
  }
  /** A ping or pong the runtime saw (Node's ws and Bun tell of them; Deno does not). */
  onControl(ws: WSContext<unknown>) {
    return this.#events.onControl?.(ws);
  }
  onClose(event: CloseEvent, ws: WSContext<unknown>) {
    const code = closeCodeOf(ws.raw, event.code);
    // Read for its code and reason only; Node 20 has no CloseEvent class to make one with.
    const reported = code === event.code ? event : ({ type: 'close', code, reason: event.reason, wasClean: false } as unknown as CloseEvent);
    return this.#events.onClose?.(reported, ws);
  }
}

/** For runtimes that report the error through the events (Deno). */
export class ReportedCloseWithError extends ReportedClose {
  readonly #onError: Events['onError'];
  constructor(events: Events) {
    super(events);
    this.#onError = events.onError?.bind(events);
  }
  onError(event: Event, ws: WSContext<unknown>) {
    if (ws.raw !== undefined && ws.raw !== null) noteProtocolError(ws.raw as object, (event as ErrorEvent).error ?? (event as ErrorEvent).message);
    return this.#onError?.(event, ws);
  }
}
