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
import { accounted, untilAccounted } from '../support/log-accounting.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';

const FLOOD = 2000;
/** LogBudget's defaults: the burst a key writes whole, and the lines a second after it. */
const BURST = 20;
const PER_SECOND = 5;
const MARK = 'made-up-';
const WHOLE = / WARN  bridge refused path=\/message /;
const SUMMARY = / WARN  (?:bridge refused|log lines suppressed) .*suppressed=(\d+)/;

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
      await untilAccounted(server, WHOLE, SUMMARY, FLOOD);
      const { whole, summed, summaries, longest } = accounted(server.logs, WHOLE, SUMMARY);
      const echoed = server.logs.filter((line) => line.includes(MARK)).length;
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
