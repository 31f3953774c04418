/**
 * A flood of large frames to many streams with history (as the built-in
 * demo's `room:*` keeps), or to a gone token on a host that replays, once
 * grew the process until it died. Real server: what history and replay keep
 * stays within limits.historyBytes, the oldest going first, /health and
 * /metrics say so, and reading the history of channels nobody cast to
 * creates nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { connect } from '../support/client.ts';
import { TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

const BUDGET = 1 << 20;
/** A frame of about 64 KiB: sixteen fill the budget. */
const BIG = 'x'.repeat(64 * 1024);
const CHANNELS = 300;
const CASTS_TO_TOKEN = 200;

const CONFIG = {
  limits: { historyBytes: BUDGET },
  hosts: {
    // As the built-in demo: every room keeps history.
    'h.test': { module: 'builtin:demo', channels: { 'room:*': { presenceEvents: true, history: { size: 200, ttl: 600 } } } },
    'r.test': { module: 'builtin:demo', replay: { window: 60, frames: 100_000 } },
  },
};

interface Health {
  history: { streams: number; replaying: number; bytes: number; budget: number; evicted: number };
}

describe(`a flood of history and replay stays within limits.historyBytes on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: CONFIG });
  });
  after(async () => {
    await server?.stop();
  });

  const health = async (): Promise<Health> => (await (await fetch(`${server.url}/health`)).json()) as Health;
  const cast = async (host: string, target: string, data: unknown): Promise<void> => {
    const res = await fetch(`${server.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host, target, data }) });
    assert.equal(res.status, 200, await res.text());
  };
  /** Runs `count` tasks, a few at a time: bounded in count, and each cast is awaited. */
  const flood = async (count: number, task: (i: number) => Promise<void>): Promise<void> => {
    let next = 0;
    const lane = async () => {
      while (next < count) await task(next++);
    };
    await Promise.all(Array.from({ length: 8 }, lane));
  };

  it('keeps history within the budget, evicting the oldest, and says so in /health, /metrics and the log', { timeout: 60_000 }, async () => {
    await flood(CHANNELS, (i) => cast('h.test', `channel:room:${i}`, { n: i, text: BIG }));
    const { history } = await health();
    assert.equal(history.budget, BUDGET);
    assert.ok(history.bytes <= BUDGET, `held ${history.bytes} bytes, over the budget of ${BUDGET}`);
    assert.ok(history.bytes > BUDGET / 2, `the budget is used, not emptied: ${history.bytes}`);
    assert.ok(history.evicted >= CHANNELS - 16, `evicted ${history.evicted}`);
    assert.ok(history.streams <= 16, `streams emptied by eviction are forgotten: ${history.streams} left`);
    // The newest room is still held; the first one is gone.
    const newest = (await (await fetch(`${server.url}/history?host=h.test&channel=room:${CHANNELS - 1}`)).json()) as { publications: Array<{ offset: number; data: { n: number } }> };
    assert.deepEqual(newest.publications.map((p) => p.data.n), [CHANNELS - 1]);
    const oldest = (await (await fetch(`${server.url}/history?host=h.test&channel=room:0`)).json()) as { publications: unknown[] };
    assert.equal(oldest.publications.length, 0);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`^wsgate_history_budget_bytes ${BUDGET}$`, 'm'));
    const bytes = Number(/^wsgate_history_bytes (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(bytes > 0 && bytes <= BUDGET, `wsgate_history_bytes ${bytes}`);
    assert.ok(Number(/^wsgate_history_evicted_total (\d+)$/m.exec(metrics)?.[1]) > 0, 'wsgate_history_evicted_total');
    await server.waitForLog(/ history budget full .*budget=1048576/);
  });

  it('creates no stream for reads of channels nobody cast to', { timeout: 60_000 }, async () => {
    const before = (await health()).history;
    await flood(1000, async (i) => {
      const res = await fetch(`${server.url}/history?host=h.test&channel=room:never-${i}`);
      const body = (await res.json()) as { offset: number; publications: unknown[] };
      assert.deepEqual([res.status, body.offset, body.publications.length], [200, 0, 0]);
    });
    const after = (await health()).history;
    assert.equal(after.streams, before.streams);
    assert.equal(after.bytes, before.bytes);
  });

  it('keeps what a gone token missed within the same budget', { timeout: 60_000 }, async () => {
    const a = await connect(server.port, { host: 'r.test', token: 'gone' });
    a.ws.terminate();
    await server.waitForLog(/ close host=r\.test /);
    const before = (await health()).history;
    assert.equal(before.replaying, 1);
    await flood(CASTS_TO_TOKEN, (i) => cast('r.test', 'token:gone', { n: i, text: BIG }));
    const { history } = await health();
    assert.ok(history.bytes <= BUDGET, `held ${history.bytes} bytes, over the budget of ${BUDGET}`);
    assert.ok(history.evicted >= before.evicted + CASTS_TO_TOKEN - 16, `evicted ${history.evicted - before.evicted} of the token's frames`);
    // Its next socket gets the newest it missed, and is told how many were lost.
    const b = await connect(server.port, { host: 'r.test', token: 'gone' });
    const line = await server.waitForLog(/ replayed host=r\.test /);
    const frames = Number(/ frames=(\d+)/.exec(line)?.[1]);
    const dropped = Number(/ dropped=(\d+)/.exec(line)?.[1]);
    assert.ok(frames > 0 && frames <= 16, line);
    // Its casts, and the demo's "leave" cast to the host by its own socket's close hook.
    assert.ok(frames + dropped >= CASTS_TO_TOKEN, line);
    // Replayed before anything live: the first it gets is among the newest it missed (or the demo's own "leave");
    // eight casts are under way at a time, so they may arrive a little out of order.
    const first = JSON.parse(await b.next()) as { n?: number; type?: string };
    assert.ok(first.type === 'leave' || (first.n ?? 0) >= CASTS_TO_TOKEN - 16 - 8, JSON.stringify(first).slice(0, 80));
    b.ws.terminate();
    assert.equal((await health()).history.bytes <= BUDGET, true);
  });

  it('applies a smaller budget from a reload to what is held now', { timeout: 60_000 }, async () => {
    await flood(20, (i) => cast('h.test', `channel:room:again-${i}`, { n: i, text: BIG }));
    assert.ok((await health()).history.bytes > BUDGET / 4);
    writeFileSync(server.configFile!, JSON.stringify({ ...CONFIG, limits: { historyBytes: BUDGET / 4 } }));
    const res = await fetch(`${server.url}/reload`, { method: 'POST' });
    assert.equal(res.status, 200, await res.text());
    const { history } = await health();
    assert.equal(history.budget, BUDGET / 4);
    assert.ok(history.bytes <= BUDGET / 4, `held ${history.bytes} bytes after the reload`);
  });
});
