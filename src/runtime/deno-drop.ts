/**
 * Closing a Deno WebSocket, or dropping its connection without the close
 * handshake, and what its close event then means (closeEventOf) and when
 * its close frame is out (closesAnswered).
 *
 * Deno's WebSocket has no terminate, and its close() waits for the peer's
 * close frame with no timeout: first to write its own close frame behind
 * everything unsent, then to read the reply. A client that stops reading (or
 * never answers a close) so keeps its connection, its file descriptor and
 * the kernel's buffers of it for good, long after the gateway gave its place
 * among the sockets to the next one: limits.sockets would bound nothing.
 *
 * No public API closes the connection, so this closes the socket's resource
 * the way Deno's own WebSocket does once a close completes (core.tryClose of
 * its [[rid]]): Deno then ends the TCP connection and fires the close event.
 * Both are reached through `Deno[Deno.internal]`, which Deno does not
 * document; where either is missing the drop is a close(), as before (and
 * the client's own connection, when piped from TLS, still ends), and
 * test/security/stalled-reader.test.ts fails on Deno.
 *
 * A write already under way (to a client whose buffers are full) keeps the
 * connection until it completes, which Deno cannot cancel: on plain TCP a
 * client that never reads again keeps its descriptor, though not its place.
 */

interface DenoCore {
  tryClose(rid: number): void;
}

/** Deno's core ops object, if this Deno still has it where it had it (2.x). */
function denoCore(): DenoCore | undefined {
  const deno = (globalThis as { Deno?: Record<PropertyKey, unknown> }).Deno;
  const internal = deno?.internal;
  const hidden = typeof internal === 'symbol' ? (deno![internal] as { core?: Partial<DenoCore> } | undefined) : undefined;
  return typeof hidden?.core?.tryClose === 'function' ? (hidden.core as DenoCore) : undefined;
}

/** How long a stop waits for the answers to its closes, at most: enough for a peer that reads to answer. */
export const CLOSE_ANSWER_MS = 1000;

export interface DenoDrops {
  /** What else a drop of `ws` ends: the client's own connection, where the socket's is piped from the TLS listener (deno.ts). */
  dropsWith(ws: WebSocket, drop: () => void): void;
  /**
   * Closes with `code` (no more sends; the close frame goes if it can), then
   * ends the connection at once. Rids are never reused, so one closed already
   * (its close completed meanwhile) is not another socket's.
   */
  drop(ws: WebSocket, code: number): void;
  /**
   * A close whose peer has not answered within `timeoutMs` (closeTimeout)
   * drops the connection: Deno would wait for good, and a client closed for a
   * limit or for idling would keep its place among the sockets as long as it likes.
   */
  close(ws: WebSocket, timeoutMs: number, code?: number, reason?: string): void;
  /**
   * Resolves once every socket closed so far has answered (or was dropped),
   * or after `ms`. Deno writes a close frame some turns after close(), and an
   * exit before then cuts it: the client sees 1006, not the gateway's code.
   * An answer says the frame went; one that does not come within `ms` is from
   * a peer that does not read, which would not have read the frame either.
   */
  closesAnswered(ms?: number): Promise<void>;
  /**
   * The close event to report. Once a close began here, Deno says 1005 both
   * for a reply without a code and for a client that went without replying
   * (its read fails while closing). Clients echo the code they were sent (RFC
   * 6455 5.5.1: browsers and ws do), so there it is a client that went: 1006,
   * abnormal closure, as Node says.
   */
  closeEventOf(ws: WebSocket, event: CloseEvent): CloseEvent;
}

/** The closes and drops of one runtime's sockets, with what they must remember of them. */
export function createDenoDrops(): DenoDrops {
  // Looked up once, at the first drop (null: not yet).
  let core: DenoCore | undefined | null = null;
  let ridKey: symbol | undefined;
  /** Sockets whose close began here (close, drop). */
  const closedHere = new WeakSet<WebSocket>();
  /** Sockets closed by close() whose peer has not answered yet, and who waits for there to be none. */
  const unanswered = new Set<WebSocket>();
  const whenAllAnswered: Array<() => void> = [];
  const alsoDrop = new WeakMap<WebSocket, () => void>();

  /** The resource id of a Deno WebSocket: a private field whose symbol is named [[rid]]. */
  function ridOf(ws: WebSocket): number | undefined {
    ridKey ??= Object.getOwnPropertySymbols(ws).find((key) => key.description === '[[rid]]');
    const rid = ridKey === undefined ? undefined : (ws as unknown as Record<symbol, unknown>)[ridKey];
    return typeof rid === 'number' ? rid : undefined;
  }

  // One function for every socket, not a closure each.
  function answered(this: WebSocket) {
    unanswered.delete(this);
    if (unanswered.size === 0) for (const resolve of whenAllAnswered.splice(0)) resolve();
  }

  function drop(ws: WebSocket, code: number): void {
    closedHere.add(ws);
    try {
      ws.close(code);
    } catch {
      // Closed already.
    }
    if (core === null) core = denoCore();
    const rid = core && ridOf(ws);
    if (rid !== undefined) core?.tryClose(rid);
    alsoDrop.get(ws)?.();
  }

  return {
    dropsWith: (ws, also) => void alsoDrop.set(ws, also),
    drop,
    close(ws, timeoutMs, code, reason) {
      closedHere.add(ws);
      ws.close(code, reason);
      if (!unanswered.has(ws)) {
        unanswered.add(ws);
        ws.addEventListener('close', answered, { once: true });
      }
      const timer = setTimeout(() => ws.readyState !== WebSocket.CLOSED && drop(ws, code ?? 1000), timeoutMs);
      // Nothing to drop must not keep the process alive.
      (globalThis as { Deno?: { unrefTimer?(id: unknown): void } }).Deno?.unrefTimer?.(timer);
    },
    closesAnswered(ms = CLOSE_ANSWER_MS) {
      if (unanswered.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, ms);
        whenAllAnswered.push(done);
      });
    },
    closeEventOf(ws, event) {
      if (event.code !== 1005 || !closedHere.has(ws)) return event;
      return { type: 'close', code: 1006, reason: event.reason, wasClean: false } as unknown as CloseEvent;
    },
  };
}
