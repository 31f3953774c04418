/**
 * The hook hardening, where its logic is isolated: close hooks beyond a full
 * pool queue, what a finished one-shot hook leaves holding its pipes, groups
 * kept for wsgate's exit until their pipes close, and a streamed /dispatch
 * to a caller who does not read.
 */
import assert from 'node:assert/strict';
import { spawn as spawnChild } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import type { BridgeGateway } from '../../src/http/bridge/gateway.ts';
import { dispatchRoutes } from '../../src/http/bridge/dispatch.ts';
import type { BridgeDispatcher } from '../../src/http/options.ts';
import { Capacity } from '../../src/hooks/pool/capacity.ts';
import { Pool } from '../../src/hooks/pool/pool.ts';
import { runProcess } from '../../src/hooks/runners/oneshot.ts';
import type { HookOutcome } from '../../src/hooks/runners/runner.ts';
import { createLogger } from '../../src/ops/log.ts';
import { createGroupTracker, holdGroup } from '../../src/runtime/groups.ts';
import { createNodeRuntime } from '../../src/runtime/node.ts';
import type { Child } from '../../src/runtime/types.ts';
import { APP } from '../support/server.ts';
import { alive } from '../support/processes.ts';

const quiet = createLogger(() => {}, 'error');

/** Polls, bounded: a SIGKILL is delivered at once, the kernel's bookkeeping a moment later. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return !alive(pid);
}

describe('a resident pool with a full queue', { timeout: 30_000 }, () => {
  const pools: Pool[] = [];
  after(() => Promise.all(pools.map((p) => p.capacity.stop())));
  const runtime = createNodeRuntime();

  it('queues close hooks beyond maxQueue, without taking the places of other jobs', async () => {
    const settings = { idleMs: 60_000, maxJobs: 10_000, maxQueue: 1, timeoutMs: 10_000, bootTimeoutMs: 10_000, writeAhead: false };
    const pool = new Pool(APP, ['php', APP, 'phlo_serve'], settings, new Capacity(1), runtime.spawn, quiet);
    pools.push(pool);
    await pool.run({ target: 'jobs::echo', args: [], stream: false }); // boots the one worker
    const slow = pool.run({ target: 'jobs::slow', args: [300], stream: false, lane: 'a' });
    const waiting = pool.run({ target: 'jobs::echo', args: ['b'], stream: false, lane: 'b' });
    const refused = await pool.run({ target: 'jobs::echo', args: ['c'], stream: false, lane: 'c' });
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.busy, true, 'the queue is full for other jobs');
    const closes = [1, 2, 3].map((n) => pool.run({ target: 'jobs::echo', args: [`close${n}`], stream: false, lane: `close${n}` }, undefined, undefined, undefined, true));
    assert.equal(pool.stats().queued, 4);
    const stillRefused = await pool.run({ target: 'jobs::echo', args: ['d'], stream: false, lane: 'd' });
    assert.equal(!stillRefused.ok && stillRefused.busy, true, 'close hooks do not free places either');
    const outcomes = await Promise.all([slow, waiting, ...closes]);
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, true, true, true, true],
    );
    // Once they ran, the queue's places are all there again.
    assert.equal(pool.stats().queued, 0);
    const blocker = pool.run({ target: 'jobs::slow', args: [100], stream: false, lane: 'e' });
    const fits = pool.run({ target: 'jobs::echo', args: ['f'], stream: false, lane: 'f' });
    assert.equal((await fits).ok, true);
    await blocker;
  });
});

/** A child whose output the test writes, and which records its kill as its group would die: its pipes close. */
function scriptedChild() {
  const encoder = new TextEncoder();
  const chunks: Array<Uint8Array | null> = [];
  let wake: (() => void) | undefined;
  let exit: (code: number) => void = () => {};
  const push = (text: string | null) => {
    chunks.push(text === null ? null : encoder.encode(text));
    wake?.();
  };
  const state = { killed: false };
  async function* stdout(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = chunks.shift();
      if (chunk === null) return;
      if (chunk) yield chunk;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  }
  const child: Child = {
    pid: undefined,
    stdout: stdout(),
    stderr: (async function* () {})(),
    exited: new Promise<number | null>((resolve) => (exit = resolve)),
    kill: () => {
      state.killed = true;
      // Whatever the group printed as it died must not reach the client.
      push('after-kill\n');
      push(null);
    },
  };
  return { child, push, exit: (code: number) => exit(code), state };
}

describe('a one-shot hook that leaves a process holding its output', { timeout: 10_000 }, () => {
  it('kills its group once the grace period ends, drops what comes after, and keeps the result', async () => {
    const scripted = scriptedChild();
    const lines: string[] = [];
    const running = runProcess(() => scripted.child, ['hook'], { timeoutMs: 10_000, onLine: (line) => lines.push(line) });
    scripted.push('reply\n');
    scripted.exit(0);
    scripted.push('within-grace\n');
    const outcome = await running;
    assert.equal(scripted.state.killed, true, 'the group was killed');
    assert.deepEqual(lines, ['reply', 'within-grace']);
    assert.equal(outcome.ok, true);
    assert.match(outcome.stderr ?? '', /still held its output 2000 ms after it exited; its process group was killed/);
  });
});

describe('process groups at exit', { timeout: 10_000 }, () => {
  /** A leader that starts a grandchild holding its stdout and exits; resolves with both once the leader is gone. */
  async function leaderWithGrandchild(track: ReturnType<typeof createGroupTracker>) {
    const child = spawnChild('sh', ['-c', 'sleep 30 & echo $!'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = once(child, 'exit').then(() => 0);
    track(child.pid!, exited);
    const grandchild = Number((await once(child.stdout!, 'data'))[0].toString().trim());
    await exited;
    // The tracker forgets the leader when its exit is seen, a turn later.
    await new Promise((resolve) => setImmediate(resolve));
    return { leader: child.pid!, grandchild, close: () => child.stdout!.destroy() };
  }

  it("kills a group whose pipes are held at exit, after its leader's exit, and not once they were released", async () => {
    let atExit = () => {};
    const track = createGroupTracker((handler) => (atExit = handler));
    const held = await leaderWithGrandchild(track);
    const release = holdGroup(held.leader);
    const released = await leaderWithGrandchild(track);
    holdGroup(released.leader)();
    try {
      atExit();
      assert.equal(await gone(held.grandchild), true, 'the held group was killed at exit');
      assert.equal(alive(released.grandchild), true, 'a released group is not signalled');
    } finally {
      release();
      held.close();
      released.close();
      for (const pid of [held.grandchild, released.grandchild]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});

describe('a streamed /dispatch', () => {
  const LINE = 'x'.repeat(64 * 1024);

  function setup(run: BridgeDispatcher['run']) {
    const logs: string[] = [];
    const dispatcher: BridgeDispatcher = { check: async (app) => ({ ok: true, app }), refusal: () => undefined, run };
    const app = dispatchRoutes({ maxBody: 1 << 16, sendBuffer: 1 << 20 } as BridgeGateway, dispatcher, createLogger((line) => logs.push(line), 'debug'));
    const request = () => app.request('/dispatch', { method: 'POST', body: JSON.stringify({ app: '/srv/app.php', target: 'export::all', stream: true }) });
    return { logs, request };
  }

  const frames = async (response: Response) => (await response.text()).trim().split('\n').map((line) => JSON.parse(line) as { t: string; data?: string; message?: string });

  it('stops forwarding to a caller who does not read, past the bound, and ends with an error frame', async () => {
    let finished: Promise<HookOutcome> | undefined;
    const { logs, request } = setup((_job, onLine) => {
      finished = (async () => {
        for (let i = 0; i < 1000; i++) onLine?.(LINE);
        return { ok: true, result: 'all' };
      })();
      return finished;
    });
    const response = await request();
    // Nothing is read until the job is over: what it printed meanwhile waited in the gateway.
    await finished;
    const got = await frames(response);
    const last = got.pop()!;
    assert.equal(last.t, 'error');
    assert.match(last.message!, /the caller read too slowly: more than 1048576 bytes waited/);
    assert.ok(got.length > 0 && got.length <= 17, `${got.length} lines were held for the caller`);
    assert.ok(got.every((frame) => frame.t === 'line' && frame.data === LINE));
    assert.equal(logs.filter((line) => /dispatch stream cut/.test(line)).length, 1);
    assert.match(logs.find((line) => /dispatch stream cut/.test(line))!, /app=\/srv\/app\.php target=export::all/);
  });

  it('forwards every line to a caller who keeps reading, however many', async () => {
    const { logs, request } = setup(async (_job, onLine) => {
      for (let i = 0; i < 200; i++) {
        onLine?.(LINE);
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { ok: true, result: 'all' };
    });
    const got = await frames(await request());
    assert.equal(got.length, 201);
    assert.deepEqual(got.pop(), { t: 'done', result: 'all' });
    assert.equal(logs.filter((line) => /dispatch stream cut/.test(line)).length, 0);
  });
});
