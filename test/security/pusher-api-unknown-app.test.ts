/**
 * Attack: an unsigned caller names a made-up app in a Pusher API path. The
 * 404 echoed the id back (what a caller sends should not come back as the
 * gateway's words, and a page could use it to reflect markup), and the log
 * line held the id and the path whole, however long. Now the answer says
 * only that the app is unknown, and the log holds the id and path cut short.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { APP as PHP_APP, TARGET, startServer, targetAvailable, type Started } from '../support/server.ts';

const MARK = 'madeupapp';

describe(`Pusher API: a made-up app id on ${TARGET}`, { skip: targetAvailable() }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { hosts: { 'app.test': PHP_APP }, pusher: { apps: [{ id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' }] } } });
  });
  after(() => server?.stop());

  it('is answered 404 without the id, and logged with the id and path cut short', async () => {
    const id = `${MARK}${encodeURIComponent('<script>alert(1)</script>')}${'x'.repeat(4000)}`;
    const response = await fetch(`${server.url}/apps/${id}/events?${'q'.repeat(2000)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(response.status, 404);
    const body = await response.text();
    assert.equal(body, 'unknown app');
    const line = await server.waitForLog(/ pusher api refused .*status=404/);
    assert.ok(line.length < 500, `the refusal line is ${line.length} characters: ${line.slice(0, 200)}…`);
    assert.ok(line.includes(MARK), 'the line still says which id was asked for, cut short');
  });
});
