import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { fakeClient } from '../support/fake-websocket.ts';

/** A client connected (ready) on a fake socket. */
function setup(t: TestContext) {
  const { client, last, up } = fakeClient(t);
  up();
  return { client, socket: last() };
}

describe('wsgate.js: subscribing again to a channel it is still leaving', () => {
  it('asks wsgate to join it again once the unsubscribe is answered', (t) => {
    const { client, socket } = setup(t);
    const got: unknown[] = [];
    const first = client.subscribe('room:1', (data) => got.push(data));
    socket.receive({ wsgate: 'subscribed', channel: 'room:1', ok: true, epoch: 'E', offset: 0 });
    // A component unmounts and mounts again at once: the unsubscribe's answer is still on its way.
    first.unsubscribe();
    client.subscribe('room:1', (data) => got.push(data));
    socket.receive({ wsgate: 'unsubscribed', channel: 'room:1' });
    const subscribes = socket.controls().filter((frame) => (frame as { wsgate: string }).wsgate === 'subscribe');
    assert.equal(subscribes.length, 2, 'the second subscription asked for the channel again');
    assert.deepEqual(subscribes[1], { wsgate: 'subscribe', channel: 'room:1' });
    socket.receive({ wsgate: 'subscribed', channel: 'room:1', ok: true, epoch: 'E', offset: 0 }, { wsgate: 'pub', channel: 'room:1', epoch: 'E', offset: 1, data: 'hi' });
    assert.deepEqual(got, ['hi']);
  });

  it('asks once more, not twice, when the first subscribe is refused after the second went out', (t) => {
    const { client, socket } = setup(t);
    // Mounted, unmounted and mounted again before any answer (React's StrictMode does this).
    const first = client.subscribe('room:1');
    first.unsubscribe();
    client.subscribe('room:1');
    socket.receive({ wsgate: 'subscribed', channel: 'room:1', ok: false, reason: 'no' }, { wsgate: 'unsubscribed', channel: 'room:1' });
    const subscribes = socket.controls().filter((frame) => (frame as { wsgate: string }).wsgate === 'subscribe');
    assert.equal(subscribes.length, 2, 'the second subscribe is still on its way: nothing more is asked');
  });

  it('a channel the app took it out of is not asked for again', (t) => {
    const { client, socket } = setup(t);
    client.subscribe('room:1');
    socket.receive({ wsgate: 'subscribed', channel: 'room:1', ok: true, epoch: 'E', offset: 0 }, { wsgate: 'left', channel: 'room:1' });
    assert.equal(socket.controls().filter((frame) => (frame as { wsgate: string }).wsgate === 'subscribe').length, 1);
  });
});

describe('wsgate.js: a subscription ended while offline', () => {
  it('leaves no position behind for the next upgrade to recover', (t) => {
    const { client, sockets, up } = fakeClient(t, { jitter: 0 });
    up();
    const room = client.subscribe('room:1');
    client.subscribe('room:2');
    sockets[0]!.receive({ wsgate: 'subscribed', channel: 'room:1', ok: true, epoch: 'E', offset: 0 }, { wsgate: 'pub', channel: 'room:1', epoch: 'E', offset: 3, data: 1 });
    sockets[0]!.receive({ wsgate: 'subscribed', channel: 'room:2', ok: true, epoch: 'E', offset: 0 }, { wsgate: 'pub', channel: 'room:2', epoch: 'E', offset: 4, data: 2 });
    sockets[0]!.drop();
    room.unsubscribe();
    t.mock.timers.tick(1000);
    const recover = JSON.parse(new URL(sockets[1]!.url).searchParams.get('recover') ?? '{}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(recover), ['room:2']);
  });
});

describe('wsgate.js: a subscription ended while its unsubscribe is on its way when the connection drops', () => {
  it('leaves no position behind either: the next upgrade does not recover it, a later subscribe does not resume from it', (t) => {
    const { client, sockets, last, up } = fakeClient(t, { jitter: 0 });
    up();
    const room = client.subscribe('room:1');
    last().receive({ wsgate: 'subscribed', channel: 'room:1', ok: true, epoch: 'E', offset: 0 }, { wsgate: 'pub', channel: 'room:1', epoch: 'E', offset: 3, data: 1 });
    room.unsubscribe();
    // Lost before wsgate's "unsubscribed" came.
    last().drop();
    t.mock.timers.tick(1000);
    assert.equal(sockets.length, 2);
    assert.equal(new URL(last().url).searchParams.get('recover'), null);
    up();
    client.subscribe('room:1');
    assert.deepEqual(last().controls(), [{ wsgate: 'subscribe', channel: 'room:1' }], 'a fresh subscribe, as after an answered unsubscribe');
  });
});

describe('wsgate.js: a subscription ended and made again while offline (a component mounted anew)', () => {
  it('resumes its own channel from where it stood', (t) => {
    const { client, last, up } = fakeClient(t, { jitter: 0 });
    up();
    const room = client.subscribe('room:1');
    last().receive({ wsgate: 'subscribed', channel: 'room:1', ok: true, epoch: 'E', offset: 0 }, { wsgate: 'pub', channel: 'room:1', epoch: 'E', offset: 3, data: 1 });
    last().drop();
    room.unsubscribe();
    client.subscribe('room:1');
    t.mock.timers.tick(1000);
    up();
    assert.deepEqual(last().controls(), [{ wsgate: 'subscribe', channel: 'room:1', since: { epoch: 'E', offset: 3 } }]);
  });

  it('resumes a channel its path joins from where it stood', (t) => {
    const { client, last, up } = fakeClient(t, { jitter: 0 });
    const room = client.subscribe('room:lobby');
    up({ wsgate: 'joined', channel: 'room:lobby', epoch: 'E', offset: 0 });
    last().receive({ wsgate: 'pub', channel: 'room:lobby', epoch: 'E', offset: 3, data: 1 });
    last().drop();
    room.unsubscribe();
    client.subscribe('room:lobby');
    t.mock.timers.tick(1000);
    const recover = JSON.parse(new URL(last().url).searchParams.get('recover') ?? '{}') as Record<string, unknown>;
    assert.deepEqual(recover, { 'room:lobby': { epoch: 'E', offset: 3 } });
  });
});
