/**
 * /health and the dashboard under the catch-all host `*`: the Host is the
 * client's to choose, and `constructor` or `__proto__` are host names like
 * any other. Kept in plain objects, the first made /health (and, in a
 * cluster, /dashboard/data) throw for as long as its socket stayed open, and
 * the second hid its sockets from both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

describe(`/health with host names an object has on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: Client[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { '*': { app: APP, build: false } } } });
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server?.stop();
  });

  it('lists the sockets of hosts named constructor and __proto__', async () => {
    for (const [i, host] of ['constructor', '__proto__', 'a.test'].entries()) clients.push(await connect(server.port, { host, token: `t${i}` }));
    const response = await fetch(`${server.url}/health`);
    assert.equal(response.status, 200, await response.clone().text());
    const health = (await response.json()) as { sockets: Record<string, { sockets: number }>; hosts: Record<string, { sockets: number }> };
    assert.deepEqual(Object.keys(health.hosts).sort(), ['__proto__', 'a.test', 'constructor']);
    assert.equal(Object.getOwnPropertyDescriptor(health.sockets, '__proto__')?.value.sockets, 1);
    assert.equal(Object.getOwnPropertyDescriptor(health.sockets, 'constructor')?.value.sockets, 1);
  });
});
