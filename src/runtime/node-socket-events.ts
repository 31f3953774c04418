/**
 * A Node socket's events once it is open: three listeners shared by every
 * socket, in place of the ones @hono/node-ws sets up for each.
 *
 * node-ws does the upgrade (Hono routing, the handshake, the open event),
 * then keeps, for the socket's whole life, a context object in dictionary
 * mode, a URL, four closures and the three listeners' scopes: 1.5 KB of JS
 * heap per idle socket, most of what wsgate on Node kept over bare `ws`
 * (docs/BENCHMARKS.md). Once it has set its listeners up, right after the
 * open event, they are swapped for these, which find the socket's events in
 * one WeakMap. node-ws's error listener goes too (wsgate's events take no
 * error: the runtime's own listener notes what an error means for the close).
 *
 * Only EventEmitter's public API is used, but it relies on which listeners
 * node-ws adds and when: test/unit/runtime-pins.test.ts fails when that
 * changes.
 */
import type { WebSocket } from 'ws';
import type { ReportedClose } from './close-code.ts';
import { contextOf } from './raw-context.ts';

const eventsOf = new WeakMap<WebSocket, ReportedClose>();

/** Sockets the keepalive pinged that have not answered yet: the pong that comes is that answer, not one of the client's own. */
const pinged = new WeakSet<WebSocket>();

/** The keepalive's ping; false, sending none, when the previous one is still unanswered. */
export function keepalivePing(ws: WebSocket): boolean {
  if (pinged.has(ws)) return false;
  pinged.add(ws);
  ws.ping();
  return true;
}

/** ws has answered the ping already: a flood of them is closed by the message rate, as one of messages is. */
export function onPing(this: WebSocket) {
  eventsOf.get(this)?.onControl(contextOf(this));
}

/** A pong the keepalive did not ask for counts as a ping does: each costs a read. */
export function onPong(this: WebSocket) {
  if (!pinged.delete(this)) eventsOf.get(this)?.onControl(contextOf(this));
}

type Data = Buffer | ArrayBuffer | Buffer[];

function onMessage(this: WebSocket, data: Data, isBinary: boolean) {
  const events = eventsOf.get(this);
  if (!events) return;
  // ws hands a Buffer (its default binaryType): text as a string, binary as an ArrayBuffer of its own, as node-ws did.
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  const payload = isBinary ? buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) : buffer.toString('utf8');
  events.onMessage(new MessageEvent('message', { data: payload }), contextOf(this));
}

function onClose(this: WebSocket, code: number, reason: Buffer) {
  const events = eventsOf.get(this);
  if (!events) return;
  eventsOf.delete(this);
  // Read for its code and reason only; Node 20 has no CloseEvent class to make one with.
  events.onClose({ type: 'close', code, reason: reason.toString(), wasClean: code !== 1006 } as unknown as CloseEvent, contextOf(this));
}

/**
 * Takes over a socket's events from node-ws. Called in a microtask queued
 * from the open event: node-ws adds its listeners in the same turn, after
 * the open handler returns, and no frame can be read before the next turn.
 * `keep` is a listener of the runtime's own that stays.
 */
export function adoptSocket(ws: WebSocket, events: ReportedClose, keep: (...args: never[]) => void): void {
  for (const name of ['message', 'close', 'error'] as const) {
    for (const listener of ws.listeners(name)) if (listener !== keep) ws.off(name, listener as (...args: unknown[]) => void);
  }
  eventsOf.set(ws, events);
  ws.on('message', onMessage);
  ws.on('close', onClose);
}
