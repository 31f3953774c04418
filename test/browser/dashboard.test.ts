/**
 * /dashboard in a real headless Chromium: it shows the sockets the test
 * opened (per host and in all), the resident pool, and a live feed with the
 * connects and a hook failure as they happen. The gateway runs with a config
 * of two hosts (WSGATE_TARGET: from source on Node, or the binary).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { APP, targetAvailable, startServer } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STEP_TIMEOUT = 20_000;
const skip = existsSync(CHROMIUM) ? (targetAvailable() ?? false) : `${CHROMIUM} not found (install Debian's chromium package to run browser tests)`;

describe('the dashboard in Chromium', { skip, timeout: 120_000 }, () => {
  let server: Started;
  let browser: Browser;
  let page: Page;
  const clients: Client[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    server = await startServer({ config: { hosts: { 'one.test': { app: APP, build: false }, 'two.test': { app: APP, build: true } } } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT });
    page = await browser.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT);
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  /** Waits until an element's whole text matches. */
  const shows = async (selector: string, text: RegExp, what: string) => {
    try {
      await page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout: STEP_TIMEOUT });
    } catch (error) {
      const seen = await page.locator(selector).allTextContents().catch(() => []);
      throw new Error(`${what}: ${selector} shows ${JSON.stringify(seen)}`, { cause: error });
    }
  };

  it('shows the sockets the test opened, the pool, and a live feed', async () => {
    const response = await page.goto(`${server.url}/dashboard`);
    assert.equal(response?.status(), 200);
    await shows('#state', /^live$/, 'the page polls its data');
    await shows('#sockets', /^0$/, 'no sockets yet');

    for (let i = 0; i < 3; i++) clients.push(await connect(server.port, { host: 'one.test', token: `u${i % 2}` }));
    clients.push(await connect(server.port, { host: 'two.test', token: 'solo' }));
    await shows('#sockets', /^4$/, 'four sockets in all');
    await shows('#hosts tr', /^one\.test\s*3\s*2$/, 'one.test: 3 sockets, 2 tokens');
    await shows('#hosts tr', /^two\.test\s*1\s*1$/, 'two.test: 1 socket');
    await shows('#pools tr', /app\.php\s*[1-9]/, 'the resident app with a worker');
    await shows('#nodes tr', /this node$/, 'this node');
    assert.equal(await page.locator('#feed li.connect').count(), 4, 'one connect line per socket');

    clients[0]!.send('{"cmd":"fail"}');
    await shows('#feed li.hook-failed', /hook failed\s+one\.test\s+\w+\s+receive:/, 'the hook failure in the feed');
    clients[3]!.ws.close(1000);
    await shows('#feed li.disconnect', /disconnect\s+two\.test\s+\w+\s+code 1000/, 'the disconnect in the feed');
    await shows('#sockets', /^3$/, 'three sockets left');
    assert.deepEqual(pageErrors, []);
  });

  it('keeps every header of the pool table on one line at a normal window width', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await shows('#pools tr', /app\.php\s*[1-9]/, 'the resident app with a worker');
    // One client rect per line box: a header wrapped letter by letter ("wor kers") has two.
    const lines = await page.$$eval('#pools', ([body]) =>
      [...body!.closest('table')!.querySelectorAll('th')].map((th) => {
        const range = document.createRange();
        range.selectNodeContents(th);
        return { text: th.textContent, lines: range.getClientRects().length };
      }),
    );
    assert.equal(lines.length, 7);
    for (const { text, lines: count } of lines) assert.equal(count, 1, `header "${text}" takes ${count} lines`);
  });

  it('asks a browser elsewhere for the secret, and serves the data only to the trusted', async () => {
    const res = await fetch(`${server.url}/dashboard/data`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="wsgate"/);
    const data = (await (await fetch(`${server.url}/dashboard/data`)).json()) as { sockets: number; events: Array<{ seq: number }> };
    assert.equal(data.sockets, 3);
    const last = data.events.at(-1)!.seq;
    const later = (await (await fetch(`${server.url}/dashboard/data?after=${last}`)).json()) as { events: unknown[] };
    assert.deepEqual(later.events, [], 'only events after the one given');
  });

  it('sends its feed id back with the cursor, and replaces its feed when another process answers', async () => {
    const real = (await (await fetch(`${server.url}/dashboard/data`)).json()) as { feed: string; events: Array<{ seq: number }> };
    const last = real.events.at(-1)!.seq;
    const read = async (query: string) => ((await (await fetch(`${server.url}/dashboard/data?${query}`)).json()) as { events: unknown[] }).events;
    assert.deepEqual(await read(`feed=${real.feed}&after=${last}`), [], 'its own cursor');
    assert.deepEqual(await read(`feed=elsewhere&after=${last}`), real.events, "another process's cursor: all it holds");

    // A stand-in for another node (or this one restarted), whose numbers run their own way: seq 1 here is no event the page has.
    const events = [{ seq: 1, at: Date.now(), kind: 'connect', host: 'elsewhere.test', socket: 'feedfeedfeedfeed' }];
    const asked: URLSearchParams[] = [];
    await page.route('**/dashboard/data?*', (route) => {
      const query = new URL(route.request().url()).searchParams;
      asked.push(query);
      const own = query.get('feed') === 'another-process';
      return route.fulfill({ json: { ...real, feed: 'another-process', events: own ? events.filter((e) => e.seq > Number(query.get('after'))) : events } });
    });
    await shows('#feed li', /elsewhere\.test/, "the other process's event");
    assert.equal(await page.locator('#feed li').count(), 1, 'in place of the feed shown before, not added to it');
    assert.equal(asked[0]!.get('feed'), real.feed, 'the first poll sent back the id of the feed it had');
    await page.unroute('**/dashboard/data?*');

    // Back on the gateway, with the stand-in's cursor: it answers with all it holds, which again replaces the feed.
    await page.locator('#feed li', { hasText: 'elsewhere.test' }).waitFor({ state: 'detached' });
    const now = (await (await fetch(`${server.url}/dashboard/data`)).json()) as { events: unknown[] };
    assert.equal(await page.locator('#feed li').count(), now.events.length, 'each event once');
    assert.deepEqual(pageErrors, []);
  });
});
