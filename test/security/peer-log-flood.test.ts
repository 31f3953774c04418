/**
 * Attack: requests anyone who reaches the port can send as fast as it likes,
 * each of which was one WARN line: bridge calls a web page makes (refused
 * 401, `bridge refused`) and Pusher API calls with a wrong signature (401,
 * `pusher api refused`); and frames an open socket sends as fast as its
 * rate limit lets it, such as subscribes past its channel limit (`subscribe
 * refused`, no hook run). Per kind, a burst is written whole and the rest is
 * summed in one line a second.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { accounted, untilAccounted } from '../support/log-accounting.ts';
import { APP, FIXTURES, TARGET, startServer, targetAvailable, type Started } from '../support/server.ts';

const FLOOD = 300;

/** `FLOOD` requests, 25 at a time; every status they got. */
async function flood(send: () => Promise<Response>): Promise<Set<number>> {
  const statuses = new Set<number>();
  for (let sent = 0; sent < FLOOD; sent += 25) {
    for (const response of await Promise.all(Array.from({ length: 25 }, send))) {
      statuses.add(response.status);
      await response.body?.cancel();
    }
  }
  return statuses;
}

async function assertBounded(server: Started, whole: RegExp, summary: RegExp): Promise<void> {
  await untilAccounted(server, whole, summary, FLOOD);
  const { whole: lines, summed, summaries } = accounted(server.logs, whole, summary);
  assert.equal(lines + summed, FLOOD, 'every refusal is a line or counted in a summary, once');
  assert.ok(summaries >= 1, 'a summary says how many were not written');
  assert.ok(lines + summaries < FLOOD / 4, `${lines} whole lines and ${summaries} summaries for ${FLOOD} refusals`);
}

describe(`floods of refused requests on ${TARGET}`, { skip: targetAvailable() }, () => {
  const APP_ID = '42';
  let server: Started;
  before(async () => {
    const pusher = { id: APP_ID, key: 'flood-key', secret: 'a-test-secret-of-32-characters!!' };
    const limits = { channelsPerSocket: 1, messagesPerSecond: 100_000 };
    const hosts = { 'app.test': APP, 'm.test': { module: join(FIXTURES, 'hooks.ts'), clientChannels: true } };
    server = await startServer({ config: { limits, hosts, pusher: { apps: [pusher] } } });
  });
  after(() => server?.stop());

  it('logs a web page\'s bridge calls as a few lines and a summary', async () => {
    const statuses = await flood(() => fetch(`${server.url}/message`, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, body: '{}' }));
    assert.deepEqual(statuses, new Set([401]));
    await assertBounded(server, / WARN  bridge refused path=\/message reason="a cross-site request from a web page/, / WARN  bridge refused reason="a cross-site request from a web page and no valid bearer secret" suppressed=(\d+) seconds=1$/);
  });

  it('logs Pusher API calls with a wrong signature as a few lines and a summary', async () => {
    const body = JSON.stringify({ name: 'e', channel: 'c', data: '{}' });
    const md5 = createHash('md5').update(body).digest('hex');
    const send = () => {
      const query = `auth_key=flood-key&auth_timestamp=${Math.floor(Date.now() / 1000)}&auth_version=1.0&body_md5=${md5}&auth_signature=${'0'.repeat(64)}`;
      return fetch(`${server.url}/apps/${APP_ID}/events?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    };
    const statuses = await flood(send);
    assert.deepEqual(statuses, new Set([401]));
    await assertBounded(server, / WARN  pusher api refused app=42 method=POST path=\/apps\/42\/events status=401 /, / WARN  pusher api refused app=42 status=401 suppressed=(\d+) seconds=1$/);
  });

  it("logs a socket's subscribes past its channel limit as a few lines and a summary", async () => {
    const client = await connect(server.port, { host: 'm.test', token: 'flood' });
    try {
      client.send(JSON.stringify({ wsgate: 'subscribe', channel: 'mine' }));
      assert.match(await client.next(), /"ok":true/);
      // 10 at a time: a socket may have only so many frames waiting (limits.pending).
      for (let sent = 0; sent < FLOOD; sent += 10) {
        for (let i = sent; i < sent + 10; i++) client.send(JSON.stringify({ wsgate: 'subscribe', channel: `more-${i}` }));
        for (let i = sent; i < sent + 10; i++) assert.match(await client.next(), /"ok":false/);
      }
      await assertBounded(server, / INFO  subscribe refused host=m\.test socket=\S+ channel=more-\d+$/, / INFO  subscribe refused host=m\.test suppressed=(\d+) seconds=1$/);
    } finally {
      client.ws.terminate();
    }
  });
});
