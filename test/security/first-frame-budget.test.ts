/**
 * Attack: many first-frame sockets (`"tokenFrom": "message"`) whose auth is
 * slow, each sending frames up to its own bound while it waits. The frames of
 * all of them together are bounded (limits.preAuthBytes): the frame that
 * would pass the budget closes its socket (1013, one log line), and what a
 * socket held is given back however its auth ends (accepted, refused, timed
 * out, client gone, closed by a bound). Frames are weighed in UTF-8 bytes.
 *
 * The auth hook answers only when the test writes its answer, so the frames
 * a socket sends after its auth frame wait for as long as the test needs.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { until } from '../support/http.ts';
import { TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';

/** limits.preAuthBytes: the frames of one socket of pair() fit, those of both do not; those of probe() fit alone. */
const BUDGET = 10_000;
/** What the gateway counts for a waiting frame besides its bytes (src/core/pending-budget.ts). */
const OVERHEAD = 64;
const SIZE = 2000;
const FRAMES = 3;
const PENDING = 5;
const SEND_BUFFER = 9000;
const FULL = 'the gateway is busy: too many bytes are waiting for auth; try again later';
const COUNT = 'too many messages before auth finished';

assert.ok(FRAMES * (SIZE + OVERHEAD) <= BUDGET && 2 * FRAMES * (SIZE + OVERHEAD) > BUDGET);
assert.ok(4 * (SIZE + OVERHEAD) + OVERHEAD <= BUDGET && 4 * (SIZE + OVERHEAD) + OVERHEAD + 2 * (SIZE + OVERHEAD) > BUDGET);

/** argv: websocket::<hook> <host> <token> <socket> [<message>]. auth waits for $ANSWERS/<token> and says what it holds. */
const HOOK = `#!/bin/sh
case "$1" in
  websocket::auth)
    while [ ! -s "$ANSWERS/$3" ]; do sleep 0.02; done
    cat "$ANSWERS/$3"
    ;;
  websocket::receive)
    printf '%s\\n' "$5"
    ;;
esac
exit 0
`;

/**
 * A close as the client saw it. Deno drops a connection whose client still
 * sends after close() (see auth.test.ts), which these clients may or may not
 * be doing by then: there the client sees the close or 1006, and the log
 * has the code.
 */
function assertClosed(seen: { code: number; reason: string }, code: number, reason: string): void {
  if (TARGET === 'deno' && seen.code === 1006) return;
  assert.deepEqual(seen, { code, reason });
}

/** Without the budget a pair waits for a refusal that never comes: each test fails on its own rather than the suite. */
const EACH = { timeout: 20_000 };

const frame = (tag: string, i: number) => `${tag}-${i}-`.padEnd(SIZE, 'x');

describe(`the frames of all sockets waiting for first-frame auth on ${TARGET}`, { skip: targetAvailable() }, () => {
  let server: Started;
  let answers: string;
  let serial = 0;

  before(async () => {
    const dir = tempDir();
    answers = join(dir, 'answers');
    const hook = join(dir, 'hook.sh');
    writeFileSync(hook, HOOK);
    chmodSync(hook, 0o755);
    mkdirSync(answers);
    server = await startServer({
      env: { ANSWERS: answers },
      config: {
        hosts: {
          'ff.test': { command: ['sh', hook], tokenFrom: 'message', authTimeout: 30, timeout: 60 },
          // Its auth hook is killed after 2 s: auth ends by the hook's timeout.
          'short.test': { command: ['sh', hook], tokenFrom: 'message', authTimeout: 30, timeout: 2 },
        },
        limits: { preAuthBytes: BUDGET, sendBuffer: SEND_BUFFER, pending: PENDING },
      },
    });
  });
  after(async () => {
    await server?.stop();
  });

  const answer = (token: string, what: 'true' | 'false') => writeFileSync(join(answers, token), what);
  const count = (pattern: RegExp) => server.logs.filter((line) => pattern.test(line)).length;

  /** A first-frame socket that sent its auth frame (a token the hook holds until answered), then `frames`. */
  async function waiting(host: string, frames: string[]): Promise<Client & { token: string }> {
    const token = `t${++serial}`;
    const client = await connect(server.port, { host });
    client.send(JSON.stringify({ type: 'auth', token }));
    for (const text of frames) client.send(text);
    return Object.assign(client, { token });
  }

  /**
   * Two sockets of FRAMES frames each while their auth holds: either alone
   * fits the budget, both do not, so whatever order their frames come in,
   * exactly one is closed for the budget, and the other then holds its
   * frames (at least two, or the other would not have been refused).
   */
  async function pair(host: string): Promise<{ refused: Client; survivor: Client & { token: string } }> {
    const a = await waiting(host, [0, 1, 2].map((i) => frame('a', i)));
    const b = await waiting(host, [0, 1, 2].map((i) => frame('b', i)));
    const first = await Promise.race([a.closed.then(() => a), b.closed.then(() => b)]);
    const survivor = first === a ? b : a;
    assertClosed(await first.closed, 1013, FULL);
    assert.equal(survivor.ws.readyState, survivor.ws.OPEN, 'the other socket was not refused');
    return { refused: first, survivor };
  }

  /**
   * A socket whose 4 frames of SIZE and an empty one fit an empty budget and
   * its own byte bound; its sixth frame passes limits.pending. So it is closed
   * for that count (1008) when all its frames fit, and for the budget (1013)
   * when others still hold more than BUDGET minus its own.
   */
  async function probe(host = 'ff.test'): Promise<{ code: number; reason: string }> {
    const client = await waiting(host, [...[0, 1, 2, 3].map((i) => frame('p', i)), '', '']);
    return client.closed;
  }

  it('closes the socket whose frame would pass the budget of all sockets with 1013, logged once', EACH, async () => {
    const line = new RegExp(`upgrade refused host=ff\\.test reason="${FULL}"`);
    const before = count(line);
    const { survivor } = await pair('ff.test');
    // Frames the refused socket sent after the refused one log nothing more; its close, awaited, came after them, and the survivor's end is logged after that.
    const abandoned = count(/upgrade abandoned host=ff\.test/);
    survivor.ws.terminate();
    await until('the survivor was abandoned', () => count(/upgrade abandoned host=ff\.test/) > abandoned);
    assert.equal(count(line) - before, 1);
  });

  it('gives the budget back when the auth says yes and the frames are delivered', EACH, async () => {
    const { survivor } = await pair('ff.test');
    answer(survivor.token, 'true');
    const echo = await survivor.next();
    assert.match(echo, /^[ab]-0-x+$/, 'the first frame that waited reached the app');
    assertClosed(await probe(), 1008, COUNT);
    survivor.close();
    await survivor.closed;
  });

  it('gives the budget back when the auth says no', EACH, async () => {
    const { survivor } = await pair('ff.test');
    answer(survivor.token, 'false');
    assertClosed(await survivor.closed, 1008, 'unauthorized');
    assertClosed(await probe(), 1008, COUNT);
  });

  it('gives the budget back when the auth hook times out, to sockets of every host', EACH, async () => {
    const { survivor } = await pair('short.test');
    assertClosed(await survivor.closed, 1008, 'unauthorized');
    assertClosed(await probe('ff.test'), 1008, COUNT);
  });

  it('gives the budget back when the client goes while its auth runs', EACH, async () => {
    const { survivor } = await pair('ff.test');
    const abandoned = count(/upgrade abandoned host=ff\.test/);
    survivor.ws.terminate();
    await until('the survivor was abandoned', () => count(/upgrade abandoned host=ff\.test/) > abandoned);
    assertClosed(await probe(), 1008, COUNT);
  });

  it('gives the budget back when a socket is refused for its own bound, before its client answers the close', EACH, async () => {
    const { survivor } = await pair('ff.test');
    // A client that reads nothing never answers the close: the gateway drops it only a second later (REFUSED_CLOSE_MS).
    survivor.ws.pause();
    const line = new RegExp(`upgrade refused host=ff\\.test reason="${COUNT}"`);
    const refusals = count(line);
    // Its sixth frame passes limits.pending.
    for (let i = 0; i < PENDING + 1 - FRAMES; i++) survivor.send('');
    await until('the survivor was refused', () => count(line) > refusals);
    assertClosed(await probe(), 1008, COUNT);
    survivor.ws.terminate();
    await survivor.closed;
  });

  it('weighs text frames in UTF-8 bytes against a socket\'s own byte bound', EACH, async () => {
    // 2 frames of 2000 "€": 4000 UTF-16 units (under limits.sendBuffer, 9000) but 12000 bytes (over it).
    const client = await waiting('ff.test', ['€'.repeat(2000), '€'.repeat(2000), '', '', '', '']);
    assertClosed(await client.closed, 1008, `more than ${SEND_BUFFER} bytes sent before auth finished`);
    await server.waitForLog(new RegExp(`upgrade refused host=ff\\.test reason="more than ${SEND_BUFFER} bytes sent before auth finished"`));
  });
});
