import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { FakeSocket, fakeClient } from '../support/fake-websocket.ts';

/** Opens, says ready, then closes as wsgate does when the app's connect hook refuses. */
function readyThenRefused(socket: FakeSocket): void {
  socket.open();
  socket.receive({ wsgate: 'ready', socket: 's' });
  socket.drop(1008, 'connect refused');
}

function setup(t: TestContext) {
  t.mock.method(Math, 'random', () => 0.5);
  return fakeClient(t).sockets;
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
      readyThenRefused(sockets.at(-1)!);
      waits.push(nextWait(t, sockets));
    }
    assert.deepEqual(waits, [333, 999, 2997, 8991]);
  });

  it('a connection refused after a slow connect hook (longer than the first wait) does not start them over either', (t) => {
    const sockets = setup(t);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = sockets.at(-1)!;
      socket.open();
      socket.receive({ wsgate: 'ready', socket: 's' });
      t.mock.timers.tick(2000);
      socket.drop(1008, 'connect refused');
      waits.push(nextWait(t, sockets));
    }
    assert.deepEqual(waits, [333, 999, 2997]);
  });

  it('a connection that stayed up as long as the longest wait starts over from the first delay', (t) => {
    const sockets = setup(t);
    readyThenRefused(sockets.at(-1)!);
    assert.equal(nextWait(t, sockets), 333);
    readyThenRefused(sockets.at(-1)!);
    assert.equal(nextWait(t, sockets), 999);
    const socket = sockets.at(-1)!;
    socket.open();
    socket.receive({ wsgate: 'ready', socket: 's' });
    t.mock.timers.tick(10_000);
    socket.drop();
    assert.equal(nextWait(t, sockets), 333);
  });
});
