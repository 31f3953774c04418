/**
 * Faults cost only their own event: hooks that hang, crash, flood stdout or
 * print invalid UTF-8, and module code that leaves a rejection or an
 * exception behind. After each, the gateway still serves: the socket that was
 * there all along still round-trips, a new socket opens and gets a cast, and
 * /health counts exactly the sockets that are open, none of the fault's.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { readEvents } from '../support/events.ts';
import { until } from '../support/http.ts';
import { loggedCloseCode, loggedSocketIds, socketIdOf } from '../support/logs.ts';
import { APP, FIXTURES, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';
import type { Started } from '../support/server.ts';
import { alive } from '../support/processes.ts';

const skip = targetAvailable();

interface Health {
  sockets: Record<string, { tokens: number; sockets: number; perToken: Record<string, number> }>;
  admitting: number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe(`faults on ${TARGET}`, { skip }, () => {
  let server: Started;
  let bystander: Client;
  const events = join(tempDir(), 'events.jsonl');
  let fresh = 0;
  before(async () => {
    // The hanging hook on a host of its own with a short timeout, to wait less for it (2 s: its socket's auth and connect
    // must fit in it too, and a PHP hook can take most of a second on a busy machine); the others get the time they need
    // on a busy machine (with 2 s for all, the auth that prints 6 MB once took longer on Bun, and refused the flood case).
    const hosts = { 'app.test': { app: APP, timeout: 10 }, 'hang.test': { app: APP, timeout: 2 }, 'mod.test': { module: join(FIXTURES, 'hooks.ts') } };
    server = await startServer({ config: { hosts }, env: { WSGATE_TEST_EVENTS: events } });
    bystander = await open('app.test', 'bystander');
  });
  after(async () => {
    bystander?.ws.terminate();
    await server.stop();
  });

  const health = async (): Promise<Health> => {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    return (await res.json()) as Health;
  };

  /** A socket, and a way to close it and wait until the gateway has let it go (its close line comes after its state is gone). */
  async function open(host: string, token: string): Promise<Client & { forget(): Promise<void> }> {
    const earlier = loggedSocketIds(server, host, token);
    const client = await connect(server.port, { host, token });
    const socket = await socketIdOf(server, host, token, earlier);
    const forget = async () => {
      client.ws.terminate();
      await loggedCloseCode(server, host, socket);
    };
    return Object.assign(client, { forget });
  }

  /** After each fault: the gateway serves old and new sockets, and holds nothing of the fault. */
  async function stillServing() {
    bystander.send('are you there');
    assert.equal(await bystander.next(), 'are you there', 'the socket that was there all along round-trips, and got nothing of the fault');
    const token = `fresh-${++fresh}`;
    const newcomer = await open('app.test', token);
    const res = await fetch(`${server.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'app.test', target: `token:${token}`, data: 'after the fault' }) });
    assert.deepEqual(await res.json(), { status: 'ok', host: 'app.test', sent: 1 });
    assert.equal(await newcomer.next(), '"after the fault"', 'a new socket gets a cast');
    await newcomer.forget();
    const now = await health();
    assert.deepEqual(now.sockets, { 'app.test': { tokens: 1, sockets: 1, perToken: { [sha256('bystander')]: 1 } } }, 'only the bystander is counted');
    assert.equal(now.admitting, 0, 'no place is held');
    assert.equal(server.child.exitCode, null, 'the process is running');
  }

  it('a hook that hangs is killed after the timeout', async () => {
    const c = await open('hang.test', 'hang');
    c.send(JSON.stringify({ cmd: 'sleep', seconds: 30 }));
    await server.waitForLog(/hook failed host=hang\.test .*timed out after 2000 ms/);
    const started = readEvents(events).find((e) => e.at === 'start' && e.hook === 'receive' && e.argv[2] === 'hang');
    assert.ok(started?.pid, 'the hook said it started, with its pid');
    // The kill is sent when the failure is logged; the kernel takes a moment to end the process.
    await until(`hook process ${started.pid} is gone`, () => !alive(started.pid!), 5000);
    assert.ok(!readEvents(events).some((e) => e.at === 'end' && e.hook === 'receive' && e.argv[2] === 'hang'), 'killed, not finished');
    c.send('after the timeout');
    assert.equal(await c.next(), 'after the timeout', 'the socket whose hook hung still works');
    await c.forget();
    await stillServing();
  });

  it('a hook that floods stdout streams it to its own socket and nothing breaks', async () => {
    const c = await open('app.test', 'flood');
    c.send(JSON.stringify({ cmd: 'flood', lines: 5000 }));
    for (;;) if ((await c.next()) === 'flood done') break;
    assert.equal(c.received.length, 5001);
    c.send('after the flood');
    assert.equal(await c.next(), 'after the flood', 'the flooding socket still works');
    await c.forget();
    await stillServing();
  });

  it('an auth hook that prints megabytes is read to its end without keeping it all', async () => {
    // Its 6 MB of output end in no refusal: the socket opens, and works.
    const c = await open('app.test', 'flood');
    c.send('after the noisy auth');
    assert.equal(await c.next(), 'after the noisy auth');
    await c.forget();
    await stillServing();
  });

  it('invalid UTF-8 from a hook reaches the client as valid text', async () => {
    const c = await open('app.test', 'utf8');
    c.send(JSON.stringify({ cmd: 'badutf8' }));
    assert.equal(await c.next(), 'bad \ufffd\ufffd bytes \ufffd');
    c.send('after');
    assert.equal(await c.next(), 'after', 'the socket was not closed with 1007');
    await c.forget();
    await stillServing();
  });

  it('a stray rejection or a throw from a timer in a module is logged, not fatal', async () => {
    const c = await open('mod.test', 'stray');
    c.send('stray');
    await server.waitForLog(/ERROR unhandled rejection error=.*a stray rejection nobody awaits/);
    c.send('throw-later');
    await server.waitForLog(/ERROR uncaught exception error=.*thrown from a timer/);
    c.send('x');
    assert.equal(await c.next(), 'module got stray');
    // Every message was answered in order, the one sent after both faults too.
    assert.deepEqual([await c.next(), await c.next(), await c.next(), await c.next(), await c.next()], ['module done', 'module got throw-later', 'module done', 'module got x', 'module done']);
    await c.forget();
    await stillServing();
  });
});
