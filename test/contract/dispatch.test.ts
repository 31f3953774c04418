/**
 * POST /dispatch (CONTRACT section 6) in its three forms, the app checks,
 * and the schedule: explicit entries and the minute tick.
 */
import assert from 'node:assert/strict';
import { copyFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readEvents, waitFor } from '../support/events.ts';
import { APP, FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

async function dispatch(server: Started, body: unknown) {
  const response = await fetch(`${server.url}/dispatch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

describe(`/dispatch on ${TARGET}`, { skip }, () => {
  const dir = tempDir();
  const events = join(dir, 'events.ndjson');
  const other = join(dir, 'other', 'app.php');
  const link = join(dir, 'link.php');
  let server: Started;

  before(async () => {
    await import('node:fs').then((fs) => fs.mkdirSync(join(dir, 'other')));
    copyFileSync(APP, other);
    symlinkSync(APP, link);
    server = await startServer({
      env: { WSGATE_TEST_EVENTS: events },
      config: { apps: [other], hosts: { 'r.test': { app: APP, build: false } } },
    });
  });
  after(() => server.stop());

  it('runs a target on the pool and answers its result', async () => {
    const res = await dispatch(server, { app: APP, target: 'jobs::echo', args: ['a', 1, { b: true }] });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), { status: 'ok', result: ['a', 1, { b: true }] });
  });

  it('wraps args that are not an array, and takes none', async () => {
    assert.deepEqual(JSON.parse((await dispatch(server, { app: APP, target: 'jobs::echo', args: 'solo' })).text).result, ['solo']);
    assert.deepEqual(JSON.parse((await dispatch(server, { app: APP, target: 'jobs::echo' })).text).result, []);
  });

  it('runs one-shot with build: true (result: the trimmed stdout)', async () => {
    const res = await dispatch(server, { app: APP, target: 'jobs::echo', args: ['x', 2], build: true });
    assert.deepEqual(JSON.parse(res.text), { status: 'ok', result: '["x","2"]' });
    const start = readEvents(events).find((e) => e.hook === 'jobs::echo' && e.argv[1] === 'x');
    assert.deepEqual(start?.argv, ['jobs::echo', 'x', '2'], 'argv as strings after the target');
  });

  it('answers 202 at once with async: true and runs the job', async () => {
    // A job of a second: the 202 and the look at the events must come before it ends, and a busy test process can
    // read an answer a few hundred ms after it was sent.
    const res = await dispatch(server, { app: APP, target: 'jobs::slow', args: [1000], async: true });
    assert.equal(res.status, 202);
    assert.deepEqual(JSON.parse(res.text), { status: 'ok', queued: true });
    assert.equal(readEvents(events).filter((e) => e.hook === 'jobs::slow' && e.at === 'end').length, 0, 'answered before the job ended');
    await waitFor('the async job to end', () => readEvents(events).some((e) => e.hook === 'jobs::slow' && e.at === 'end'));
  });

  for (const build of [false, true]) {
    it(`streams ndjson line frames then done with stream: true (build: ${build})`, async () => {
      const res = await dispatch(server, { app: APP, target: 'jobs::lines', args: ['one', 'two'], stream: true, build });
      assert.equal(res.status, 200);
      assert.match(res.type, /^application\/x-ndjson/);
      const frames = res.text.trim().split('\n').map((l) => JSON.parse(l));
      const expected = build
        ? // One-shot: every stdout line streams, including the JSON result the app prints last.
          [{ t: 'line', data: 'one' }, { t: 'line', data: 'two' }, { t: 'line', data: '"done"' }, { t: 'done', result: null }]
        : [{ t: 'line', data: 'one' }, { t: 'line', data: 'two' }, { t: 'done', result: 'done' }];
      assert.deepEqual(frames, expected);
    });
  }

  it('reports a failing job: 500 when sync, an error frame when streamed, logged with its stderr', async () => {
    const sync = await dispatch(server, { app: APP, target: 'jobs::fail' });
    assert.equal(sync.status, 500);
    assert.deepEqual(JSON.parse(sync.text), { status: 'error', message: 'job failed on purpose' });
    const line = await server.waitForLog(/dispatch failed app=\S+ target=jobs::fail/);
    assert.match(line, /stderr="job failed on purpose"/);
    const streamed = await dispatch(server, { app: APP, target: 'jobs::fail', stream: true, build: true });
    assert.deepEqual(JSON.parse(streamed.text.trim().split('\n').pop()!), { t: 'error', message: 'exited with code 5' });
  });

  it('accepts the apps of hosts and of "apps", by real path', async () => {
    assert.equal((await dispatch(server, { app: other, target: 'jobs::echo' })).status, 200);
    assert.equal((await dispatch(server, { app: link, target: 'jobs::echo' })).status, 200, 'a symlink to a configured app');
  });

  it('refuses any other app with 400 naming the setting, and spawns nothing', async () => {
    const stranger = join(dir, 'stranger.php');
    copyFileSync(APP, stranger);
    for (const app of [stranger, '/nonexistent/app.php', 'relative/app.php']) {
      const res = await dispatch(server, { app, target: 'jobs::echo', args: ['stranger'] });
      assert.equal(res.status, 400, app);
      assert.match(JSON.parse(res.text).message, app.startsWith('/') ? /is not configured: add it to "apps" in the config \(or set "dispatchAnyApp": true/ : /absolute path/);
    }
    assert.ok(!readEvents(events).some((e) => e.argv[1] === 'stranger'), 'no process ran');
  });

  it('answers 400 with a reason for a bad body', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ app: APP }, /target is required/],
      [{ app: APP, target: 5 }, /target must be a string/],
      [{ app: APP, target: '' }, /target must not be empty/],
      [{ target: 'x' }, /app is required/],
      [{ app: 3, target: 'x' }, /app must be the path/],
      [{ app: APP, target: 'x', async: 'yes' }, /async must be true or false/],
      [[1], /must be a JSON object/],
    ];
    for (const [body, reason] of cases) {
      const res = await dispatch(server, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(JSON.parse(res.text).message, reason);
    }
  });
});

describe(`/dispatch with dispatchAnyApp on ${TARGET}`, { skip }, () => {
  it('runs any existing app, and still refuses a missing one', async () => {
    const dir = tempDir();
    const anywhere = join(dir, 'app.php');
    copyFileSync(APP, anywhere);
    const server = await startServer({ config: { dispatchAnyApp: true, hosts: { 'r.test': APP } } });
    try {
      assert.deepEqual(JSON.parse((await dispatch(server, { app: anywhere, target: 'jobs::echo', args: [1] })).text), { status: 'ok', result: [1] });
      const missing = await dispatch(server, { app: join(dir, 'missing.php'), target: 'jobs::echo' });
      assert.equal(missing.status, 400);
      assert.match(JSON.parse(missing.text).message, /does not exist/);
    } finally {
      await server.stop();
    }
  });
});

describe(`/dispatch to a host's hooks file on ${TARGET}`, { skip }, () => {
  it('is refused, with dispatchAnyApp too: its workers run hooks, and its pool is the host\'s', async () => {
    const hooks = join(FIXTURES, 'ws.php');
    const server = await startServer({ config: { dispatchAnyApp: true, hosts: { 'h.test': { hooks, build: false } } } });
    try {
      const refused = await dispatch(server, { app: hooks, target: 'jobs::echo', args: [1] });
      assert.equal(refused.status, 400, refused.text);
      assert.match(JSON.parse(refused.text).message, /is the hooks file of host "h\.test", not an app/);
    } finally {
      await server.stop();
    }
  });
});

describe(`schedule on ${TARGET}`, { skip }, () => {
  it('runs entries every interval, never two runs of one entry at once, and logs failures', async () => {
    const events = join(tempDir(), 'events.ndjson');
    const started = Date.now();
    const server = await startServer({
      env: { WSGATE_TEST_EVENTS: events },
      config: {
        tick: false,
        schedule: [
          { app: APP, target: 'jobs::slow', every: 0.2, build: false },
          { app: APP, target: 'jobs::fail', every: 0.3, build: true },
        ],
        hosts: { 'r.test': APP },
      },
    });
    try {
      await waitFor('three scheduled runs', () => readEvents(events).filter((e) => e.hook === 'jobs::slow' && e.at === 'end').length >= 3 || undefined);
      const runs = readEvents(events).filter((e) => e.hook === 'jobs::slow');
      const first = runs[0]!.time! * 1000;
      assert.ok(first - started >= 150, `the first run waits one interval (ran after ${Math.round(first - started)} ms)`);
      const trace = runs.map((e) => e.at);
      for (let i = 0; i < trace.length - 1; i++) assert.notEqual(trace[i], trace[i + 1], `runs overlap: ${trace.join(',')}`);
      const line = await server.waitForLog(/schedule failed entry=schedule\[1\] app=\S+ target=jobs::fail error="exited with code 5"/);
      assert.match(line, /stderr="job failed on purpose"/);
    } finally {
      await server.stop();
    }
  });

  it('skips a run while the previous one of the same entry is still going', async () => {
    const events = join(tempDir(), 'events.ndjson');
    const server = await startServer({
      env: { WSGATE_TEST_EVENTS: events, WSGATE_TEST_BOOT_MS: '600' },
      config: { tick: false, schedule: [{ app: APP, target: 'tasks::run', every: 0.2 }], hosts: { 'r.test': APP } },
    });
    try {
      // The first run waits for a worker that boots in 600 ms, so the next ticks find it still going.
      await server.waitForLog(/schedule skipped entry=schedule\[0\] .*reason="the previous run is still going"/);
      await waitFor('the slow run to end', () => readEvents(events).some((e) => e.hook === 'tasks::run' && e.at === 'end'));
    } finally {
      await server.stop();
    }
  });

  it('ticks tasks::run on every host app, and drops an app without a tasks class silently', async () => {
    const events = join(tempDir(), 'events.ndjson');
    const server = await startServer({
      env: { WSGATE_TEST_EVENTS: events },
      config: {
        tick: { every: 0.2 },
        hosts: { 'a.test': APP, 'b.test': { app: APP, build: true }, 'n.test': join(FIXTURES, 'notasks.php'), 'off.test': { app: join(FIXTURES, 'notasks.php'), tick: false } },
      },
    });
    try {
      await waitFor('two ticks', () => readEvents(events).filter((e) => e.hook === 'tasks::run' && e.at === 'end').length >= 2 || undefined);
      await server.waitForLog(/tick dropped app=\S+notasks\.php reason="no tasks class"/);
      assert.ok(!server.logs.some((l) => /tick failed/.test(l)), 'no failure logged for the dropped app');
      const ticks = readEvents(events).filter((e) => e.hook === 'tasks::run' && e.at === 'start');
      const pids = new Set(ticks.map((e) => e.pid));
      assert.equal(pids.size, ticks.length, 'a.test and b.test share one app: it ticks once per interval, one-shot (a new process each time)');
    } finally {
      await server.stop();
    }
  });
});
