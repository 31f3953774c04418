import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { connect } from '../../src/client/wsgate.ts';

/** A WebSocket the test plays the server of. */
class FakeSocket {
  onopen: ((event: object) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  constructor(all: FakeSocket[]) {
    all.push(this);
  }
  send(): void {}
  close(): void {}
  /** Opens, says ready, then closes as wsgate does when the app's connect hook refuses. */
  readyThenRefused(): void {
    this.onopen?.({});
    this.onmessage?.({ data: JSON.stringify({ wsgate: 'ready', socket: 's' }) });
    this.onclose?.({ code: 1008, reason: 'connect refused' });
  }
}

function setup(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  t.mock.method(Math, 'random', () => 0.5);
  const sockets: FakeSocket[] = [];
  const WebSocket = class extends FakeSocket {
    constructor() {
      super(sockets);
    }
  } as unknown as typeof globalThis.WebSocket;
  connect('ws://gate.test/websocket', { WebSocket });
  return sockets;
}

/** How long after `sockets` last grew the next socket is made, to the millisecond. */
function nextWait(t: TestContext, sockets: FakeSocket[]): number {
  const before = sockets.length;
  for (let ms = 1; ms <= 60_000; ms++) {
    t.mock.timers.tick(1);
    if (sockets.length > before) return ms;
  }
  return Infinity;
}

describe('wsgate.js: a connection refused right after ready', () => {
  it('is tried again after growing waits, not every 333 ms for ever', (t) => {
    const sockets = setup(t);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      sockets.at(-1)!.readyThenRefused();
      waits.push(nextWait(t, sockets));
    }
    assert.deepEqual(waits, [333, 999, 2997, 8991]);
  });

  it('a connection refused after a slow connect hook (longer than the first wait) does not start them over either', (t) => {
    const sockets = setup(t);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = sockets.at(-1)!;
      socket.onopen?.({});
      socket.onmessage?.({ data: JSON.stringify({ wsgate: 'ready', socket: 's' }) });
      t.mock.timers.tick(2000);
      socket.onclose?.({ code: 1008, reason: 'connect refused' });
      waits.push(nextWait(t, sockets));
    }
    assert.deepEqual(waits, [333, 999, 2997]);
  });

  it('a connection that stayed up as long as the longest wait starts over from the first delay', (t) => {
    const sockets = setup(t);
    sockets.at(-1)!.readyThenRefused();
    assert.equal(nextWait(t, sockets), 333);
    sockets.at(-1)!.readyThenRefused();
    assert.equal(nextWait(t, sockets), 999);
    const socket = sockets.at(-1)!;
    socket.onopen?.({});
    socket.onmessage?.({ data: JSON.stringify({ wsgate: 'ready', socket: 's' }) });
    t.mock.timers.tick(10_000);
    socket.onclose?.({ code: 1006, reason: '' });
    assert.equal(nextWait(t, sockets), 333);
  });
});
