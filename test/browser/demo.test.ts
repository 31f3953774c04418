/**
 * Browser test of the built-in demo chat: the gateway runs from source as a
 * child process, Debian's Chromium (through playwright-core) opens the demo
 * page twice in separate contexts (separate `token` cookies), and a message
 * typed in one page must show up in both pages' logs.
 *
 * Run: node --import tsx --test test/browser/demo.test.ts
 * Skipped when /usr/bin/chromium is missing. Screenshots go to a temp dir,
 * which is kept (and named in the output) when the test fails or when
 * WSGATE_KEEP_SCREENSHOTS=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Upper bound for every single wait (server start, page load, a message arriving, shutdown). */
const STEP_TIMEOUT = 15_000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Gateway {
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
  exited: Promise<Exit>;
  running: () => boolean;
  kill: (signal: NodeJS.Signals) => void;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Start `wsgate serve --port 0` from source with the built-in demo; resolve once it logs its URL. */
async function startGateway(): Promise<Gateway> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.WSGATE_CONFIG; // no config: the built-in demo
  delete env.WSGATE_LOG_LEVEL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0', '--log-level', 'info'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve((exit = { code, signal })));
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8');

  const listening = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.stderr.on('data', (chunk: string) => {
      output += chunk;
      const match = /\bINFO\s+listening url=(http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`gateway exited before listening (code ${code}, signal ${signal})`)),
    );
  });
  const gateway: Gateway = {
    url: '',
    output: () => output,
    exited,
    running: () => exit === undefined,
    kill: (signal) => {
      if (exit === undefined) child.kill(signal);
    },
  };
  try {
    gateway.url = await within(listening, STEP_TIMEOUT, 'gateway start');
  } catch (error) {
    gateway.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- gateway output ---\n${output}`);
  }
  return gateway;
}

function exactly(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/** Wait for an element matching `selector` whose whole text matches `text`; fail with what the page shows instead. */
async function waitForText(page: Page, selector: string, text: RegExp, what: string): Promise<void> {
  try {
    await page.locator(selector).filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: STEP_TIMEOUT });
  } catch (error) {
    const seen = await page
      .locator(selector)
      .allTextContents()
      .catch(() => ['<page not readable>']);
    throw new Error(`${what}: not seen within ${STEP_TIMEOUT} ms; ${selector} shows ${JSON.stringify(seen)}`, {
      cause: error,
    });
  }
}

test(
  'demo chat: a message typed in one browser shows up in another',
  { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (install Debian's chromium package to run browser tests)`, timeout: 120_000 },
  async (t) => {
    const gateway = await startGateway();
    const shots = await mkdtemp(join(tmpdir(), 'wsgate-demo-')).catch((error: unknown) => {
      gateway.kill('SIGKILL');
      throw error;
    });
    t.diagnostic(`gateway at ${gateway.url}`);
    let browser: Browser | undefined;
    const pages: Page[] = [];
    const pageErrors: string[] = [];
    let passed = false;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: STEP_TIMEOUT });

      // Two contexts, so two cookie jars and two different demo tokens.
      for (const name of ['alice', 'bob']) {
        const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
        context.setDefaultTimeout(STEP_TIMEOUT);
        const page = await context.newPage();
        page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
        page.on('console', (msg) => {
          if (msg.type() === 'error') t.diagnostic(`${name} console error: ${msg.text()} ${msg.location().url}`);
        });
        const response = await page.goto(gateway.url, { waitUntil: 'domcontentloaded' });
        assert.equal(response?.status(), 200, `${name}: GET / status`);
        await waitForText(page, '#status', /^connected as [0-9a-f]{6}$/, `${name}: status "connected as <id>"`);
        pages.push(page);
      }
      const [sender, receiver] = pages as [Page, Page];

      const tokens = await Promise.all(
        pages.map(async (page) => (await page.context().cookies(gateway.url)).find((c) => c.name === 'token')?.value),
      );
      assert.ok(tokens[0] && tokens[1], `both contexts got a token cookie: ${JSON.stringify(tokens)}`);
      assert.notEqual(tokens[0], tokens[1], 'the two contexts have different tokens');

      // Each page learns its own id from the welcome frame and shows its own
      // join marked "(you)"; the sender must also have seen the receiver join,
      // so the receiver is surely in the room.
      const idOf = async (page: Page) => {
        const status = (await page.locator('#status').textContent({ timeout: STEP_TIMEOUT })) ?? '';
        const id = /^connected as (\S+)$/.exec(status)?.[1];
        assert.ok(id, `status names the page's id, got ${JSON.stringify(status)}`);
        await waitForText(page, '#log li.meta', exactly(`${id} (you) joined`), 'own join marked (you)');
        return id;
      };
      const senderId = await idOf(sender);
      const receiverId = await idOf(receiver);
      assert.notEqual(senderId, receiverId);
      await waitForText(sender, '#log li.meta', exactly(`${receiverId} joined`), 'sender: receiver joined');

      const text = `hello from the browser test ${randomUUID()}`;
      await sender.locator('#text').fill(text);
      await sender.locator('#send button').click();

      const line = exactly(`${senderId}: ${text}`);
      const own = exactly(`${senderId} (you): ${text}`);
      await waitForText(receiver, '#log li', line, 'receiver: the message');
      await waitForText(sender, '#log li.mine', own, 'sender: its own message, marked as its own');
      for (const [who, page, shown] of [['receiver', receiver, line], ['sender', sender, own]] as const) {
        assert.equal(await page.locator('#log li').filter({ hasText: shown }).count(), 1, `${who}: message shown once`);
        assert.equal(await page.locator('#log li.meta').filter({ hasText: shown }).count(), 0, `${who}: message is not styled as meta`);
      }
      assert.equal(await sender.locator('#text').inputValue(), '', 'sender: input cleared after sending');

      const shot = join(shots, 'receiver.png');
      await receiver.screenshot({ path: shot, fullPage: true });
      assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');

      await browser.close();
      browser = undefined;

      gateway.kill('SIGTERM');
      const { code, signal } = await within(gateway.exited, STEP_TIMEOUT, 'gateway exit after SIGTERM');
      assert.equal(signal, null, `gateway killed by ${signal}:\n${gateway.output()}`);
      assert.equal(code, 0, `gateway exit code after SIGTERM:\n${gateway.output()}`);
      assert.match(gateway.output(), /\bINFO\s+stopped\b/);
      passed = true;
    } finally {
      if (!passed) {
        for (const [i, page] of pages.entries()) {
          await page.screenshot({ path: join(shots, `failure-${i}.png`), timeout: 5_000 }).catch(() => {});
        }
        t.diagnostic('gateway output:');
        for (const line of gateway.output().trimEnd().split('\n')) t.diagnostic(`  ${line}`);
      }
      await browser?.close().catch(() => {});
      if (gateway.running()) {
        gateway.kill('SIGKILL');
        await gateway.exited;
      }
      if (passed && process.env.WSGATE_KEEP_SCREENSHOTS !== '1') await rm(shots, { recursive: true, force: true });
      else t.diagnostic(`screenshots kept in ${shots}`);
    }
  },
);
