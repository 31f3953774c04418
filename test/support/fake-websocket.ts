/**
 * wsgate.js on fake sockets: a WebSocket the test drives (it records what the
 * client sends, and plays the server), and a client on them with timers the
 * test moves by hand.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { connect, type ClientOptions, type Meta } from '../../src/client/wsgate.ts';

/** A WebSocket the test drives: it records what the client sends, and plays the server. */
export class FakeSocket {
  onopen: ((event: object) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  url: string;
  sent: string[] = [];
  closedWith: number | undefined;
  constructor(url: string, all: FakeSocket[]) {
    this.url = url;
    all.push(this);
  }
  send(text: string): void {
    this.sent.push(text);
  }
  close(code?: number): void {
    this.closedWith = code ?? 1005;
  }
  open(): void {
    this.onopen?.({});
  }
  /** A frame from the server: objects as JSON, strings as they are. */
  receive(...frames: unknown[]): void {
    for (const frame of frames) this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  drop(code = 1006, reason = ''): void {
    this.onclose?.({ code, reason });
  }
  /** The control frames sent, parsed. */
  controls(): unknown[] {
    return this.sent.map((text) => JSON.parse(text)).filter((frame) => frame && typeof frame === 'object' && 'wsgate' in frame);
  }
}

/** A client on fake sockets, and timers the test moves by hand. `url` null: the client's default. */
export function fakeClient(t: TestContext, options: ClientOptions = {}, url: string | null = 'ws://gate.test/websocket') {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sockets: FakeSocket[] = [];
  const WebSocket = class extends FakeSocket {
    constructor(socketUrl: string) {
      super(socketUrl, sockets);
    }
  } as unknown as typeof globalThis.WebSocket;
  const client = connect(url ?? undefined, { ...options, WebSocket });
  const messages: Array<[unknown, Meta]> = [];
  client.on('message', (data, meta) => messages.push([data, meta]));
  const last = () => sockets.at(-1)!;
  /** Opens the newest socket and plays the server's frames, then "ready". */
  const up = (...frames: unknown[]) => {
    last().open();
    last().receive(...frames, { wsgate: 'ready', socket: `s${sockets.length}` });
  };
  /** Loses the connection and lets the first reconnect happen. */
  const reconnect = () => {
    last().drop();
    t.mock.timers.tick(100_000);
    assert.equal(sockets.length >= 2, true, 'reconnected');
  };
  return { client, sockets, last, up, reconnect, messages };
}

