/**
 * GET /metrics (issue 8): Prometheus text, parsed and checked against what
 * the test did; guarded like the rest of the bridge (the second-host check is
 * in security.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { waitFor } from '../support/events.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP, ROOT, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();

/** Samples by their full series name, e.g. `wsgate_sockets{host="m.test"}`. */
function parse(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
    } else if (line && !line.startsWith('#')) {
      const at = line.lastIndexOf(' ');
      const value = Number(line.slice(at + 1));
      assert.ok(!Number.isNaN(value), `a number in ${JSON.stringify(line)}`);
      samples.set(line.slice(0, at), value);
    }
  }
  return { samples, types };
}

describe(`GET /metrics on ${TARGET}`, { skip }, () => {
  let server: Started;
  const clients: Client[] = [];
  before(async () => {
    server = await startServer({ config: { hosts: { 'm.test': { app: APP, build: false }, 'o.test': { app: APP, build: true } } } });
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await server?.stop();
  });
  const scrape = async () => {
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  };

  it('counts what happened: sockets, upgrades, frames, casts, hooks and pools', async () => {
    const a = await connect(server.port, { host: 'm.test', token: 'ma' });
    const b = await connect(server.port, { host: 'm.test', token: 'mb' });
    clients.push(a, b);
    await assert.rejects(connect(server.port, { host: 'm.test', token: 'refuse' }), { status: 401 });
    await assert.rejects(connect(server.port, { host: 'nowhere.test', token: 'x' }), { status: 401 });
    a.send('{"cmd":"echo","n":"ü"}');
    assert.equal(await a.next(), '{"cmd":"echo","n":"ü"}');
    a.send('{"cmd":"fail"}');
    assert.equal(await a.next(), 'partial');
    await server.waitForLog(/hook failed host=m\.test .*hook=receive/);
    const cast = await fetch(`${server.url}/message`, { method: 'POST', body: JSON.stringify({ host: 'm.test', target: 'all', data: 'hi' }) });
    assert.equal(((await cast.json()) as { sent: number }).sent, 2);
    await a.next();
    await b.next();

    const { samples, types } = await scrape();
    const at = (name: string) => {
      assert.ok(samples.has(name), `${name} in /metrics`);
      return samples.get(name);
    };
    assert.equal(at('wsgate_sockets{host="m.test"}'), 2);
    assert.equal(at('wsgate_tokens{host="m.test"}'), 2);
    assert.equal(at('wsgate_upgrades_total{host="m.test",result="accepted",reason=""}'), 2);
    assert.equal(at('wsgate_upgrades_total{host="m.test",result="refused",reason="auth_refused"}'), 1);
    assert.equal(at('wsgate_upgrades_total{host="",result="refused",reason="host_not_configured"}'), 1);
    assert.equal(at('wsgate_frames_in_total{host="m.test"}'), 2);
    // Both frames in, UTF-8: "ü" is two bytes.
    assert.equal(at('wsgate_bytes_in_total{host="m.test"}'), '{"cmd":"echo","n":"ü"}'.length + 1 + '{"cmd":"fail"}'.length);
    // The echo, "partial", and the cast to two sockets.
    assert.equal(at('wsgate_frames_out_total{host="m.test"}'), 4);
    assert.equal(at('wsgate_casts_total{host="m.test",kind="all"}'), 1);
    assert.equal(at('wsgate_deliveries_total{host="m.test",kind="all"}'), 2);
    assert.equal(at('wsgate_hook_runs_total{host="m.test",hook="receive",mode="resident",result="ok"}'), 1);
    assert.equal(at('wsgate_hook_runs_total{host="m.test",hook="receive",mode="resident",result="failed"}'), 1);
    assert.equal(at('wsgate_hook_runs_total{host="m.test",hook="auth",mode="resident",result="ok"}'), 3);
    assert.equal(at('wsgate_hook_duration_seconds_count{host="m.test",hook="receive",mode="resident"}'), 2);
    assert.equal(at('wsgate_hook_duration_seconds_bucket{host="m.test",hook="receive",mode="resident",le="+Inf"}'), 2);
    assert.equal(types.get('wsgate_hook_duration_seconds'), 'histogram');
    assert.equal(types.get('wsgate_upgrades_total'), 'counter');
    const app = [...samples.keys()].find((k) => k.startsWith('wsgate_pool_workers{app='));
    assert.ok(app && samples.get(app)! >= 1, 'a live worker of the resident app');
    assert.ok(at(`wsgate_pool_jobs_total{app=${/\{app=("[^"]*")/.exec(app)![1]},result="done"}`)! >= 4);
    assert.equal(at('wsgate_pool_cap'), (await (await fetch(`${server.url}/health`)).json() as { cap: number }).cap);
  });

  it('has every series the Grafana dashboard in docs/ queries', async () => {
    const dashboard = readFileSync(join(ROOT, 'docs', 'grafana-dashboard.json'), 'utf8');
    const used = new Set([...dashboard.matchAll(/\b(wsgate_\w+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
    assert.ok(used.size >= 10, `the dashboard queries ${used.size} series`);
    const { types } = await scrape();
    // Cluster series exist only in cluster mode: cluster.test.ts checks those.
    for (const name of used) if (!name.startsWith('wsgate_cluster_')) assert.ok(types.has(name), `${name}, queried by docs/grafana-dashboard.json, is in /metrics`);
  });

  it('counts one-shot hooks under their own mode', async () => {
    const c = await connect(server.port, { host: 'o.test', token: 'oa' });
    clients.push(c);
    c.send('{"cmd":"echo"}');
    await c.next();
    // The echo streams out before the one-shot process has exited, and the run counts once it has.
    const runs = await waitFor('the one-shot receive counted', async () => (await scrape()).samples.get('wsgate_hook_runs_total{host="o.test",hook="receive",mode="oneshot",result="ok"}'));
    assert.equal(runs, 1);
  });
});
