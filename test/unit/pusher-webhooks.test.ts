// The webhook sender against a real HTTP server on 127.0.0.1, checked by
// the real `pusher` SDK. Time is a fake clock the tests fire by hand; the
// only real timer is the one test of an endpoint that never answers.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import Pusher from 'pusher';
import type { PusherApp, PusherWebhook } from '../../src/config/types.ts';
import { createLogger } from '../../src/ops/log.ts';
import { Webhooks, type WebhookEvent, type WebhookOptions, type WebhookWorker } from '../../src/protocols/pusher/webhooks.ts';
import type { HookOutcome } from '../../src/hooks/runners/runner.ts';

/** Timers that run only when a test fires them, in the order they were set. */
class FakeClock {
  time = 1_700_000_000_000;
  readonly timers: Array<{ ms: number; fn: () => void }> = [];
  #waiting: Array<() => void> = [];

  readonly schedule = (ms: number, fn: () => void) => {
    const timer = { ms, fn };
    this.timers.push(timer);
    for (const wake of this.#waiting.splice(0)) wake();
    return () => {
      const at = this.timers.indexOf(timer);
      if (at >= 0) this.timers.splice(at, 1);
    };
  };

  readonly now = () => this.time;

  /** Waits until a timer is set, then runs the oldest; returns its delay. */
  async fire(): Promise<number> {
    while (this.timers.length === 0) await new Promise<void>((wake) => this.#waiting.push(wake));
    const timer = this.timers.shift()!;
    this.time += timer.ms;
    timer.fn();
    return timer.ms;
  }
}

interface Arrival {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  response: ServerResponse;
  /** Resolves when the client goes away before an answer (an abort). */
  aborted: Promise<void>;
}

/** The endpoint: each request waits in line until the test reads it and answers. */
class Endpoint {
  readonly #server: Server;
  readonly #arrivals: Arrival[] = [];
  #waiting: Array<() => void> = [];
  open = 0;
  maxOpen = 0;
  total = 0;
  /** Answers a request at once with this status; undefined: the test answers. */
  answer: ((arrival: Arrival) => number | undefined) | undefined;

  constructor() {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.open++;
        this.total++;
        this.maxOpen = Math.max(this.maxOpen, this.open);
        response.on('close', () => this.open--);
        const aborted = new Promise<void>((resolve) => response.on('close', () => !response.writableFinished && resolve()));
        const arrival = { path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), response, aborted };
        const status = this.answer?.(arrival);
        if (status !== undefined) response.writeHead(status).end('ok');
        this.#arrivals.push(arrival);
        for (const wake of this.#waiting.splice(0)) wake();
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }
  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }
  reset(): void {
    this.#arrivals.length = 0;
    this.answer = undefined;
    this.total = this.maxOpen = 0;
  }
  async next(): Promise<Arrival> {
    while (this.#arrivals.length === 0) await new Promise<void>((wake) => this.#waiting.push(wake));
    return this.#arrivals.shift()!;
  }
  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** The log's lines, and a wait for one that matches. */
class Lines {
  readonly lines: string[] = [];
  #waiting: Array<() => void> = [];
  readonly logger = createLogger((line) => {
    this.lines.push(line);
    for (const wake of this.#waiting.splice(0)) wake();
  }, 'debug');
  matching(pattern: RegExp): string[] {
    return this.lines.filter((line) => pattern.test(line));
  }
  async waitFor(pattern: RegExp, count = 1): Promise<string[]> {
    while (this.matching(pattern).length < count) await new Promise<void>((wake) => this.#waiting.push(wake));
    return this.matching(pattern);
  }
}

const SECRET = 'a-secret-of-at-least-16-characters';

function pusherApp(webhooks: PusherWebhook[], secret = SECRET): PusherApp {
  return {
    id: '1001',
    key: 'app-key',
    secret,
    host: 'pusher:1001',
    sharesHost: false,
    clientEvents: true,
    clientEventsPerSecond: 10,
    activityTimeout: 120,
    limits: { channelName: 200, eventName: 200, payload: 10240, batch: 10, channels: 100, presenceMembers: 100, userInfo: 1024, subscriptions: 256 },
    webhooks,
  };
}

/** What the pusher SDK makes of a request: valid or not, and its events. */
function asPusherSees(arrival: Arrival, secret = SECRET): { valid: boolean; events: unknown[] } {
  const hook = new Pusher({ appId: '1001', key: 'app-key', secret, cluster: 'mt1' }).webhook({ headers: arrival.headers, rawBody: arrival.body });
  return { valid: hook.isValid(), events: hook.isBodyValid() ? hook.getEvents() : [] };
}

const endpoint = new Endpoint();
let clock: FakeClock;
let log: Lines;
const started: Webhooks[] = [];

function webhooks(app: PusherApp, options: Partial<WebhookOptions> = {}): Webhooks {
  const made = new Webhooks([app], { logger: log.logger, schedule: clock.schedule, now: clock.now, elapsed: clock.now, random: () => 0, ...options });
  started.push(made);
  return made;
}

before(() => endpoint.listen());
beforeEach(async () => {
  // Whatever a test left out is aborted before the next begins.
  for (const made of started.splice(0)) await made.stop(0);
  endpoint.reset();
  clock = new FakeClock();
  log = new Lines();
});
after(async () => {
  for (const made of started.splice(0)) await made.stop(0);
  await endpoint.close();
});

const occupied: WebhookEvent = { name: 'channel_occupied', channel: 'presence-room' };
const added: WebhookEvent = { name: 'member_added', channel: 'presence-room', user_id: '42' };

describe('Pusher webhooks: format', { timeout: 10_000 }, () => {
  it('sends one signed batch that the pusher SDK validates, with the events as emitted', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/pusher/webhook') }]);
    // Not held: the member removed goes in the same batch as the rest.
    const hooks = webhooks(app, { holdMs: 0 });
    // Of other channels and users than the occupied and added ones: an event that undoes one still waiting cancels it.
    const events: WebhookEvent[] = [
      occupied,
      added,
      { name: 'member_removed', channel: 'presence-room', user_id: '7' },
      { name: 'client_event', channel: 'presence-room', event: 'client-typing', data: '{"on":true}', socket_id: '123.456', user_id: '42' },
      { name: 'client_event', channel: 'private-room', event: 'client-typing', data: 'ünï "quoted"', socket_id: '123.457' },
      { name: 'cache_miss', channel: 'cache-prices' },
      { name: 'channel_vacated', channel: 'presence-lobby' },
    ];
    for (const event of events) hooks.emit(app, event);
    assert.equal(await clock.fire(), 50, 'the batch waits its delay');
    const arrival = await endpoint.next();

    assert.equal(arrival.path, '/pusher/webhook');
    assert.equal(arrival.headers['content-type'], 'application/json');
    assert.equal(arrival.headers['x-pusher-key'], 'app-key');
    assert.equal(arrival.headers['x-pusher-signature'], createHmac('sha256', SECRET).update(arrival.body).digest('hex'));
    assert.deepEqual(JSON.parse(arrival.body), { time_ms: clock.time, events });
    assert.deepEqual(asPusherSees(arrival), { valid: true, events });
    assert.equal(asPusherSees(arrival, 'another-secret-of-16-chars').valid, false, 'the SDK refuses another secret');

    await log.waitFor(/result=sent/);
    assert.deepEqual(hooks.stats(), { sent: events.length, failed: 0, dropped: 0, cancelled: 0, retries: 0, queued: 0, inFlight: 0 });
    assert.equal(endpoint.total, 1, 'one POST for the whole burst');
  });

  it('keeps only the fields of Pusher\'s format, whatever else the object carries', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, { ...occupied, socket: { secret: 'x' } } as WebhookEvent);
    await clock.fire();
    assert.deepEqual(JSON.parse((await endpoint.next()).body).events, [occupied]);
  });

  it('posts a full batch at once, without waiting for the delay', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { batchEvents: 3 });
    for (let i = 0; i < 7; i++) hooks.emit(app, { name: 'channel_occupied', channel: `c${i}` });
    const sizes = [(await endpoint.next()).body, (await endpoint.next()).body].map((body) => JSON.parse(body).events.length);
    assert.deepEqual(sizes, [3, 3]);
    assert.equal(clock.timers.length, 1, 'the seventh waits for the delay');
    await clock.fire();
    assert.equal(JSON.parse((await endpoint.next()).body).events[0].channel, 'c6');
  });

  it('sends each webhook only the events in its list', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/all') }, { url: endpoint.url('/members'), events: ['member_added', 'member_removed'] }, { url: endpoint.url('/none'), events: ['cache_miss'] }]);
    const hooks = webhooks(app);
    hooks.emit(app, occupied);
    hooks.emit(app, added);
    await clock.fire();
    await clock.fire();
    const got = new Map<string, unknown>();
    for (const arrival of [await endpoint.next(), await endpoint.next()]) got.set(arrival.path, asPusherSees(arrival).events);
    assert.deepEqual(Object.fromEntries(got), { '/all': [occupied, added], '/members': [added] });
    assert.equal(clock.timers.length, 0, 'the third webhook has nothing to send');
  });

  it('never throws from emit, and ignores an app it does not know', () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    assert.doesNotThrow(() => hooks.emit(app, { name: 'client_event', channel: 'private-a', event: 'client-x', data: 1n as unknown as string, socket_id: '1.2' }));
    assert.match(log.lines.join('\n'), /result=emit-error/);
    assert.doesNotThrow(() => hooks.emit({ ...app, id: 'other' }, occupied));
    assert.equal(hooks.stats().queued, 0);
  });
});

describe('Pusher webhooks: delivery', { timeout: 10_000 }, () => {
  it('retries a 500 after a jittered backoff and counts the batch once when it goes through', async () => {
    let calls = 0;
    endpoint.answer = () => (++calls === 1 ? 500 : 200);
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { random: () => 0.5 });
    hooks.emit(app, occupied);
    await clock.fire();
    const first = await endpoint.next();
    // 1000 ms for the first retry: half fixed, half random (0.5 here).
    assert.equal(await clock.fire(), 750);
    const second = await endpoint.next();
    assert.equal(second.body, first.body, 'the same batch, time_ms included');
    assert.equal(asPusherSees(second).valid, true);
    await log.waitFor(/result=sent/);
    assert.deepEqual(hooks.stats(), { sent: 1, failed: 0, dropped: 0, cancelled: 0, retries: 1, queued: 0, inFlight: 0 });
  });

  it('does not retry a 400', async () => {
    endpoint.answer = () => 400;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, occupied);
    hooks.emit(app, added);
    await clock.fire();
    const [line] = await log.waitFor(/result=refused/);
    assert.match(line!, /WARN .*app=1001 .*reason=status-400/);
    assert.equal(clock.timers.length, 0, 'no retry is set');
    assert.deepEqual(hooks.stats(), { sent: 0, failed: 2, dropped: 0, cancelled: 0, retries: 0, queued: 0, inFlight: 0 });
  });

  it('gives up after its attempts with one warn line naming the host only', async () => {
    endpoint.answer = () => 503;
    const app = pusherApp([{ url: `http://hook:pass@127.0.0.1:${endpoint.port}/hook?token=tok-123` }]);
    const hooks = webhooks(app, { maxAttempts: 3 });
    hooks.emit(app, occupied);
    await clock.fire();
    assert.equal((await endpoint.next()).headers.authorization, `Basic ${Buffer.from('hook:pass').toString('base64')}`, "the URL's credentials as Basic auth");
    assert.equal(await clock.fire(), 500, 'first retry: 1000 ms, jitter 0');
    await endpoint.next();
    assert.equal(await clock.fire(), 1000, 'second retry: 2000 ms, jitter 0');
    await endpoint.next();
    await log.waitFor(/result=gave-up/);
    assert.equal(endpoint.total, 3);
    assert.equal(clock.timers.length, 0);
    assert.deepEqual(hooks.stats(), { sent: 0, failed: 1, dropped: 0, cancelled: 0, retries: 2, queued: 0, inFlight: 0 });
    const warns = log.matching(/WARN/);
    assert.equal(warns.length, 1);
    assert.match(warns[0]!, new RegExp(`webhook app=1001 host=127.0.0.1:${endpoint.port} result=gave-up reason=status-503 events=1 attempts=3`));
    for (const secret of [SECRET, 'tok-123', 'pass', '/hook']) assert.ok(!log.lines.join('\n').includes(secret), `the log holds no ${secret}`);
  });

  it('retries when the endpoint cannot be reached', async () => {
    const closed = new Endpoint();
    await closed.listen();
    const url = closed.url('/');
    await closed.close();
    const app = pusherApp([{ url }]);
    const hooks = webhooks(app, { maxAttempts: 2 });
    hooks.emit(app, occupied);
    await clock.fire();
    await clock.fire();
    const [line] = await log.waitFor(/result=gave-up/);
    assert.match(line!, /reason=ECONNREFUSED/);
    assert.equal(hooks.stats().retries, 1);
  });

  it('honours a 429\'s Retry-After, within the longest backoff', async () => {
    let calls = 0;
    endpoint.answer = (arrival) => {
      if (++calls > 1) return 200;
      arrival.response.writeHead(429, { 'Retry-After': '7' }).end();
      return undefined;
    };
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, occupied);
    await clock.fire();
    await endpoint.next();
    assert.equal(await clock.fire(), 7000);
    await endpoint.next();
    await log.waitFor(/result=sent/);
    assert.equal(hooks.stats().sent, 1);
  });

  it('times out an endpoint that never answers', async () => {
    const app = pusherApp([{ url: endpoint.url('/slow') }]);
    const hooks = webhooks(app, { timeoutMs: 100, maxAttempts: 1 });
    hooks.emit(app, occupied);
    await clock.fire();
    const arrival = await endpoint.next();
    const [line] = await log.waitFor(/result=gave-up/);
    assert.match(line!, /reason=timeout/);
    await arrival.aborted;
    assert.deepEqual(hooks.stats(), { sent: 0, failed: 1, dropped: 0, cancelled: 0, retries: 0, queued: 0, inFlight: 0 });
  });

  it('has at most `concurrency` requests out per webhook', async () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { concurrency: 2, batchEvents: 1 });
    for (let i = 0; i < 5; i++) hooks.emit(app, { name: 'channel_occupied', channel: `c${i}` });
    assert.deepEqual({ inFlight: hooks.stats().inFlight, queued: hooks.stats().queued }, { inFlight: 2, queued: 5 });
    // Two are held unanswered; each answer lets the next one out.
    const held = [await endpoint.next(), await endpoint.next()];
    const seen: string[] = [];
    while (held.length > 0) {
      const arrival = held.shift()!;
      seen.push(JSON.parse(arrival.body).events[0].channel);
      assert.ok(hooks.stats().inFlight <= 2);
      arrival.response.writeHead(200).end();
      if (seen.length + held.length < 5) held.push(await endpoint.next());
    }
    await log.waitFor(/result=sent/, 5);
    assert.deepEqual(seen.sort(), ['c0', 'c1', 'c2', 'c3', 'c4']);
    assert.equal(endpoint.maxOpen, 2);
    assert.deepEqual(hooks.stats(), { sent: 5, failed: 0, dropped: 0, cancelled: 0, retries: 0, queued: 0, inFlight: 0 });
  });
});

describe('Pusher webhooks: bounds, reload and stop', { timeout: 10_000 }, () => {
  it('drops the oldest waiting events beyond the app\'s bound, counts them, and warns once per burst', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { maxQueuedEvents: 3 });
    for (let i = 0; i < 6; i++) hooks.emit(app, { name: 'channel_occupied', channel: `c${i}` });
    assert.deepEqual(hooks.stats(), { sent: 0, failed: 0, dropped: 3, cancelled: 0, retries: 0, queued: 3, inFlight: 0 });
    hooks.emit(app, { name: 'channel_occupied', channel: 'c6' });
    hooks.emit(app, { name: 'channel_occupied', channel: 'c7' });
    assert.equal(hooks.stats().dropped, 5);
    assert.equal(log.matching(/WARN .*result=queue-full/).length, 1, 'one line for the burst, not one per event');
    await clock.fire();
    assert.deepEqual(asPusherSees(await endpoint.next()).events.map((event) => (event as { channel: string }).channel), ['c5', 'c6', 'c7']);
    assert.equal(log.matching(/result=queue-full-ended/).length, 0);
    hooks.emit(app, occupied);
    assert.match(log.matching(/result=queue-full-ended/)[0] ?? '', /app=1001 result=queue-full-ended dropped=5/);
  });

  it('bounds the bytes waiting too', () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const one = JSON.stringify({ name: 'channel_occupied', channel: 'c0' }).length;
    const hooks = webhooks(app, { maxQueuedBytes: one * 2 + 1 });
    for (let i = 0; i < 4; i++) hooks.emit(app, { name: 'channel_occupied', channel: `c${i}` });
    assert.equal(hooks.stats().queued, 2);
    assert.equal(hooks.stats().dropped, 2);
  });

  it('takes from the webhook that is behind, not from the one that keeps up', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/quiet'), events: ['cache_miss'] }, { url: endpoint.url('/busy') }]);
    const hooks = webhooks(app, { maxQueuedEvents: 4 });
    hooks.emit(app, { name: 'cache_miss', channel: 'cache-a' });
    for (let i = 0; i < 4; i++) hooks.emit(app, { name: 'channel_occupied', channel: `c${i}` });
    assert.deepEqual({ queued: hooks.stats().queued, dropped: hooks.stats().dropped }, { queued: 4, dropped: 2 });
    await clock.fire();
    await clock.fire();
    const got = new Map<string, string[]>();
    for (const arrival of [await endpoint.next(), await endpoint.next()]) got.set(arrival.path, asPusherSees(arrival).events.map((event) => (event as { channel: string }).channel));
    // /quiet's one event is as old as /busy's first, but /busy holds the backlog.
    assert.deepEqual(Object.fromEntries(got), { '/busy': ['c1', 'c2', 'c3'], '/quiet': ['cache-a'] });
  });

  it('stop() sends what waits at once and resolves when it is answered', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, occupied);
    hooks.emit(app, added);
    await hooks.stop();
    assert.deepEqual(asPusherSees(await endpoint.next()).events, [occupied, added]);
    assert.equal(hooks.stats().sent, 2);
    assert.equal(clock.timers.length, 0, 'neither the batch delay nor the deadline is left');
    hooks.emit(app, occupied);
    assert.equal(hooks.stats().queued, 0, 'a stopped sender takes nothing');
  });

  it('stop() drops what is still out at its deadline, with one warn line', async () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, occupied);
    const stopped = hooks.stop(2000);
    const arrival = await endpoint.next();
    assert.equal(await clock.fire(), 2000);
    await stopped;
    await arrival.aborted;
    assert.deepEqual(hooks.stats(), { sent: 0, failed: 0, dropped: 1, cancelled: 0, retries: 0, queued: 0, inFlight: 0 });
    assert.equal(log.matching(/WARN .*result=stop-deadline dropped=1/).length, 1);
  });

  it('a reload keeps a webhook that stays (signing with the new secret) and drops a removed app\'s queue', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, occupied);
    const renewed = pusherApp([{ url: endpoint.url('/') }], 'a-new-secret-of-16-characters');
    hooks.configure([renewed]);
    assert.equal(hooks.stats().queued, 1, 'the waiting event stays');
    await clock.fire();
    const arrival = await endpoint.next();
    assert.equal(asPusherSees(arrival, 'a-new-secret-of-16-characters').valid, true);
    await log.waitFor(/result=sent/);

    hooks.emit(renewed, added);
    hooks.configure([]);
    assert.deepEqual(hooks.stats(), { sent: 1, failed: 0, dropped: 1, cancelled: 0, retries: 0, queued: 0, inFlight: 0 });
    assert.equal(clock.timers.length, 0, 'its batch timer went with it');
    assert.match(log.matching(/result=removed/)[0] ?? '', /app=1001 .*dropped=1/);
    hooks.emit(renewed, added);
    assert.equal(hooks.stats().queued, 0, 'a removed app\'s events are not taken');
  });
});

describe('Pusher webhooks: an event that undoes one still waiting', { timeout: 10_000 }, () => {
  const vacated: WebhookEvent = { name: 'channel_vacated', channel: 'presence-room' };
  const removed: WebhookEvent = { name: 'member_removed', channel: 'presence-room', user_id: '42' };
  const channelsOf = (arrival: Arrival) => asPusherSees(arrival).events.map((event) => (event as { channel: string; name: string }).name + ' ' + (event as { channel: string }).channel);

  it('cancels both, keeps the others in their order, and counts them', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, { name: 'channel_occupied', channel: 'c1' });
    hooks.emit(app, occupied);
    hooks.emit(app, added);
    hooks.emit(app, { name: 'channel_occupied', channel: 'c2' });
    hooks.emit(app, removed);
    hooks.emit(app, vacated);
    hooks.emit(app, { name: 'cache_miss', channel: 'cache-c3' });
    assert.deepEqual({ queued: hooks.stats().queued, cancelled: hooks.stats().cancelled }, { queued: 3, cancelled: 4 });
    await clock.fire();
    assert.deepEqual(channelsOf(await endpoint.next()), ['channel_occupied c1', 'channel_occupied c2', 'cache_miss cache-c3']);
    await log.waitFor(/result=sent/);
    assert.deepEqual(hooks.stats(), { sent: 3, failed: 0, dropped: 0, cancelled: 4, retries: 0, queued: 0, inFlight: 0 });
  });

  it('leaves nothing waiting, and no timer, when all that waited is undone', () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, added);
    assert.equal(clock.timers.length, 1);
    hooks.emit(app, removed);
    assert.equal(hooks.stats().queued, 0);
    assert.equal(clock.timers.length, 0, 'the batch timer went with the last event');
  });

  it('keeps the queue for other events when a page churns (subscribe, unsubscribe, over and over) and the endpoint is down', async () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { maxQueuedEvents: 50 });
    hooks.emit(app, { name: 'cache_miss', channel: 'cache-first' });
    await clock.fire();
    const stuck = await endpoint.next();
    hooks.emit(app, { name: 'cache_miss', channel: 'cache-second' });
    for (let i = 0; i < 5000; i++) {
      hooks.emit(app, occupied);
      hooks.emit(app, added);
      hooks.emit(app, removed);
      hooks.emit(app, vacated);
    }
    assert.deepEqual({ queued: hooks.stats().queued, dropped: hooks.stats().dropped }, { queued: 2, dropped: 0 }, 'the one out and the one waiting');
    stuck.response.writeHead(200).end();
    await clock.fire();
    assert.deepEqual(channelsOf(await endpoint.next()), ['cache_miss cache-second']);
  });

  it('undoes nothing of a channel while an event of it is out, nor after one was lost: the endpoint may not know the state before the pair', async () => {
    const room = (name: 'channel_occupied' | 'channel_vacated'): WebhookEvent => ({ name, channel: 'room' });
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { maxAttempts: 1 });
    hooks.emit(app, room('channel_occupied'));
    await clock.fire();
    const first = await endpoint.next();
    hooks.emit(app, room('channel_vacated'));
    hooks.emit(app, room('channel_occupied'));
    assert.deepEqual({ queued: hooks.stats().queued, cancelled: hooks.stats().cancelled }, { queued: 3, cancelled: 0 }, 'the one out may yet fail');
    first.response.writeHead(503).end();
    await log.waitFor(/result=gave-up/);
    await clock.fire();
    const second = await endpoint.next();
    assert.deepEqual(channelsOf(second), ['channel_vacated room', 'channel_occupied room'], 'the endpoint learns the channel is occupied after all');
    second.response.writeHead(200).end();
    await log.waitFor(/result=sent/);
    // Delivered: the endpoint knows again, and a pair is undone.
    hooks.emit(app, room('channel_vacated'));
    hooks.emit(app, room('channel_occupied'));
    assert.deepEqual({ queued: hooks.stats().queued, cancelled: hooks.stats().cancelled }, { queued: 0, cancelled: 2 });
  });

  it('undoes nothing of a member whose added was lost to a failed batch while it reloaded', async () => {
    // Not held, one batch at a time: the order of the test is the order of the batches.
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { maxAttempts: 1, holdMs: 0, concurrency: 1 });
    hooks.emit(app, added);
    await clock.fire();
    const first = await endpoint.next();
    hooks.emit(app, removed);
    hooks.emit(app, added);
    first.response.writeHead(503).end();
    await log.waitFor(/result=gave-up/);
    endpoint.answer = () => 200;
    await clock.fire();
    assert.deepEqual(asPusherSees(await endpoint.next()).events, [removed, added], 'user 42 is present, and the endpoint hears so');
    await log.waitFor(/result=sent/);
    assert.deepEqual(hooks.stats(), { sent: 2, failed: 1, dropped: 0, cancelled: 0, retries: 0, queued: 0, inFlight: 0 });
  });

  it('undoes nothing of a member whose added the queue\'s bound dropped', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { maxQueuedEvents: 2, holdMs: 0 });
    hooks.emit(app, added);
    hooks.emit(app, { name: 'cache_miss', channel: 'cache-a' });
    hooks.emit(app, { name: 'cache_miss', channel: 'cache-b' });
    assert.equal(hooks.stats().dropped, 1, 'the added went');
    hooks.emit(app, removed);
    hooks.emit(app, added);
    assert.equal(hooks.stats().cancelled, 0);
    await clock.fire();
    assert.deepEqual(asPusherSees(await endpoint.next()).events, [removed, added]);
  });

  it('undoes only what the same webhook takes: one that takes member_removed alone still gets it', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/all') }, { url: endpoint.url('/removed'), events: ['member_removed'] }]);
    const hooks = webhooks(app);
    hooks.emit(app, added);
    hooks.emit(app, removed);
    assert.equal(await clock.fire(), 3000, 'the member removed is held first');
    assert.equal(await clock.fire(), 50);
    const arrival = await endpoint.next();
    assert.deepEqual([arrival.path, channelsOf(arrival)], ['/removed', ['member_removed presence-room']]);
    await log.waitFor(/result=sent/);
    assert.deepEqual({ queued: hooks.stats().queued, posts: endpoint.total, cancelled: hooks.stats().cancelled }, { queued: 0, posts: 1, cancelled: 2 }, '/all had nothing left to send');
  });

  it('does not take a member of another channel, or another user, for the same one', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, added);
    hooks.emit(app, { name: 'member_removed', channel: 'presence-room', user_id: '43' });
    hooks.emit(app, { name: 'member_removed', channel: 'presence-other', user_id: '42' });
    hooks.emit(app, { name: 'channel_vacated', channel: 'presence-other' });
    assert.equal(hooks.stats().queued, 4);
  });
});

describe('Pusher webhooks: a member removed is held for the user to come back', { timeout: 10_000 }, () => {
  const removed: WebhookEvent = { name: 'member_removed', channel: 'presence-room', user_id: '42' };
  const vacated: WebhookEvent = { name: 'channel_vacated', channel: 'presence-room' };
  const names = (arrival: Arrival) => asPusherSees(arrival).events.map((event) => (event as { name: string }).name);
  /** The member's added is out, unanswered, when they leave and come back: the arrival whose answer holds the rest. */
  const churnWhileAddedIsOut = async (hooks: Webhooks, app: PusherApp): Promise<Arrival> => {
    hooks.emit(app, added);
    await clock.fire();
    const out = await endpoint.next();
    hooks.emit(app, removed);
    hooks.emit(app, added);
    return out;
  };
  /** The endpoint answers the batch that was out, and each one after it. */
  const answerFromNowOn = async (out: Arrival): Promise<void> => {
    out.response.writeHead(200).end();
    await log.waitFor(/result=sent/);
    endpoint.answer = () => 200;
  };

  it('sends neither event when the user is back within the hold (a page reload)', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, removed);
    assert.deepEqual(clock.timers.map((timer) => timer.ms), [3000]);
    clock.time += 2999;
    hooks.emit(app, added);
    assert.deepEqual(hooks.stats(), { sent: 0, failed: 0, dropped: 0, cancelled: 2, retries: 0, queued: 0, inFlight: 0 });
    assert.equal(clock.timers.length, 0, 'no timer is left for the held event');
  });

  it('sends it after the hold, behind what came meanwhile, with one timer for the events held together', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    const other: WebhookEvent = { name: 'member_removed', channel: 'presence-room', user_id: '43' };
    const notPresence: WebhookEvent = { name: 'channel_vacated', channel: 'room' };
    hooks.emit(app, notPresence);
    hooks.emit(app, removed);
    hooks.emit(app, other);
    assert.deepEqual(clock.timers.map((timer) => timer.ms), [50, 3000], 'a batch timer, and one hold timer for both');
    assert.equal(await clock.fire(), 50);
    assert.deepEqual(names(await endpoint.next()), ['channel_vacated']);
    assert.equal(await clock.fire(), 3000);
    const late: WebhookEvent = { name: 'member_removed', channel: 'presence-room', user_id: '44' };
    hooks.emit(app, late);
    assert.deepEqual(clock.timers.map((timer) => timer.ms), [50, 3000], 'the next held event has a timer of its own');
    assert.equal(await clock.fire(), 50);
    assert.deepEqual(asPusherSees(await endpoint.next()).events, [removed, other]);
    assert.equal(await clock.fire(), 3000);
    assert.equal(await clock.fire(), 50);
    assert.deepEqual(asPusherSees(await endpoint.next()).events, [late]);
    await log.waitFor(/result=sent/, 3);
    assert.equal(hooks.stats().sent, 4);
  });

  it('holds a presence channel vacated too, so the last member back within the hold is heard of by no event at all', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, removed);
    hooks.emit(app, vacated);
    hooks.emit(app, { name: 'channel_vacated', channel: 'room' });
    assert.deepEqual(clock.timers.map((timer) => timer.ms), [3000, 50], 'a plain channel vacated is not held');
    hooks.emit(app, occupied);
    hooks.emit(app, added);
    assert.deepEqual({ queued: hooks.stats().queued, cancelled: hooks.stats().cancelled }, { queued: 1, cancelled: 4 });
    assert.equal(await clock.fire(), 50);
    assert.deepEqual(names(await endpoint.next()), ['channel_vacated']);
  });

  it('holds for the time that passed, whatever the wall clock does (an NTP step back)', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    let wall = clock.time;
    const hooks = webhooks(app, { now: () => wall });
    hooks.emit(app, removed);
    wall -= 3_600_000;
    hooks.emit(app, { name: 'member_removed', channel: 'presence-room', user_id: '43' });
    assert.equal(await clock.fire(), 3000);
    assert.equal(await clock.fire(), 50, 'both released, not the second an hour later');
    assert.equal(asPusherSees(await endpoint.next()).events.length, 2);
  });

  it('holds what follows a held event of its key, so a member who reloads while their member_added is out ends present', async () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { concurrency: 1 });
    const first = await churnWhileAddedIsOut(hooks, app);
    assert.deepEqual({ timers: clock.timers.map((timer) => timer.ms), queued: hooks.stats().queued }, { timers: [3000], queued: 3 }, 'the added waits behind the held removed');
    await answerFromNowOn(first);
    assert.equal(await clock.fire(), 3000);
    assert.equal(await clock.fire(), 50);
    assert.deepEqual(asPusherSees(await endpoint.next()).events, [removed, added]);
  });

  it('keeps a member who churns while their member_added is out present: a pair undone behind a held event does not let the next event overtake it', async () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { concurrency: 1 });
    // While the added is out, the user leaves and comes back: both wait, held, behind the removed.
    await answerFromNowOn(await churnWhileAddedIsOut(hooks, app));
    // And once more, now that nothing is out: the new pair undoes the held added, then the first held removed.
    hooks.emit(app, removed);
    hooks.emit(app, added);
    hooks.emit(app, { name: 'cache_miss', channel: 'cache-marker' });
    hooks.flush();
    const events = asPusherSees(await endpoint.next()).events as Array<{ name: string }>;
    const last = events.filter((event) => event.name.startsWith('member_')).at(-1);
    assert.notEqual(last?.name, 'member_removed', `the user is in the channel, yet the endpoint was told ${JSON.stringify(events)}`);
  });

  it('does not undo a member who came back when the channel vacated and occupied again are sent: an app that clears members on vacated would lose them', async () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, occupied);
    await clock.fire();
    const first = await endpoint.next();
    // The member's added goes out in a batch of its own and is answered; the channel's occupied is still out.
    hooks.emit(app, added);
    await clock.fire();
    (await endpoint.next()).response.writeHead(200).end();
    await log.waitFor(/result=sent/);
    // The last member reloads: the channel's pair is sent (its occupied is out), the member's could be undone.
    hooks.emit(app, removed);
    hooks.emit(app, vacated);
    hooks.emit(app, occupied);
    hooks.emit(app, added);
    first.response.writeHead(200).end();
    await log.waitFor(/result=sent/, 2);
    endpoint.answer = () => 200;
    hooks.flush();
    const events = asPusherSees(await endpoint.next()).events as Array<{ name: string }>;
    const vacatedAt = events.findIndex((event) => event.name === 'channel_vacated');
    assert.ok(vacatedAt >= 0, 'the channel pair is sent');
    assert.ok(events.slice(vacatedAt).some((event) => event.name === 'member_added'), `the user is in the channel, yet after its vacated the endpoint was told ${JSON.stringify(events.slice(vacatedAt))}`);
  });

  it('stop() sends held events at once', async () => {
    endpoint.answer = () => 200;
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app);
    hooks.emit(app, removed);
    await hooks.stop();
    assert.deepEqual(asPusherSees(await endpoint.next()).events, [removed]);
    assert.deepEqual({ sent: hooks.stats().sent, timers: clock.timers.length }, { sent: 1, timers: 0 });
  });

  it('counts held events within the app\'s bound, dropped after the others; a reload that removes the app drops them', () => {
    const app = pusherApp([{ url: endpoint.url('/') }]);
    const hooks = webhooks(app, { maxQueuedEvents: 2 });
    hooks.emit(app, removed);
    hooks.emit(app, { name: 'channel_occupied', channel: 'c1' });
    hooks.emit(app, { name: 'channel_occupied', channel: 'c2' });
    assert.deepEqual({ queued: hooks.stats().queued, dropped: hooks.stats().dropped }, { queued: 2, dropped: 1 });
    hooks.emit(app, added);
    assert.equal(hooks.stats().cancelled, 2, 'the held member was still there to undo');
    hooks.emit(app, removed);
    hooks.configure([]);
    assert.deepEqual({ queued: hooks.stats().queued, dropped: hooks.stats().dropped }, { queued: 0, dropped: 3 });
    assert.equal(clock.timers.length, 0);
  });
});

describe('Pusher webhooks to a host\'s hook (WorkerTarget)', { timeout: 10_000 }, () => {
  type Call = { host: string; app: string; events: unknown[] };

  /** A worker that answers each run with the next outcome given, and records what it was given. */
  function worker(outcomes: Array<HookOutcome | undefined>) {
    const calls: Call[] = [];
    const run: WebhookWorker = (host, app, body) => {
      calls.push({ host, app, events: (JSON.parse(body) as { events: unknown[] }).events });
      const outcome = outcomes.shift();
      return outcome && Promise.resolve(outcome);
    };
    return { calls, run };
  }

  it('gives the batch to the host\'s hook as Pusher would post it, retries a busy or failed run, and counts it once', async () => {
    const { calls, run } = worker([{ ok: false, error: 'queue full', busy: true }, { ok: false, error: 'RuntimeException: db down' }, { ok: true, result: null }]);
    const app = pusherApp([{ host: 'app.test' }]);
    const hooks = webhooks(app, { worker: run });
    hooks.emit(app, occupied);
    hooks.emit(app, added);
    await clock.fire();
    assert.equal(await clock.fire(), 500, 'a busy worker is retried after the backoff');
    assert.equal(await clock.fire(), 1000, 'a hook that failed, too');
    await log.waitFor(/result=sent/);
    assert.equal(calls.length, 3);
    for (const call of calls) assert.deepEqual(call, { host: 'app.test', app: '1001', events: [occupied, added] });
    assert.deepEqual(hooks.stats(), { sent: 2, failed: 0, dropped: 0, cancelled: 0, retries: 2, queued: 0, inFlight: 0 }, 'its two events, once');
    assert.match(log.matching(/result=retry/)[0] ?? '', /host=hook:app\.test .*reason=busy/);
    assert.match(log.matching(/result=retry/)[1] ?? '', /reason=hook-failed/);
  });

  it('does not retry a host that is not configured (any more)', async () => {
    const { calls, run } = worker([undefined]);
    const app = pusherApp([{ host: 'gone.test' }]);
    const hooks = webhooks(app, { worker: run });
    hooks.emit(app, occupied);
    await clock.fire();
    const [line] = await log.waitFor(/result=refused/);
    assert.match(line!, /WARN .*host=hook:gone\.test .*reason=host-not-configured/);
    assert.equal(calls.length, 1);
    assert.equal(clock.timers.length, 0, 'no retry is set');
    assert.deepEqual(hooks.stats(), { sent: 0, failed: 1, dropped: 0, cancelled: 0, retries: 0, queued: 0, inFlight: 0 });
  });

  it('a reload keeps the queue of a webhook whose host stays, and a URL and a host on one app are two queues', async () => {
    const { calls, run } = worker([{ ok: true, result: null }]);
    endpoint.answer = () => 200;
    const app = pusherApp([{ host: 'app.test' }, { url: endpoint.url('/') }]);
    const hooks = webhooks(app, { worker: run });
    hooks.emit(app, occupied);
    assert.equal(hooks.stats().queued, 2, 'one event waits for each webhook');
    hooks.configure([pusherApp([{ host: 'app.test', events: ['channel_occupied'] }])]);
    assert.equal(hooks.stats().queued, 1, 'the host\'s stays, the URL\'s is dropped');
    await clock.fire();
    await log.waitFor(/result=sent/);
    assert.deepEqual(calls.map((call) => call.events), [[occupied]]);
  });
});
