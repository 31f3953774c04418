/**
 * Attack: a web page (or anyone on the port) calls the bridge with a made-up
 * Sec-Fetch-Site on each request. The refusal's log line is throttled per
 * reason, and the reason used to hold the header's value: each request a new
 * key, so a new burst of whole lines, and the value itself (up to the
 * header's size) written into the log. Now the reason is one of a fixed few
 * and echoes nothing: one key, a burst and a few lines a second, then a sum;
 * and the 401 echoes nothing either.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { APP, TARGET, startServer, targetAvailable, type Started } from '../support/server.ts';

const FLOOD = 2000;
/** LogBudget's defaults: the burst a key writes whole, and the lines a second after it. */
const BURST = 20;
const PER_SECOND = 5;
const MARK = 'made-up-';
const WHOLE = / WARN  bridge refused path=\/message /;
const SUMMARY = / WARN  (?:bridge refused|log lines suppressed) .*suppressed=(\d+)/;

function accounted(server: Started): { whole: number; summed: number; summaries: number; echoed: number; longest: number } {
  const out = { whole: 0, summed: 0, summaries: 0, echoed: 0, longest: 0 };
  for (const line of server.logs) {
    if (line.includes(MARK)) out.echoed++;
    const sum = SUMMARY.exec(line);
    if (sum) {
      out.summed += Number(sum[1]);
      out.summaries++;
    } else if (WHOLE.test(line)) out.whole++;
    else continue;
    out.longest = Math.max(out.longest, line.length);
  }
  return out;
}

/** Resolves once the log accounts for `wanted` refusals, awaiting each new chunk of output; fails with what it has after `timeoutMs`. */
function untilAccounted(server: Started, wanted: number, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const streams = [server.child.stdout!, server.child.stderr!];
    const done = () => {
      clearTimeout(timer);
      for (const stream of streams) stream.off('data', check);
    };
    const check = () => {
      const { whole, summed } = accounted(server);
      if (whole + summed < wanted) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the log accounts for ${JSON.stringify(accounted(server))} of ${wanted}`));
    }, timeoutMs);
    // After startServer's own listener, so a chunk's lines are in server.logs when this one runs.
    for (const stream of streams) stream.on('data', check);
    check();
  });
}

describe(`bridge calls with made-up Sec-Fetch-Site values on ${TARGET}`, { skip: targetAvailable() }, () => {
  it('are logged under one reason, a burst and a few a second, echoing no value in the log or the 401', async () => {
    const server = await startServer({ config: { hosts: { 'app.test': APP } } });
    try {
      const started = performance.now();
      for (let sent = 0; sent < FLOOD; sent += 100) {
        const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
          // Every hundredth a long one: the header's bytes must not reach the log or the answer, whatever their size.
          const value = `${MARK}${sent + i}${(sent + i) % 100 === 0 ? 'x'.repeat(4000) : ''}`;
          const response = await fetch(`${server.url}/message`, { method: 'POST', headers: { 'sec-fetch-site': value, 'content-type': 'application/json' }, body: '{}' });
          return { status: response.status, body: await response.text() };
        }));
        for (const { status, body } of answers) {
          assert.equal(status, 401);
          assert.ok(!body.includes(MARK) && body.length < 300, `the 401 echoes nothing of the request: ${body.slice(0, 300)}`);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      await untilAccounted(server, FLOOD);
      const { whole, summed, summaries, echoed, longest } = accounted(server);
      assert.equal(whole + summed, FLOOD, 'every refusal is a line or counted in a summary, once');
      // One key: its burst, then PER_SECOND a second for as long as the flood lasted (and one more, for rounding).
      const allowed = BURST + Math.ceil(seconds * PER_SECOND) + 1;
      assert.ok(whole <= allowed, `${whole} whole lines in ${seconds.toFixed(1)} s; one key writes at most ${allowed}`);
      assert.ok(summaries <= Math.ceil(seconds) + 2, `${summaries} summaries in ${seconds.toFixed(1)} s`);
      assert.equal(echoed, 0, 'no line holds a made-up value');
      assert.ok(longest < 300, `the longest refusal line is ${longest} characters`);
      assert.ok(server.logs.some((line) => WHOLE.test(line) && line.includes('reason="a request with an unknown Sec-Fetch-Site and no valid bearer secret"')), 'the reason names the check that refused');
    } finally {
      await server.stop();
    }
  });
});
