/**
 * The upgrade URL of wsgate.js stays short enough for every server and proxy
 * in front of one (a refused URL would keep a client from ever reconnecting),
 * and spends its room on the streams only the upgrade can resume.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RECOVER_CHARS, upgradeUrl } from '../../src/client/upgrade-url.ts';
import type { Position } from '../../src/client/types.ts';

const base = new URL('ws://gate.test/ws');
const recoverOf = (url: string): Record<string, Position> => JSON.parse(new URL(url).searchParams.get('recover') ?? '{}') as Record<string, Position>;

describe('wsgate.js: the upgrade URL', () => {
  it('keeps recover within its bound however long the channel names, the most recently moved streams first', () => {
    // 100 streams of 200-character names: about 27 KB of JSON, more than Node and Bun take in a request line (16 KB).
    const positions = new Map<string, Position>();
    for (let i = 0; i < 100; i++) positions.set(`${String(i).padStart(3, '0')}:${'x'.repeat(196)}`, { epoch: 'e1', offset: i });
    const url = upgradeUrl(base, positions);
    const recover = new URL(url).search.match(/recover=([^&]*)/)![1]!;
    assert.ok(recover.length <= MAX_RECOVER_CHARS, `recover is ${recover.length} characters`);
    const kept = Object.keys(recoverOf(url));
    assert.ok(kept.length >= 20, `kept ${kept.length}`);
    // The newest stream (last in the map) is in; the oldest is not.
    assert.ok(kept.some((name) => name.startsWith('099:')));
    assert.ok(!kept.some((name) => name.startsWith('000:')));
  });

  it('gives the room to streams only the upgrade resumes before those the client asks for itself with their position', () => {
    const positions = new Map<string, Position>();
    // Older: the path's channel, which only recover resumes; newer: channels the app subscribes to itself.
    positions.set(`room:${'p'.repeat(190)}`, { epoch: 'e1', offset: 5 });
    for (let i = 0; i < 60; i++) positions.set(`own:${i}:${'y'.repeat(190)}`, { epoch: 'e1', offset: i });
    const url = upgradeUrl(base, positions, (channel) => channel.startsWith('own:'));
    const kept = Object.keys(recoverOf(url));
    assert.ok(kept.includes(`room:${'p'.repeat(190)}`), 'the path channel is resumed');
    assert.ok(kept.length < 61, 'not all fit');
  });

  it('writes the same URL as before for a few short streams', () => {
    const positions = new Map<string, Position>([
      ['a', { epoch: 'e', offset: 1 }],
      ['b', { epoch: 'e', offset: 2 }],
    ]);
    assert.equal(upgradeUrl(base, positions), `ws://gate.test/ws?wsgate=1&recover=${encodeURIComponent(JSON.stringify(Object.fromEntries(positions)))}`);
  });
});
