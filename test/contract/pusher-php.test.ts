/**
 * The README's Laravel recipe from PHP's side, with Debian's php-cli and no
 * SDK: a private channel signed by PHP lets pusher-js in, and an event POSTed
 * to the HTTP API with PHP's signature reaches it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type PusherJs from 'pusher-js';
import { nextEvent, pusherClient, subscribed } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const php = spawnSync('php', ['--version']).status === 0;
const skip = targetAvailable() ?? (php ? false : 'php is not installed (apt-get install php-cli)');
const APP = { id: '7', key: 'php-key', secret: 'signed-by-php-in-a-test-0123' };
const SCRIPT = join(FIXTURES, 'pusher-php.php');

function runPhp(args: string[]): string {
  const run = spawnSync('php', [SCRIPT, ...args], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

describe(`Pusher HTTP API and channel auth signed by PHP on ${TARGET}`, { skip }, () => {
  let server: Started;
  let client: PusherJs | undefined;
  before(async () => {
    server = await startServer({ config: { hosts: { 'php.test': { module: join(FIXTURES, 'send-hooks.ts') } }, pusher: { apps: [{ ...APP, host: 'php.test' }] } } });
  });
  after(async () => {
    client?.disconnect();
    await server?.stop();
  });

  it('lets pusher-js into a private channel with PHP\'s signature, and delivers PHP\'s signed event', async () => {
    client = await pusherClient(APP, server.port, {
      extra: {
        channelAuthorization: {
          endpoint: '',
          transport: 'ajax',
          customHandler: ({ socketId, channelName }, callback) => callback(null, JSON.parse(runPhp(['auth', APP.secret, APP.key, socketId, channelName])) as { auth: string }),
        },
      },
    });
    const channel = await subscribed(client, 'private-invoices');
    const got = nextEvent<{ total: number }>(channel, 'InvoicePaid');
    const [status, body] = runPhp(['trigger', `http://127.0.0.1:${server.port}`, APP.id, APP.key, APP.secret, 'private-invoices', 'InvoicePaid', '{"total":12}']).split('\n');
    assert.equal(status, '200', body);
    assert.deepEqual(JSON.parse(body!), {});
    assert.deepEqual(await got, { total: 12 });
  });

  it('refuses an event PHP signed with another secret', () => {
    const [status] = runPhp(['trigger', `http://127.0.0.1:${server.port}`, APP.id, APP.key, 'not-the-secret-of-this-app', 'private-invoices', 'InvoicePaid', '{}']).split('\n');
    assert.equal(status, '401');
  });
});
