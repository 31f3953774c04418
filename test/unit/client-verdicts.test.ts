// wsgate.js tells the app `recovered: false` whenever it handed over a stream
// with a gap in it, however the connection that found the gap ended.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fakeClient } from '../support/fake-websocket.ts';

const pub = (channel: string, data: unknown, epoch: string, offset: number) => ({ wsgate: 'pub', channel, epoch, offset, data });

describe('wsgate.js: a verdict found by a connection lost before ready', () => {
  it('is still told: the publications it let through had a gap before them', (t) => {
    const { client, last, up, reconnect, messages } = fakeClient(t);
    const verdicts: Array<[string, boolean]> = [];
    client.on('recovered', ({ channel, recovered }) => verdicts.push([channel, recovered]));
    up({ wsgate: 'joined', channel: 'room:1', epoch: 'E', offset: 7 });
    last().receive(pub('room:1', 'e8', 'E', 8));
    // wsgate restarted (epoch F): the join says so, what F holds follows, then the connection drops before "ready".
    reconnect();
    last().open();
    last().receive({ wsgate: 'joined', channel: 'room:1', epoch: 'F', offset: 2, recovered: false }, pub('room:1', 'f1', 'F', 1), pub('room:1', 'f2', 'F', 2));
    last().drop();
    t.mock.timers.tick(100_000);
    // The next connection resumes from F 2, which wsgate still holds in full.
    last().open();
    last().receive({ wsgate: 'joined', channel: 'room:1', epoch: 'F', offset: 2, recovered: true }, { wsgate: 'ready', socket: 's3' });
    assert.deepEqual(messages.map(([data]) => data), ['e8', 'f1', 'f2']);
    assert.deepEqual(verdicts, [['room:1', false]], 'what E published after 8 is lost, and the app must hear it once');
  });

  it('a verdict of true from a lost connection is not told when the next one gives its own', (t) => {
    const { client, last, up, reconnect } = fakeClient(t);
    const verdicts: Array<[string, boolean]> = [];
    client.on('recovered', ({ channel, recovered }) => verdicts.push([channel, recovered]));
    up({ wsgate: 'joined', channel: 'room:1', epoch: 'E', offset: 7 });
    reconnect();
    last().open();
    last().receive({ wsgate: 'joined', channel: 'room:1', epoch: 'E', offset: 7, recovered: true });
    last().drop();
    t.mock.timers.tick(100_000);
    last().open();
    last().receive({ wsgate: 'joined', channel: 'room:1', epoch: 'E', offset: 7, recovered: true }, { wsgate: 'ready', socket: 's3' });
    assert.deepEqual(verdicts, [['room:1', true]]);
  });
});

describe('wsgate.js: a stream left out of recover', () => {
  it('is told recovered: false when the upgrade joins it: what it missed was never asked for', (t) => {
    const { client, last, up, reconnect } = fakeClient(t);
    const verdicts: Array<[string, boolean]> = [];
    client.on('recovered', ({ channel, recovered }) => verdicts.push([channel, recovered]));
    // 101 channels the app joins it to: one more than recover may name.
    const channels = Array.from({ length: 101 }, (_, i) => `room:${i}`);
    up(...channels.map((channel) => ({ wsgate: 'joined', channel, epoch: 'E', offset: 0 })));
    // room:0 moved least recently: it is the one left out.
    for (const channel of channels.slice(1)) last().receive(pub(channel, 1, 'E', 1));
    reconnect();
    const recover = JSON.parse(new URL(last().url).searchParams.get('recover')!) as Record<string, unknown>;
    assert.equal('room:0' in recover, false);
    last().open();
    last().receive(
      { wsgate: 'joined', channel: 'room:0', epoch: 'E', offset: 5 },
      ...channels.slice(1).map((channel) => ({ wsgate: 'joined', channel, epoch: 'E', offset: 1, recovered: true })),
      { wsgate: 'ready', socket: 's2' },
    );
    assert.deepEqual(verdicts.filter(([, recovered]) => !recovered), [['room:0', false]]);
    assert.equal(verdicts.length, 101);
  });

  it('a channel joined for the first time has no verdict', (t) => {
    const { client, last, up } = fakeClient(t);
    const verdicts: unknown[] = [];
    client.on('recovered', (event) => verdicts.push(event));
    up({ wsgate: 'joined', channel: 'room:1', epoch: 'E', offset: 3 });
    last().receive({ wsgate: 'joined', channel: 'room:2', epoch: 'E', offset: 3 });
    assert.deepEqual(verdicts, []);
  });
});
