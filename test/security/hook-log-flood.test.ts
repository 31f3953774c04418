/**
 * Attack: a client sends, as fast as its rate limit lets it, messages that
 * make the app's PHP print a warning (input it does not expect), or fail.
 * Each run was one `hook stderr` (or `hook failed`) line: thousands a second
 * over many sockets fill the disk and bury other lines. Per configured host
 * and kind of line, a burst is written whole (the operator needs to see the
 * stderr) and the rest summed in one line a second; another host's lines are
 * not summed away with them, and /metrics still counts every run.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../support/client.ts';
import { accounted, untilAccounted } from '../support/log-accounting.ts';
import { FIXTURES, TARGET, startServer, targetAvailable, type Started } from '../support/server.ts';

const FLOOD = 100;
const APP = join(FIXTURES, 'warns.php');

/** Sends `FLOOD` messages, 10 at a time (a socket may have only so many frames waiting), each answered before the next ten. */
async function flood(client: Client, message: string): Promise<void> {
  for (let sent = 0; sent < FLOOD; sent += 10) {
    // A failed run answers nothing: a message that does is sent behind each, and receive runs in order per socket.
    const answered = message === 'throw' ? 'ok:done' : message;
    for (let i = 0; i < 10; i++) {
      if (answered !== message) client.send(message);
      client.send(answered);
    }
    for (let i = 0; i < 10; i++) assert.match(await client.next(), /^got /);
  }
}

/** `since`: when the flood began (performance.now()). */
function assertBounded(server: Started, whole: RegExp, summary: RegExp, since: number): void {
  const seconds = (performance.now() - since) / 1000;
  const { whole: lines, summed, summaries } = accounted(server.logs, whole, summary);
  assert.equal(lines + summed, FLOOD, 'every run is a line or counted in a summary, once');
  assert.ok(summaries >= 1, 'a summary says how many were not written');
  assert.ok(lines >= 20, `the first lines of a flood are written whole (${lines})`);
  // A burst of 20, then 5 a second for as long as it lasted, however slow the machine.
  assert.ok(lines <= 21 + 5 * seconds, `${lines} whole lines for ${FLOOD} runs in ${seconds.toFixed(1)} s`);
}

describe(`floods of hook lines a client causes on ${TARGET}`, { skip: targetAvailable() }, () => {
  let server: Started;
  before(async () => {
    const hosts = { 'a.test': { app: APP, build: false }, 'b.test': { app: APP, build: false } };
    server = await startServer({ config: { hosts, limits: { messagesPerSecond: 100_000 } } });
  });
  after(() => server?.stop());

  it("logs a host's PHP warnings as a few whole lines and a summary, and another host's still whole", async () => {
    const client = await connect(server.port, { host: 'a.test', token: 'flood' });
    const other = await connect(server.port, { host: 'b.test', token: 'quiet' });
    try {
      const since = performance.now();
      await flood(client, 'no colon');
      const whole = / WARN  hook stderr host=a\.test socket=\S+ hook=receive ms=\d+ stderr="PHP Warning:  Undefined array key 1 in warns\.php on line \d+"$/;
      const summary = / WARN  hook stderr host=a\.test suppressed=(\d+) seconds=1$/;
      // While a.test's lines are being summed: b.test's one warning is written whole.
      other.send('also no colon');
      assert.equal(await other.next(), 'got ');
      assert.match(await server.waitForLog(/ WARN  hook stderr host=b\.test socket=\S+ hook=receive .*Undefined array key 1/, 2000), /stderr=/);
      await untilAccounted(server, whole, summary, FLOOD);
      assertBounded(server, whole, summary, since);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`wsgate_hook_runs_total\\{host="a\\.test",hook="receive",mode="resident",result="ok"\\} ${FLOOD}\\b`));
    } finally {
      client.ws.terminate();
      other.ws.terminate();
    }
  });

  it("logs a host's failing hooks as a few whole lines and a summary", async () => {
    const client = await connect(server.port, { host: 'b.test', token: 'fails' });
    try {
      const since = performance.now();
      await flood(client, 'throw');

      const whole = / ERROR hook failed host=b\.test socket=\S+ hook=receive ms=\d+ stderr="RuntimeException: receive failed in warns\.php" error="receive failed"$/;
      const summary = / ERROR hook failed host=b\.test suppressed=(\d+) seconds=1$/;
      await untilAccounted(server, whole, summary, FLOOD);
      assertBounded(server, whole, summary, since);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`wsgate_hook_runs_total\\{host="b\\.test",hook="receive",mode="resident",result="failed"\\} ${FLOOD}\\b`));
    } finally {
      client.ws.terminate();
    }
  });
});
