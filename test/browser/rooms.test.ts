/**
 * The browser client wsgate.js in a real headless Chromium (Debian's
 * chromium through playwright-core), on the built-in demo rooms: the gateway
 * runs with no config, as the README's first command starts it, from source
 * on Node or as the binary (WSGATE_TARGET).
 *
 * - two pages in one room chat, and each lists both as online;
 * - the server drops one page's socket (POST /disconnect) while casts to the
 *   room go on: the page shows every message once, in order;
 * - the server restarts while casts go on: the same.
 *
 * Skipped when /usr/bin/chromium is missing. Screenshots of failures go to a
 * temp dir named in the output (kept always with WSGATE_KEEP_SCREENSHOTS=1).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { TARGET, cwdFor, targetAvailable, wsgateCommand } from '../support/server.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Upper bound for every single wait (server start, page load, a message arriving). */
const STEP_TIMEOUT = 20_000;
const skip = existsSync(CHROMIUM) ? (targetAvailable() ?? false) : `${CHROMIUM} not found (install Debian's chromium package to run browser tests)`;

interface Gateway {
  url: string;
  port: number;
  output: () => string;
  /** SIGTERM, and the exit code. */
  stop: () => Promise<number | null>;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `wsgate serve` (WSGATE_TARGET: from source or the binary) with no config, the built-in demo; resolves once it logs its URL. */
async function startGateway(port = 0): Promise<Gateway> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.WSGATE_CONFIG;
  delete env.WSGATE_LOG_LEVEL;
  const [command, ...args] = wsgateCommand(['serve', '--port', String(port), '--log-level', 'info']);
  const child = spawn(command!, args, { cwd: cwdFor(TARGET), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /\bINFO\s+listening url=(http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    void exited.then((code) => reject(new Error(`gateway exited (${code}) before listening:\n${output}`)));
  });
  const url = await within(listening, STEP_TIMEOUT, 'gateway start').catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    url,
    port: Number(new URL(url).port),
    output: () => output,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return within(exited, STEP_TIMEOUT, 'gateway exit');
    },
  };
}

/** Waits until the page's chat log has a line matching; fails with what it shows instead. */
async function waitForLine(page: Page, text: RegExp | string, what: string): Promise<void> {
  try {
    await page.locator('#log li').filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  } catch (error) {
    const seen = await page.locator('#log li').allTextContents().catch(() => ['<page not readable>']);
    throw new Error(`${what}: not seen within ${STEP_TIMEOUT} ms; the log shows ${JSON.stringify(seen)}`, { cause: error });
  }
}

const botLines = async (page: Page) => (await page.locator('#log li').allTextContents()).filter((line) => line.startsWith('bot: '));

describe(`wsgate.js in Chromium: demo rooms on ${TARGET}`, { skip, timeout: 180_000 }, () => {
  let browser: Browser;
  let gateway: Gateway;
  let shots: string;
  const pageErrors: string[] = [];

  before(async () => {
    shots = await mkdtemp(join(tmpdir(), 'wsgate-rooms-'));
    gateway = await startGateway();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT });
  });
  after(async () => {
    await browser?.close().catch(() => {});
    await gateway?.stop().catch(() => {});
  });

  /** A page in a room, in a context of its own (its own token cookie). */
  const openPage = async (room: string, name: string) => {
    const context = await browser.newContext({ viewport: { width: 900, height: 650 } });
    context.setDefaultTimeout(STEP_TIMEOUT);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
    const response = await page.goto(`${gateway.url}/rooms/${room}`, { waitUntil: 'domcontentloaded' });
    assert.equal(response?.status(), 200, `${name}: GET /rooms/${room}`);
    await page.locator('#status').filter({ hasText: /^connected as guest-\w+$/ }).waitFor({ timeout: STEP_TIMEOUT });
    const token = (await context.cookies(gateway.url)).find((c) => c.name === 'token')?.value;
    assert.ok(token, `${name} has a token cookie`);
    return { page, token, name: /connected as (\S+)/.exec((await page.locator('#status').textContent()) ?? '')![1]! };
  };

  /** Casts chat lines from "bot" to a room through the bridge; retries while the gateway is down. */
  const castLines = async (room: string, from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      for (;;) {
        const ok = await fetch(`${gateway.url}/message`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ host: '127.0.0.1', target: `channel:room:${room}`, data: { type: 'chat', from: 'bot', socket: 'bot', text: `m${i}` } }),
        }).then((res) => res.ok, () => false);
        if (ok) break;
        await new Promise((resolve) => setTimeout(resolve, 50)); // retry pacing while the gateway is down, not synchronisation
      }
    }
  };
  const expected = (n: number) => Array.from({ length: n }, (_, i) => `bot: m${i + 1}`);

  const shoot = async (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), timeout: 5_000 }).catch(() => {});

  it('two pages in one room chat, and each lists both as online', async () => {
    const room = `r${randomUUID().slice(0, 8)}`;
    const alice = await openPage(room, 'alice');
    const bob = await openPage(room, 'bob');
    assert.notEqual(alice.token, bob.token);
    await waitForLine(alice.page, `${bob.name} joined`, 'alice sees bob join');
    for (const [who, other] of [[alice, bob], [bob, alice]] as const) {
      await who.page.locator('#online li').filter({ hasText: new RegExp(`^${other.name}$`) }).waitFor({ timeout: STEP_TIMEOUT });
      await who.page.locator('#online li').filter({ hasText: new RegExp(`^${who.name} \\(you\\)$`) }).waitFor({ timeout: STEP_TIMEOUT });
    }
    const text = `hello ${randomUUID()}`;
    await alice.page.locator('#text').fill(text);
    await alice.page.locator('#send button').click();
    await waitForLine(bob.page, `${alice.name}: ${text}`, 'bob gets the message');
    await waitForLine(alice.page, `${alice.name} (you): ${text}`, 'alice sees her own message');
    assert.equal(await bob.page.locator('#log li').filter({ hasText: text }).count(), 1);
    assert.equal(await alice.page.locator('#text').inputValue(), '', 'input cleared after sending');
    await shoot(bob.page, 'chat');
    assert.deepEqual(pageErrors, []);
  });

  it('a page whose socket the server drops shows every message once, in order', async () => {
    const room = `r${randomUUID().slice(0, 8)}`;
    const stays = await openPage(room, 'stays');
    const dropped = await openPage(room, 'dropped');
    await castLines(room, 1, 20);
    await waitForLine(dropped.page, /^bot: m20$/, 'before the drop');
    const res = await fetch(`${gateway.url}/disconnect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: '127.0.0.1', target: `token:${dropped.token}`, code: 1012 }) });
    assert.deepEqual(((await res.json()) as { closed: number }).closed, 1);
    // Casts go on while it is away and while it comes back.
    await castLines(room, 21, 60);
    await waitForLine(dropped.page, /^bot: m60$/, 'after the drop');
    await waitForLine(stays.page, /^bot: m60$/, 'the page that stayed');
    assert.deepEqual(await botLines(dropped.page), expected(60), 'the dropped page: each message once, in order');
    assert.deepEqual(await botLines(stays.page), expected(60));
    assert.match(gateway.output(), / recovered host=127\.0\.0\.1 .*channel=room:/);
    await shoot(dropped.page, 'after-drop');
    assert.deepEqual(pageErrors, []);
  });

  it('a page shows every message once, in order, across a restart of the server', async () => {
    const room = `r${randomUUID().slice(0, 8)}`;
    const watcher = await openPage(room, 'watcher');
    await castLines(room, 1, 15);
    await waitForLine(watcher.page, /^bot: m15$/, 'before the restart');
    const code = await gateway.stop();
    assert.equal(code, 0, `graceful stop:\n${gateway.output()}`);
    await watcher.page.locator('#status').filter({ hasText: /disconnected/ }).waitFor({ timeout: STEP_TIMEOUT });
    gateway = await startGateway(gateway.port);
    // The first of these may land before the page is back: the new epoch's history gives them to it.
    await castLines(room, 16, 40);
    await waitForLine(watcher.page, /^bot: m40$/, 'after the restart');
    assert.deepEqual(await botLines(watcher.page), expected(40), 'each message once, in order');
    // It came back with a position of the old epoch: told so, and given the new epoch's history.
    assert.match(gateway.output(), new RegExp(` not recovered host=127\\.0\\.0\\.1 .*channel=room:${room} missed=\\d+`));
    await watcher.page.locator('#log li.meta').filter({ hasText: 'some messages may have been missed while away' }).waitFor({ timeout: STEP_TIMEOUT });
    await shoot(watcher.page, 'after-restart');
    assert.deepEqual(pageErrors, []);
  });
});
