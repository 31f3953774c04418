/**
 * Deno's keepalive, with the end it lacks.
 *
 * Deno (idleTimeout) pings a socket silent for half the keepalive and closes
 * it when no pong follows within the other half; but it awaits the ping's
 * write first, and that write waits for good when the client reads nothing:
 * a client that floods pings fills its connection with pongs it never reads,
 * Deno stops reading from it to write them, and the ping behind them never
 * goes, so the socket is neither closed nor read again. It would keep its
 * place among the sockets, its descriptor and its kernel buffers.
 *
 * What Deno hears from a socket (a message or a pong) goes through its
 * [[serverHandleIdleTimeout]] method; wrapped on each socket, it tells when
 * the socket was last heard. A socket silent for twice the keepalive, which
 * Deno would have closed by then, is dropped (deno-drop.ts). Where this Deno
 * has no such method, nothing is watched, as before, and
 * test/security/ping-flood.test.ts fails on Deno.
 */
import type { DenoDrops } from './deno-drop.ts';

export interface KeepaliveWatch {
  watch(ws: WebSocket): void;
  stop(): void;
}

type Heard = (this: WebSocket) => unknown;

/** Deno's method that a received message or pong calls, if this Deno still has it (2.x). */
function heardMethod(): { key: symbol; original: Heard } | undefined {
  const proto = (globalThis as { WebSocket?: { prototype: object } }).WebSocket?.prototype;
  if (!proto) return undefined;
  const key = Object.getOwnPropertySymbols(proto).find((symbol) => symbol.description === '[[serverHandleIdleTimeout]]');
  const original = key && (proto as Record<symbol, unknown>)[key];
  return key && typeof original === 'function' ? { key, original: original as Heard } : undefined;
}

/** `drop`: the runtime's own (deno-drop.ts), so that a dropped socket's close is reported as one. */
export function createKeepaliveWatch(seconds: number, drop: DenoDrops['drop']): KeepaliveWatch {
  const method = heardMethod();
  if (!method) return { watch: () => {}, stop: () => {} };
  const lastHeard = new Map<WebSocket, number>();
  // One function for every socket, not a closure each.
  function heard(this: WebSocket) {
    if (lastHeard.has(this)) lastHeard.set(this, Date.now());
    return method!.original.call(this);
  }
  const silentMs = seconds * 2000;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const [ws, at] of lastHeard) {
      if (ws.readyState === WebSocket.CLOSED) lastHeard.delete(ws);
      else if (now - at > silentMs) {
        lastHeard.delete(ws);
        drop(ws, 1001);
      }
    }
  }, seconds * 500);
  // Watching must not keep the process alive.
  (globalThis as { Deno?: { unrefTimer?(id: unknown): void } }).Deno?.unrefTimer?.(timer);
  return {
    watch(ws) {
      lastHeard.set(ws, Date.now());
      Object.defineProperty(ws, method.key, { value: heard, configurable: true, writable: true });
    },
    stop() {
      clearInterval(timer);
      lastHeard.clear();
    },
  };
}
