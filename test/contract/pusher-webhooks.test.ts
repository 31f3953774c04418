/**
 * Pusher webhooks from a real server, checked by the real `pusher` SDK's
 * webhook() as an app would check them: channel occupied and vacated,
 * member added and removed, client events and cache misses, each once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import { waitFor } from '../support/events.ts';
import { join } from 'node:path';
import { connect } from '../support/client.ts';
import { nextEvent, pusherClient, subscribed, webhookReceiver } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP = { id: 'hooked', key: 'hooked-key', secret: 'the-webhook-secret-0123456789' };

/** A server whose app posts its webhooks to an endpoint of the describe's own; stopped, with its clients, after it. */
function webhookServer() {
  const state = {} as { server: Started; endpoint: Awaited<ReturnType<typeof webhookReceiver>> };
  const clients: PusherJs[] = [];
  before(async () => {
    state.endpoint = await webhookReceiver(APP);
    const url = state.endpoint.url;
    state.server = await startServer({ config: { hosts: { '*': { module: 'builtin:demo' } }, pusher: { apps: [{ ...APP, clientEvents: true, webhooks: [{ url }] }] } } });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await state.server?.stop();
    state.endpoint?.close();
  });
  const seen = (name: string, channel: string) => state.endpoint.received.filter((event) => event.name === name && event.channel === channel);
  return { state, clients, seen };
}

// The three servers' cases run at once: most of their time is the 3 s hold of member_removed, spent waiting. The page
// reload has a server of its own: it undoes webhooks on purpose, and the first case counts that none was undone.
describe(`Pusher webhooks, to HTTP and to workers, on ${TARGET}`, { skip, concurrency: true }, () => {
describe(`Pusher webhooks on ${TARGET}`, { concurrency: 1 }, () => {
  const { state, clients, seen } = webhookServer();

  it('posts channel_occupied, member_added, client_event, member_removed and channel_vacated once each, signed', async () => {
    const ann = await pusherClient(APP, state.server.port, { user: { id: 'ann' } });
    const bob = await pusherClient(APP, state.server.port, { user: { id: 'bob' } });
    const bob2 = await pusherClient(APP, state.server.port, { user: { id: 'bob' } });
    clients.push(ann, bob, bob2);
    const room = await subscribed(ann, 'presence-hooks');
    await subscribed(bob, 'presence-hooks');
    await subscribed(bob2, 'presence-hooks');
    room.trigger('client-wave', { hi: 1 });
    await waitFor('the client event webhook', () => seen('client_event', 'presence-hooks').length === 1);
    const [clientEvent] = seen('client_event', 'presence-hooks');
    assert.deepEqual({ ...clientEvent }, { name: 'client_event', channel: 'presence-hooks', event: 'client-wave', data: '{"hi":1}', socket_id: ann.connection.socket_id, user_id: 'ann' });
    bob.disconnect();
    bob2.disconnect();
    await waitFor('bob removed', () => seen('member_removed', 'presence-hooks').length === 1);
    ann.disconnect();
    await waitFor('the channel vacated', () => seen('channel_vacated', 'presence-hooks').length === 1);
    assert.equal(seen('channel_occupied', 'presence-hooks').length, 1);
    assert.deepEqual(seen('member_added', 'presence-hooks').map((event) => event.user_id).sort(), ['ann', 'bob']);
    await waitFor('ann removed', () => seen('member_removed', 'presence-hooks').length === 2);
    // Bob's second connection leaving did not remove him twice.
    assert.deepEqual(seen('member_removed', 'presence-hooks').map((event) => event.user_id).sort(), ['ann', 'bob']);
    assert.deepEqual(state.endpoint.invalid, []);
    const metrics = await (await fetch(`http://127.0.0.1:${state.server.port}/metrics`)).text();
    const sent = Number(/^wsgate_pusher_webhook_events_total\{result="sent"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(sent >= state.endpoint.received.length, `the metrics count the ${state.endpoint.received.length} events received, got ${sent}`);
    assert.match(metrics, /^wsgate_pusher_connections\{app="hooked"\} \d+$/m);
    assert.match(metrics, /^wsgate_pusher_webhook_events_total\{result="cancelled"\} 0$/m, 'nothing undone: each event was out before the next came');
  });

  it('posts cache_miss when a cache channel has nothing yet', async () => {
    const c = await pusherClient(APP, state.server.port);
    clients.push(c);
    await subscribed(c, 'cache-prices');
    await waitFor('the cache miss', () => seen('cache_miss', 'cache-prices').length === 1);
    assert.equal(seen('channel_occupied', 'cache-prices').length, 1);
  });
});

describe(`Pusher webhooks of a page reload on ${TARGET}`, { concurrency: 1 }, () => {
  const { state, clients, seen } = webhookServer();

  it('posts neither member_removed nor member_added for a user back within 3 s (a page reload)', async () => {
    const dora = await pusherClient(APP, state.server.port, { user: { id: 'dora' } });
    const carl = await pusherClient(APP, state.server.port, { user: { id: 'carl' } });
    clients.push(dora, carl);
    const room = await subscribed(dora, 'presence-reload');
    await subscribed(carl, 'presence-reload');
    await waitFor('both added', () => seen('member_added', 'presence-reload').length === 2);
    const left = nextEvent<{ id: string }>(room, 'pusher:member_removed');
    carl.disconnect();
    assert.equal((await left).id, 'carl', 'the gateway saw carl leave');
    const back = await pusherClient(APP, state.server.port, { user: { id: 'carl' } });
    clients.push(back);
    await subscribed(back, 'presence-reload');
    const cancelled = async () => Number(/^wsgate_pusher_webhook_events_total\{result="cancelled"\} (\d+)$/m.exec(await (await fetch(`http://127.0.0.1:${state.server.port}/metrics`)).text())?.[1]);
    await waitFor('the removal and the addition cancelled', async () => (await cancelled()) === 2);
    // Both leave for good: their removals come after the hold, and carl was added once.
    dora.disconnect();
    back.disconnect();
    await waitFor('both removed', () => seen('member_removed', 'presence-reload').length === 2);
    assert.deepEqual(seen('member_added', 'presence-reload').map((event) => event.user_id).sort(), ['carl', 'dora']);
    assert.deepEqual(seen('member_removed', 'presence-reload').map((event) => event.user_id).sort(), ['carl', 'dora']);
    assert.equal(seen('channel_occupied', 'presence-reload').length, 1);
  });
});

describe(`Pusher webhooks to a resident PHP worker on ${TARGET}`, { concurrency: 1 }, () => {
  const WORKER_APP = { id: 'worker-app', key: 'worker-key', secret: 'the-worker-secret-0123456789' };
  let server: Started;
  const clients: PusherJs[] = [];
  before(async () => {
    server = await startServer({
      config: {
        hosts: { 'sdk.test': { hooks: join(FIXTURES, 'ws.php'), build: false } },
        pusher: { apps: [{ ...WORKER_APP, host: 'sdk.test', webhooks: [{ host: 'sdk.test', events: ['channel_occupied', 'channel_vacated'] }] }] },
      },
    });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
  });

  it('gives the batches to wsWebhook() on the host\'s workers, no HTTP in between, and retries one that threw', async () => {
    // wsWebhook() casts each batch to this socket.
    const watcher = await connect(server.port, { host: 'sdk.test', token: 'webhook-watcher' });
    const batches: Array<{ webhook: string; time_ms: number; events: Array<{ name: string; channel: string }> }> = [];
    const next = async () => {
      const batch = JSON.parse(await watcher.next(15_000)) as (typeof batches)[number];
      batches.push(batch);
      return batch;
    };
    const c = await pusherClient(WORKER_APP, server.port);
    clients.push(c);
    await subscribed(c, 'room');
    const first = await next();
    assert.equal(first.webhook, 'worker-app', 'the app\'s id');
    assert.ok(Math.abs(first.time_ms - Date.now()) < 60_000, 'time_ms is the batch\'s time');
    assert.deepEqual(first.events, [{ name: 'channel_occupied', channel: 'room' }]);
    c.unsubscribe('room');
    assert.deepEqual((await next()).events, [{ name: 'channel_vacated', channel: 'room' }]);

    // The first run for "flaky" throws: the batch comes again after the backoff, once.
    await subscribed(c, 'flaky');
    assert.deepEqual((await next()).events, [{ name: 'channel_occupied', channel: 'flaky' }]);
    await server.waitForLog(/webhook app=worker-app host=hook:sdk\.test result=retry .*reason=hook-failed/);
    await server.waitForLog(/ERROR hook failed host=sdk\.test hook=webhook .*flaky failed once on purpose/);
    // The worker casts the batch before its run ends: the run is counted once the queue has it as sent.
    await server.waitForLog(/webhook app=worker-app host=hook:sdk\.test result=sent events=1 attempts=2/);
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    assert.match(metrics, /^wsgate_hook_runs_total\{host="sdk.test",hook="webhook",mode="resident",result="ok"\} 3$/m);
    assert.match(metrics, /^wsgate_hook_runs_total\{host="sdk.test",hook="webhook",mode="resident",result="failed"\} 1$/m);
    // Nothing left for stop(): what a stop does with a batch still queued is shutdown-drain.test.ts's to show.
    c.unsubscribe('flaky');
    assert.deepEqual((await next()).events, [{ name: 'channel_vacated', channel: 'flaky' }]);
    watcher.ws.terminate();
  });
});
});
