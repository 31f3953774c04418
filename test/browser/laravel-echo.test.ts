/**
 * Laravel Echo and pusher-js, the real ones from npm, in a real headless
 * Chromium against the gateway (WSGATE_TARGET: from source or the binary).
 * The pages come from a small server of the test's own, on another port (so
 * the page's Origin is another site's), whose /broadcasting/auth signs the
 * way Laravel's does, with the `pusher` SDK; events come from the SDK too.
 *
 * Covers public, private and presence channels (here, joining, leaving),
 * whisper and listenForWhisper, the user channel (signin, sendToUser), and
 * pusher-js coming back by itself after the gateway restarts on its port.
 * Skipped when /usr/bin/chromium is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { serverSdk } from '../support/pusher.ts';
import { ROOT, TARGET, cwdFor, targetAvailable, tempDir, wsgateCommand } from '../support/server.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STEP_TIMEOUT = 20_000;
const skip = existsSync(CHROMIUM) ? (targetAvailable() ?? false) : `${CHROMIUM} not found (install Debian's chromium package to run browser tests)`;
const APP = { id: 'echo', key: 'echo-key', secret: 'the-echo-app-secret-0123456789' };

interface Gateway {
  port: number;
  stop(): Promise<void>;
}

/** `wsgate serve` with the test's config (none: the built-in default) on `port` (0: any), once it says it listens. */
async function startGateway(config: string | undefined, port = 0): Promise<Gateway> {
  const [command, ...args] = wsgateCommand(['serve', '--port', String(port), ...(config ? ['--config', config] : []), '--log-level', 'info']);
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const name of ['WSGATE_CONFIG', 'WSGATE_PUSHER_APP_ID', 'WSGATE_PUSHER_APP_KEY', 'WSGATE_PUSHER_APP_SECRET']) delete env[name];
  const child = spawn(command!, args, { cwd: cwdFor(TARGET), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), STEP_TIMEOUT);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /\bINFO\s+listening url=(http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    void exited.then(() => reject(new Error(`gateway exited before listening:\n${output}`)));
  });
  return {
    port: Number(new URL(url).port),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The page and Laravel's auth endpoints: the user is the one the page says it is (X-User), as a session would. */
function pageServer(gatewayPort: () => number): Server {
  const pusherJs = readFileSync(join(ROOT, 'node_modules/pusher-js/dist/web/pusher.min.js'));
  const echoJs = readFileSync(join(ROOT, 'node_modules/laravel-echo/dist/echo.iife.js'));
  return createServer((request, response) => {
    const url = new URL(request.url!, 'http://page');
    if (url.pathname === '/pusher.js' || url.pathname === '/echo.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      return response.end(url.pathname === '/pusher.js' ? pusherJs : echoJs);
    }
    if (url.pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html' });
      return response.end(`<!doctype html><meta charset="utf-8"><title>echo</title>
<script src="/pusher.js"></script><script src="/echo.js"></script>
<script>
  window.seen = [];
  window.user = ${JSON.stringify(url.searchParams.get('user') ?? 'guest')};
  const options = { key: ${JSON.stringify(APP.key)}, wsHost: '127.0.0.1', wsPort: ${gatewayPort()}, forceTLS: false, enabledTransports: ['ws'], disableStats: true, cluster: 'mt1' };
  window.echo = new Echo.default({ broadcaster: 'pusher', ...options, auth: { headers: { 'X-User': window.user } } });
  window.direct = () => new Pusher(options.key, { ...options, userAuthentication: { endpoint: '/broadcasting/user-auth', transport: 'ajax', headers: { 'X-User': window.user } } });
</script>`);
    }
    if (request.method === 'POST' && (url.pathname === '/broadcasting/auth' || url.pathname === '/broadcasting/user-auth')) {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const form = new URLSearchParams(body);
        const user = String(request.headers['x-user'] ?? 'guest');
        const sdk = serverSdk(APP, gatewayPort());
        const socketId = form.get('socket_id')!;
        const channel = form.get('channel_name') ?? '';
        const answer =
          url.pathname === '/broadcasting/user-auth'
            ? sdk.authenticateUser(socketId, { id: user })
            : channel.startsWith('presence-')
              ? sdk.authorizeChannel(socketId, channel, { user_id: user, user_info: { name: user } })
              : sdk.authorizeChannel(socketId, channel);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer));
      });
      return;
    }
    response.writeHead(404).end();
  });
}

describe(`Laravel Echo and pusher-js in Chromium on ${TARGET}`, { skip, timeout: 180_000 }, () => {
  let browser: Browser;
  let gateway: Gateway;
  let pages: Server;
  let pagesUrl: string;
  let config: string;
  const errors: string[] = [];

  before(async () => {
    config = join(tempDir(), 'wsgate.json');
    writeFileSync(config, JSON.stringify({ hosts: { '*': { module: 'builtin:demo' } }, pusher: { apps: [{ ...APP, clientEvents: true }] } }));
    gateway = await startGateway(config);
    pages = pageServer(() => gateway.port);
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagesUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT });
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await gateway?.stop().catch(() => {});
    pages?.close();
    assert.deepEqual(errors, [], 'no page threw');
  });

  /** A page of `user`, in a browser context of its own. */
  const open = async (user: string): Promise<Page> => {
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(`${user}: ${error.message}`));
    await page.goto(`${pagesUrl}/?user=${user}`);
    await page.waitForFunction(() => (window as unknown as { echo: { connector: { pusher: { connection: { state: string } } } } }).echo.connector.pusher.connection.state === 'connected');
    return page;
  };
  /** Waits until the page's `seen` list has an entry whose JSON matches. */
  const saw = (page: Page, pattern: RegExp) =>
    page.waitForFunction((source) => (window as unknown as { seen: unknown[] }).seen.some((entry) => new RegExp(source).test(JSON.stringify(entry))), pattern.source, { timeout: STEP_TIMEOUT });
  const seenOf = (page: Page) => page.evaluate(() => (window as unknown as { seen: unknown[] }).seen);
  const sdk = () => serverSdk(APP, gateway.port);

  it('listens on public and private channels to what the SDK triggers', async () => {
    const page = await open('ann');
    await page.evaluate(() => {
      const w = window as unknown as { echo: any; seen: unknown[] };
      w.echo.channel('news').subscribed(() => w.seen.push(['subscribed', 'news'])).listen('.headline', (e: unknown) => w.seen.push(['headline', e]));
      w.echo.private('orders').subscribed(() => w.seen.push(['subscribed', 'orders'])).listen('.OrderShipped', (e: unknown) => w.seen.push(['shipped', e]));
    });
    await saw(page, /"subscribed","news"/);
    await saw(page, /"subscribed","orders"/);
    await sdk().trigger('news', 'headline', { title: 'hello' });
    await sdk().trigger('private-orders', 'OrderShipped', { id: 7 });
    await saw(page, /"headline",\{"title":"hello"\}/);
    await saw(page, /"shipped",\{"id":7\}/);
    await page.context().close();
  });

  it('joins a presence channel: here, joining and leaving across two users', async () => {
    const ann = await open('ann');
    const join = (page: Page) =>
      page.evaluate(() => {
        const w = window as unknown as { echo: any; seen: unknown[] };
        w.echo
          .join('room')
          .here((users: Array<{ name: string }>) => w.seen.push(['here', users.map((u) => u.name).sort()]))
          .joining((user: { name: string }) => w.seen.push(['joining', user.name]))
          .leaving((user: { name: string }) => w.seen.push(['leaving', user.name]));
      });
    await join(ann);
    await saw(ann, /"here",\["ann"\]/);
    const bob = await open('bob');
    await join(bob);
    await saw(bob, /"here",\["ann","bob"\]/);
    await saw(ann, /"joining","bob"/);
    await bob.context().close();
    await saw(ann, /"leaving","bob"/);
    await ann.context().close();
  });

  it('whispers to the others on a private channel, and not to the whisperer', async () => {
    const ann = await open('ann');
    const bob = await open('bob');
    for (const page of [ann, bob]) {
      await page.evaluate(() => {
        const w = window as unknown as { echo: any; seen: unknown[] };
        w.echo.private('chat').subscribed(() => w.seen.push(['subscribed'])).listenForWhisper('typing', (e: unknown) => w.seen.push(['typing', e]));
      });
      await saw(page, /"subscribed"/);
    }
    await ann.evaluate(() => (window as unknown as { echo: any }).echo.private('chat').whisper('typing', { name: 'ann' }));
    await saw(bob, /"typing",\{"name":"ann"\}/);
    // Bob answers; once Ann has his whisper, hers would have come back to her before it, had it been echoed.
    await bob.evaluate(() => (window as unknown as { echo: any }).echo.private('chat').whisper('typing', { name: 'bob' }));
    await saw(ann, /"typing",\{"name":"bob"\}/);
    assert.deepEqual((await seenOf(ann)).filter((entry) => JSON.stringify(entry).includes('"name":"ann"')), []);
    await ann.context().close();
    await bob.context().close();
  });

  it('signs a user in and reaches only that page with sendToUser', async () => {
    const ann = await open('ann');
    const bob = await open('bob');
    for (const page of [ann, bob]) {
      await page.evaluate(() => {
        const w = window as unknown as { direct(): any; seen: unknown[]; pusher: any };
        const pusher = (w.pusher = w.direct());
        pusher.signin();
        pusher.user.bind('pusher:signin_success', () => w.seen.push(['signed in']));
        pusher.user.bind('notice', (e: unknown) => w.seen.push(['notice', e]));
        pusher.connection.bind('connected', () => w.seen.push(['connected']));
      });
      await saw(page, /"connected"/);
    }
    // pusher-js subscribes to the user's channel once it has its sign-in: both pages are there before the sends.
    for (const page of [ann, bob]) await page.waitForFunction(() => (window as unknown as { pusher: any }).pusher.user.serverToUserChannel?.subscribed === true);
    await sdk().sendToUser('ann', 'notice', { text: 'for ann' });
    await sdk().sendToUser('bob', 'notice', { text: 'for bob' });
    await saw(ann, /"notice",\{"text":"for ann"\}/);
    await saw(bob, /"notice",\{"text":"for bob"\}/);
    assert.equal((await seenOf(ann)).filter((entry) => JSON.stringify(entry).includes('for bob')).length, 0);
    await ann.context().close();
    await bob.context().close();
  });

  it('comes back by itself after the gateway restarts on its port, and hears later events', async () => {
    const page = await open('ann');
    await page.evaluate(() => {
      const w = window as unknown as { echo: any; seen: unknown[] };
      w.echo.connector.pusher.connection.bind('state_change', (s: { current: string }) => w.seen.push(['state', s.current]));
      w.echo.channel('news').subscribed(() => w.seen.push(['subscribed', w.seen.length])).listen('.after', (e: unknown) => w.seen.push(['after', e]));
    });
    await saw(page, /"subscribed"/);
    const port = gateway.port;
    await gateway.stop();
    await saw(page, /"state","(connecting|unavailable)"/);
    gateway = await startGateway(config, port);
    await page.waitForFunction(() => (window as unknown as { seen: unknown[][] }).seen.filter((entry) => entry[0] === 'subscribed').length === 2, undefined, { timeout: 60_000 });
    await sdk().trigger('news', 'after', { n: 1 });
    await saw(page, /"after",\{"n":1\}/);
    await page.context().close();
  });
});

describe(`the built-in Pusher demo in Chromium on ${TARGET}`, { skip, timeout: 120_000 }, () => {
  let browser: Browser;
  let gateway: Gateway;
  const errors: string[] = [];
  before(async () => {
    gateway = await startGateway(undefined);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT });
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await gateway?.stop().catch(() => {});
    assert.deepEqual(errors, [], 'no page threw');
  });

  const open = async (name: string) => {
    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(`${name}: ${error.message}`));
    await page.goto(`http://127.0.0.1:${gateway.port}/pusher`);
    await page.waitForFunction(() => (window as unknown as { demo?: { channel: { subscribed: boolean } } }).demo?.channel.subscribed === true);
    return page;
  };

  it('shows who is online, and one page\'s typing and message on the other', async () => {
    const ann = await open('ann');
    const bob = await open('bob');
    const bobName = await bob.evaluate(() => (window as unknown as { demo: { me: string } }).demo.me);
    await ann.locator('#online li', { hasText: bobName }).waitFor();
    await bob.locator('#text').pressSequentially('hello');
    await ann.locator('#typing', { hasText: `${bobName} is typing` }).waitFor();
    await bob.locator('#send button').click();
    await ann.locator('#log li', { hasText: `${bobName}: hello` }).waitFor();
    // The sender shows its own line once (client events are not echoed).
    assert.equal(await bob.locator('#log li', { hasText: `${bobName}: hello` }).count(), 1);
  });

  it('signs only for its own pages: another origin gets 403, and the secret is in no answer', async () => {
    const refused = await fetch(`http://127.0.0.1:${gateway.port}/pusher/auth`, { method: 'POST', headers: { origin: 'http://evil.test', 'content-type': 'application/x-www-form-urlencoded' }, body: 'socket_id=1.2&channel_name=presence-demo' });
    assert.equal(refused.status, 403);
    const ok = await fetch(`http://127.0.0.1:${gateway.port}/pusher/auth`, { method: 'POST', headers: { origin: `http://127.0.0.1:${gateway.port}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'socket_id=1.2&channel_name=presence-demo&name=ann' });
    const answer = (await ok.json()) as { auth: string; channel_data: string };
    assert.match(answer.auth, /^wsgate-demo:[0-9a-f]{64}$/);
    assert.deepEqual(JSON.parse(answer.channel_data), { user_id: 'ann', user_info: { name: 'ann' } });
    const page = await (await fetch(`http://127.0.0.1:${gateway.port}/pusher`)).text();
    assert.ok(!/[0-9a-f]{64}/.test(page), 'no secret-like value in the page');
  });
});
