/**
 * The resident pool's rules (CONTRACT section 4): on-demand workers, one
 * boot at a time, the global cap, the queue cap, recycling, reaping, and
 * workers that crash, print garbage or send a fatal frame.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { readEvents, waitFor } from '../support/events.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const resident = (pool: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({ app: APP, build: false, pool, ...extra });

async function health(server: Started) {
  return (await (await fetch(`${server.url}/health`)).json()) as {
    workers: number;
    cap: number;
    pools: Record<string, { workers: number; busy: number; queued: number; pipelined: number; done: number; failed: number }>;
  };
}

async function whoami(c: Client): Promise<{ pid: number; socket: string }> {
  c.send(JSON.stringify({ cmd: 'whoami' }));
  return JSON.parse(await c.next());
}

describe(`resident pool on ${TARGET}`, { skip }, () => {
  describe('one app, cap 1', () => {
    let server: Started;
    const events = join(tempDir(), 'events.ndjson');
    const clients: Client[] = [];
    before(async () => {
      server = await startServer({
        env: { WSGATE_TEST_EVENTS: events, WSGATE_TEST_BOOT_MS: '100' },
        // One job at a time, so the queue's bound is what the test sees (writing ahead would hold one job more).
        config: { pool: { cap: 1 }, hosts: { 'p.test': resident({ maxQueue: 2, writeAhead: false }) } },
      });
    });
    after(async () => {
      for (const c of clients) c.ws.terminate();
      await server.stop();
    });
    const client = async (token: string) => {
      const c = await connect(server.port, { host: 'p.test', token });
      clients.push(c);
      return c;
    };

    it('starts no worker before the first job, then one, and reports it in /health', async () => {
      const before = await health(server);
      assert.equal(before.workers, 0);
      assert.equal(before.cap, 1);
      assert.deepEqual(before.pools[APP], { workers: 0, busy: 0, queued: 0, pipelined: 0, done: 0, failed: 0, recycled: 0 });
      const c = await client('first');
      await whoami(c);
      const after = await health(server);
      assert.equal(after.workers, 1);
      const pool = after.pools[APP]!;
      assert.equal(pool.workers, 1);
      assert.equal(pool.queued, 0);
      assert.ok(pool.done >= 3, `auth, connect and receive were done: ${JSON.stringify(pool)}`);
    });

    it('queues beyond the cap, and refuses jobs beyond maxQueue with a clear error', async () => {
      const doneBefore = (await health(server)).pools[APP]!.done;
      const [a, b, c, d] = [await client('qa'), await client('qb'), await client('qc'), await client('qd')];
      // Their connect hooks go through the same worker: one still waiting would take a place in the queue the test fills.
      await waitFor('the four auth and connect hooks done', async () => {
        const pool = (await health(server)).pools[APP]!;
        return (pool.done >= doneBefore + 8 && pool.busy === 0 && pool.queued === 0) || undefined;
      });
      const marker = join(tempDir(), 'release-a');
      a.send(JSON.stringify({ cmd: 'hold', marker }));
      await waitFor('a busy worker', async () => (await health(server)).pools[APP]!.busy === 1 || undefined);
      b.send('queued one');
      c.send('queued two');
      await waitFor('two queued jobs', async () => (await health(server)).pools[APP]!.queued === 2 || undefined);
      d.send('one too many');
      // Refused as a full one-shot queue is: the client is told (1013, try again later), not left thinking it was delivered.
      await server.waitForLog(/WARN  hook refused host=p\.test .*hook=receive .*queue full: 2 jobs already wait/);
      assert.deepEqual(await d.closed, { code: 1013, reason: 'the gateway is busy: the message was not delivered; try again later' });
      writeFileSync(marker, '');
      assert.equal(await a.next(5000), 'woke');
      assert.equal(await b.next(5000), 'queued one');
      assert.equal(await c.next(5000), 'queued two');
      const again = await client('qe');
      again.send('room again');
      assert.equal(await again.next(), 'room again', 'the queue takes jobs again once it has room');
      assert.equal((await health(server)).workers, 1, 'never more than the cap');
    });
  });

  describe('broken workers', () => {
    let server: Started;
    before(async () => {
      server = await startServer({ config: { hosts: { 'p.test': resident() } } });
    });
    after(() => server.stop());

    for (const [cmd, reason] of [
      ['crash', /reason="exited with code 70"/],
      ['garbage', /reason="printed a line that is not JSON: \\"this is not a protocol frame\\""/],
      ['fatal', /reason="sent a fatal frame: broken on purpose"/],
    ] as const) {
      it(`removes a worker that ${cmd === 'crash' ? 'dies mid-job' : cmd === 'garbage' ? 'prints a non-JSON line' : 'sends a fatal frame'}, fails its job, and serves the socket again`, async () => {
        const c = await connect(server.port, { host: 'p.test', token: `bad-${cmd}` });
        const { pid } = await whoami(c);
        c.send(JSON.stringify({ cmd }));
        const died = await server.waitForLog(new RegExp(`worker died app=\\S+ pid=${pid} ${reason.source}`));
        assert.ok(died);
        const failed = await server.waitForLog(new RegExp(`hook failed host=p\\.test socket=\\S+ hook=receive.*worker ${reason.source.replace(/^reason="|"$/g, '')}`));
        if (cmd === 'crash') {
          assert.match(failed, /crashing on purpose/, 'the worker stderr is in the log');
          assert.equal(await c.next(), 'about to crash', 'lines before the crash were streamed');
        }
        const next = await whoami(c);
        assert.notEqual(next.pid, pid, 'a new worker serves the socket');
        c.ws.terminate();
      });
    }
  });

  describe('pipelining', () => {
    const pipelined = async (server: Started) => (await health(server)).pools[APP];

    it('writes a busy worker its next job: one that offers it, and a Phlo worker (writeAhead, on by default), but not with writeAhead off', async () => {
      for (const [offers, writeAhead, ahead] of [[true, undefined, true], [false, undefined, true], [false, false, false]] as const) {
        const pool = writeAhead === undefined ? { cap: 1 } : { cap: 1, writeAhead };
        const server = await startServer({ env: offers ? { WSGATE_TEST_PIPELINE: '1' } : {}, config: { pool, hosts: { 'p.test': resident() } } });
        try {
          const a = await connect(server.port, { host: 'p.test', token: 'a' });
          const b = await connect(server.port, { host: 'p.test', token: 'b' });
          const marker = join(tempDir(), 'release-a');
          a.send(JSON.stringify({ cmd: 'hold', marker }));
          await waitFor('the held job to run', async () => (await pipelined(server))?.busy === 1);
          b.send(JSON.stringify({ cmd: 'whoami' }));
          const stats = await waitFor('the second job to wait', async () => {
            const p = await pipelined(server);
            return p && p.queued + p.pipelined === 1 ? p : undefined;
          });
          assert.deepEqual([stats.pipelined, stats.queued], ahead ? [1, 0] : [0, 1], `offers ${offers}, writeAhead ${writeAhead}`);
          writeFileSync(marker, '');
          assert.equal(await a.next(), 'woke');
          assert.equal(typeof JSON.parse(await b.next()).pid, 'number');
          a.ws.terminate();
          b.ws.terminate();
        } finally {
          await server.stop();
        }
      }
    });

    for (const offers of [true, false]) {
    it(`runs a job that waited behind a job whose worker died on a new worker, and fails only the one that ran (${offers ? 'a worker that offers pipelining' : 'a Phlo worker, written ahead'})`, async () => {
      const server = await startServer({ env: offers ? { WSGATE_TEST_PIPELINE: '1' } : {}, config: { pool: { cap: 1 }, hosts: { 'p.test': resident() } } });
      try {
        const a = await connect(server.port, { host: 'p.test', token: 'a' });
        const b = await connect(server.port, { host: 'p.test', token: 'b' });
        const first = (await whoami(a)).pid;
        const before = (await pipelined(server))!.failed;
        a.send(JSON.stringify({ cmd: 'crash', after: 0.5 }));
        assert.equal(await a.next(), 'about to crash');
        b.send(JSON.stringify({ cmd: 'whoami' }));
        await waitFor('the whoami to be pipelined', async () => (await pipelined(server))?.pipelined === 1);
        const reply = JSON.parse(await b.next()) as { pid: number };
        assert.notEqual(reply.pid, first, 'it ran on the new worker');
        await server.waitForLog(/hook failed host=p\.test .*hook=receive/);
        assert.equal((await pipelined(server))!.failed - before, 1, 'only the crashed job failed');
        a.ws.terminate();
        b.ws.terminate();
      } finally {
        await server.stop();
      }
    });
    }

    it('does not run a job written behind one again once the worker has started it (the answer before it was lost)', async () => {
      const events = join(tempDir(), 'events.ndjson');
      const marker = join(tempDir(), 'answer');
      const server = await startServer({ env: { WSGATE_TEST_EVENTS: events }, config: { pool: { cap: 1 }, hosts: { 'p.test': resident() } } });
      try {
        const a = await connect(server.port, { host: 'p.test', token: 'a' });
        const b = await connect(server.port, { host: 'p.test', token: 'b-behind' });
        await whoami(a);
        a.send(JSON.stringify({ cmd: 'loseanswer', marker }));
        await waitFor('the job to run', async () => (await pipelined(server))?.busy === 1);
        b.send(JSON.stringify({ cmd: 'whoami' }));
        await waitFor('the whoami to be written ahead', async () => (await pipelined(server))?.pipelined === 1);
        writeFileSync(marker, '');
        // The worker answers b's job where a's answer should have been: b's job started, so it fails rather than runs again.
        await server.waitForLog(/worker died .*which it was not running/);
        const runs = () => readEvents(events).filter((e) => e.at === 'start' && e.hook === 'receive' && e.argv[2] === 'b-behind').length;
        // A job handed back would run on the next worker at once; a whoami after it shows that worker has had its turn.
        await whoami(a);
        assert.equal(runs(), 1, "b's job ran once");
        await server.waitForLog(/hook failed host=p\.test .*hook=receive .*after the job may have started/);
        a.ws.terminate();
        b.ws.terminate();
      } finally {
        await server.stop();
      }
    });

    it('runs a job written behind one that timed out on a new worker, once', async () => {
      // 2 s: the whoami behind the sleep runs on a worker booted after the kill, which must fit too on a busy machine.
      const server = await startServer({ config: { pool: { cap: 1 }, hosts: { 'p.test': resident({}, { timeout: 2 }) } } });
      try {
        const a = await connect(server.port, { host: 'p.test', token: 'a' });
        const b = await connect(server.port, { host: 'p.test', token: 'b' });
        const first = (await whoami(a)).pid;
        const before = (await pipelined(server))!;
        a.send(JSON.stringify({ cmd: 'sleep', seconds: 5 }));
        await waitFor('the sleep to run', async () => (await pipelined(server))?.busy === 1);
        b.send(JSON.stringify({ cmd: 'whoami' }));
        await waitFor('the whoami to be written ahead', async () => (await pipelined(server))?.pipelined === 1);
        const reply = JSON.parse(await b.next()) as { pid: number };
        assert.notEqual(reply.pid, first, 'it ran on the new worker, after the timed-out one was killed');
        await server.waitForLog(/hook failed host=p\.test .*hook=receive.*timed out/);
        // The reply reaches the socket before the pool counts the job done.
        await waitFor('the job behind it to be counted', async () => (await pipelined(server))!.done > before.done);
        const after = (await pipelined(server))!;
        assert.equal(after.failed - before.failed, 1, 'only the job that timed out failed');
        assert.equal(after.done - before.done, 1, 'the job behind it ran once');
        a.ws.terminate();
        b.ws.terminate();
      } finally {
        await server.stop();
      }
    });
  });

  describe('recycling', () => {
    it('recycles a worker after maxJobs jobs', async () => {
      const events = join(tempDir(), 'events.ndjson');
      const server = await startServer({ env: { WSGATE_TEST_EVENTS: events }, config: { hosts: { 'p.test': resident({ maxJobs: 6 }) } } });
      try {
        const c = await connect(server.port, { host: 'p.test', token: 'recycle' });
        const pids = new Set<number>();
        for (let i = 0; i < 8; i++) pids.add((await whoami(c)).pid);
        assert.ok(pids.size >= 2, `a new worker took over: ${[...pids]}`);
        await server.waitForLog(/worker recycled app=\S+ pid=\d+ jobs=[56]/);
        const jobsPerPid = new Map<number, number>();
        for (const e of readEvents(events)) {
          const pid = e.pid;
          if (e.at === 'start' && pid) jobsPerPid.set(pid, (jobsPerPid.get(pid) ?? 0) + 1);
        }
        for (const [pid, jobs] of jobsPerPid) assert.ok(jobs <= 6, `worker ${pid} ran ${jobs} jobs`);
        const first = [...pids][0];
        await waitFor('the recycled worker to shut down cleanly', () =>
          readEvents(events).some((e) => e.at === 'exit' && e.pid === first),
        );
        c.ws.terminate();
      } finally {
        await server.stop();
      }
    });

    it("boots a worker's successor before it retires, so that no job waits for a boot", async () => {
      const events = join(tempDir(), 'events.ndjson');
      const server = await startServer({ env: { WSGATE_TEST_EVENTS: events }, config: { pool: { cap: 1 }, hosts: { 'p.test': resident({ maxJobs: 10 }) } } });
      try {
        const c = await connect(server.port, { host: 'p.test', token: 'successor' });
        // auth and connect were jobs 1 and 2; seven receives bring the first worker to 9 of its 10.
        const first = (await whoami(c)).pid;
        for (let i = 0; i < 6; i++) assert.equal((await whoami(c)).pid, first);
        const ready = await waitFor('a successor to boot while the first worker still serves', () =>
          readEvents(events).find((e) => e.at === 'ready' && e.pid !== first),
        );
        // PHP notes its ready before it says so on stdout: the job waits until the pool has heard it.
        await server.waitForLog(new RegExp(`worker ready .*pid=${ready.pid}\\b`));
        assert.equal((await whoami(c)).pid, ready.pid, 'the next job ran on the successor');
        const exit = await waitFor('the first worker to shut down cleanly', () => readEvents(events).find((e) => e.at === 'exit' && e.pid === first));
        assert.ok(exit.time! > ready.time!, 'the first worker was still there when its successor was ready');
        // PHP writes its exit event before the process ends; the pool counts the worker until it sees the exit.
        await waitFor('back under the cap', async () => (((await (await fetch(`${server.url}/health`)).json()) as { workers: number }).workers === 1 ? true : undefined));
        c.ws.terminate();
      } finally {
        await server.stop();
      }
    });
  });

  describe('boot', () => {
    it('boots one worker at a time per app', async () => {
      const server = await startServer({ env: { WSGATE_TEST_BOOT_MS: '300' }, config: { pool: { cap: 3 }, hosts: { 'b.test': resident() } } });
      try {
        const clients = await Promise.all(['x', 'y', 'z'].map((token) => connect(server.port, { host: 'b.test', token })));
        const markers = [join(tempDir(), 'm1'), join(tempDir(), 'm2')];
        // Three sockets busy at once need three workers.
        clients[0]!.send(JSON.stringify({ cmd: 'barrier', mine: markers[0], theirs: markers[1] }));
        clients[1]!.send(JSON.stringify({ cmd: 'barrier', mine: markers[1], theirs: markers[0] }));
        assert.deepEqual(JSON.parse(await clients[0]!.next()), { barrier: true });
        assert.deepEqual(JSON.parse(await clients[1]!.next()), { barrier: true });
        const trace = server.logs.filter((l) => / worker (starting|ready) /.test(l)).map((l) => (/ worker (starting|ready) /.exec(l)![1]));
        assert.ok(trace.length >= 4, trace.join(','));
        for (let i = 0; i < trace.length; i++) assert.equal(trace[i], i % 2 === 0 ? 'starting' : 'ready', `boots overlap: ${trace.join(',')}`);
        for (const c of clients) c.ws.terminate();
      } finally {
        await server.stop();
      }
    });

    it('reaps idle workers', async () => {
      const server = await startServer({ config: { pool: { idle: 0.5 }, hosts: { 'r.test': resident() } } });
      try {
        const c = await connect(server.port, { host: 'r.test', token: 'idle' });
        const { pid } = await whoami(c);
        await server.waitForLog(new RegExp(`worker reaped app=\\S+ pid=${pid}`));
        await waitFor('the reaped worker to be gone', async () => (await health(server)).workers === 0 || undefined);
        const again = await whoami(c);
        assert.notEqual(again.pid, pid, 'a new worker starts on demand');
        c.ws.terminate();
      } finally {
        await server.stop();
      }
    });

    it('fails jobs with the boot error when no worker can start, logs its stderr, and stays up', async () => {
      const server = await startServer({ env: { WSGATE_TEST_BOOT_FAIL: '1' }, config: { hosts: { 'f.test': resident() } } });
      try {
        await assert.rejects(connect(server.port, { host: 'f.test', token: 't' }), (e: { status?: number }) => e.status === 401);
        const line = await server.waitForLog(/worker failed to start app=\S+ pid=\d+ error=/);
        assert.match(line, /boot failed on purpose/);
        await server.waitForLog(/hook failed host=f\.test .*hook=auth.*no worker could start/);
        assert.equal((await fetch(`${server.url}/health`)).status, 200);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  });
});
