/**
 * /metrics labels under a wildcard host: a client picks the Host it names,
 * so a series per Host would let it grow the label set (and Prometheus's
 * series) without bound, one new subdomain per socket. Every series, the
 * socket gauges included, is labelled by the configured host key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { APP, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

describe(`/metrics labels under a wildcard host on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: Client[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { '*.w.test': { app: APP, build: false } } } });
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server?.stop();
  });

  it('counts the sockets of hosts a client made up under their configured key, not a series per Host', async () => {
    for (const [i, host] of ['a1.w.test', 'a2.w.test', 'a3.w.test'].entries()) clients.push(await connect(server.port, { host, token: `t${i}` }));
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.doesNotMatch(text, /host="a\d\.w\.test"/, 'no label value a client chose');
    assert.match(text, /^wsgate_sockets\{host="\*\.w\.test"\} 3$/m);
    assert.match(text, /^wsgate_tokens\{host="\*\.w\.test"\} 3$/m);
    // /health and the dashboard still show each host: JSON read now, not series kept for good.
    const health = (await (await fetch(`${server.url}/health`)).json()) as { hosts: Record<string, unknown> };
    assert.deepEqual(Object.keys(health.hosts).sort(), ['a1.w.test', 'a2.w.test', 'a3.w.test']);
  });
});
