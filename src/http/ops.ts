/**
 * The ops pages as one Hono sub-app: /health for anyone (its numbers for
 * trusted callers), /metrics and /dashboard for trusted callers or the
 * secret as a Basic password.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { dashboardPage } from '../ops/dashboard-page.ts';
import type { Spread } from '../core/publishing.ts';
import type { DashboardData } from '../ops/monitor.ts';
import type { HostStats } from '../core/hub.ts';
import type { PoolsHealth } from '../hooks/pool/pools.ts';
import { accessGuard } from './guard.ts';
import type { BridgeOptions } from './options.ts';

/** All the ops pages ask of the core, so they can be tested in-process against a fake (test/unit/http-ops.test.ts). */
export interface OpsGateway {
  healthEverywhere(): Promise<Spread<{ sockets: Record<string, HostStats>; perNode: Record<string, { sockets: number; workers: number }> }>>;
  readonly cluster: { node: string; up: boolean; reason?: string; problem?: string; nodes(): string[] } | undefined;
  configured(): string[];
  poolHealth(): PoolsHealth;
  /** Streams with history held, gone tokens whose frames are kept for replay, and the memory budget they share. */
  recoveryHealth(): { streams: number; replaying: number; bytes: number; budget: number; evicted: number };
  /** Sockets admitted but not open yet (auth running, or waiting for the auth frame). */
  readonly admissions: { readonly size: number };
  metricsText(): string;
  readonly feed: { readonly id: string; resume(feed: string | undefined, after: number): number };
  dashboard(after?: number): DashboardData;
}

type OpsOptions = Pick<BridgeOptions, 'trusted' | 'log' | 'about' | 'stopping'>;

export function opsApp(gateway: OpsGateway, options: OpsOptions): Hono {
  const guard = accessGuard(options.trusted, options.log, 'basic');
  return (
    new Hono()
      .use('/metrics', guard)
      // Also /dashboard itself. Browsers ask for Basic auth when told to: the dashboard works from a remote browser with the secret as password.
      .use('/dashboard/*', guard)
      // Anyone may ask whether it is up; the numbers are for trusted callers.
      .get('/health', async (c) => (options.trusted(c).ok ? health(c, gateway, options.stopping?.() === true) : plainHealth(c, options.stopping)))
      .get('/metrics', (c) => c.body(gateway.metricsText(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }))
      .get('/dashboard', dashboardPage)
      .get('/dashboard/data', (c) => dashboardData(c, gateway, options))
  );
}

/** What anyone may learn: up, or stopping (503, so that a load balancer takes this node out at once). */
export function plainHealth(c: Context, stopping: OpsOptions['stopping']): Response {
  return stopping?.() ? c.json({ status: 'stopping' }, 503) : c.json({ status: 'ok' });
}

async function health(c: Context, gateway: OpsGateway, stopping: boolean): Promise<Response> {
  const { value, nodes } = await gateway.healthEverywhere();
  const sockets = value.sockets;
  // fromEntries, not `hosts[host] =`: a client may name its host `__proto__` (under `*`).
  const hosts = Object.fromEntries(Object.entries(sockets).map(([host, stats]) => [host, { tokens: stats.tokens, sockets: stats.sockets }]));
  const configured = gateway.configured();
  // The daemon's host map, as phloWS's `configured`: its smoke test looks for a host here before any socket opens.
  const registered = [...configured];
  const { workers, cap, pools } = gateway.poolHealth();
  const body: Record<string, unknown> = { status: 'ok', workers, cap, pools, sockets, registered, hosts, configured, admitting: gateway.admissions.size, history: gateway.recoveryHealth() };
  const cluster = gateway.cluster;
  if (cluster) {
    // Pools stay per node: workers, cap and pools above are this node's.
    body.cluster = { node: cluster.node, redis: cluster.up ? 'up' : 'down', nodes: value.perNode, missing: nodes?.missing ?? [], live: cluster.nodes() };
    if (!cluster.up) Object.assign(body, { status: 'degraded', reason: cluster.reason });
    else if (cluster.problem) Object.assign(body, { status: 'degraded', reason: cluster.problem });
  }
  if (stopping) return c.json({ ...body, status: 'stopping' }, 503);
  return c.json(body);
}

/** What the dashboard polls every second: this node's data, and in a cluster the hosts and nodes of all. */
async function dashboardData(c: Context, gateway: OpsGateway, options: OpsOptions): Promise<Response> {
  const about = options.about ?? { runtime: 'unknown', version: '', node: 'this node' };
  const feed = gateway.feed;
  const data = gateway.dashboard(feed.resume(c.req.query('feed'), Number(c.req.query('after') ?? 0) || 0));
  let nodes = [{ node: about.node, sockets: data.sockets, state: 'this node' }];
  const cluster = gateway.cluster;
  if (cluster) {
    const { value, nodes: spread } = await gateway.healthEverywhere();
    nodes = Object.entries(value.perNode).map(([node, n]) => ({ node, sockets: n.sockets, state: node === cluster.node ? (cluster.up && !cluster.problem ? 'this node' : `this node, degraded: ${cluster.reason ?? cluster.problem}`) : 'up' }));
    for (const node of spread?.missing ?? []) nodes.push({ node, sockets: 0, state: 'not answering' });
    // Hosts and sockets over the whole cluster, as /health says them: whichever node a poll reaches shows the same.
    data.hosts = Object.entries(value.sockets)
      .map(([host, stats]) => ({ host, sockets: stats.sockets, tokens: stats.tokens }))
      .sort((a, b) => b.sockets - a.sockets);
    data.sockets = data.hosts.reduce((total, host) => total + host.sockets, 0);
  }
  return c.json({ ...data, feed: feed.id, runtime: about.runtime, version: about.version, node: about.node, nodes });
}
