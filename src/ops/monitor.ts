/**
 * What is watched of a running gateway: the counters of /metrics and the
 * dashboard's feed, filled by observing the core's events, and the pages
 * made of them with gauges measured when asked.
 */
import type { CoreObserver, HookRun } from '../core/events.ts';
import type { BrokerStatus } from '../core/broker.ts';
import type { RecoveryHealth } from '../core/history/recovery.ts';
import type { PoolsHealth } from '../hooks/pool/pools.ts';
import { Feed } from './feed.ts';
import type { FeedEvent, Sample } from './feed.ts';
import { Metrics } from './metrics.ts';
import type { Gauge } from './metrics.ts';

/** What the pages measure of the gateway when asked. */
export interface Watched {
  sizes(): Array<{ host: string; sockets: number; tokens: number }>;
  /** The configured host key a host counts under (routes.ts): the metrics label. */
  label(host: string): string;
  readonly sockets: number;
  readonly admitting: number;
  poolHealth(): PoolsHealth;
  recoveryHealth(): RecoveryHealth;
  readonly cluster: BrokerStatus | undefined;
  /** Joins waiting for the shared store. */
  readonly recoveryWaiting: number;
  configured(): string[];
}

export interface DashboardData {
  started: number;
  now: number;
  sockets: number;
  hosts: Array<{ host: string; sockets: number; tokens: number }>;
  configured: string[];
  workers: number;
  cap: number;
  pools: PoolsHealth['pools'];
  history: { streams: number; replaying: number };
  events: FeedEvent[];
  samples: Sample[];
}

export class Monitor {
  readonly metrics = new Metrics();
  readonly feed = new Feed();
  readonly #started = Date.now();
  readonly #watched: Watched;

  constructor(watched: Watched) {
    this.#watched = watched;
  }

  /** Counts what the core does. */
  observer(): CoreObserver {
    const { metrics, feed } = this;
    return {
      refused: (refusal, label) => metrics.upgrade(label, 'refused', refusal.kind),
      opened: (client) => {
        metrics.upgrade(client.route.config.key, 'accepted');
        feed.push('connect', client.host, client.id);
      },
      closed: (client, code) => feed.push('disconnect', client.host, client.id, `code ${code}`),
      cast: (_host, label, kind, sent, taken) => metrics.cast(label, kind, sent, taken),
      hook: (run: HookRun) => {
        metrics.hook(run.label, run.hook, run.mode, run.seconds, run.outcome === 'ok');
        if (run.outcome === 'failed') feed.push('hook failed', run.host, run.socket, `${run.hook}: ${run.error}`);
      },
    };
  }

  /** Once a second: a sample of casts and hook latency for the dashboard's charts. */
  sample(): void {
    this.feed.sample({ casts: this.metrics.castTotal(), ...this.metrics.hookTotals() });
  }

  /** GET /metrics: the counters, after gauges measured now. */
  metricsText(extra: Gauge[] = []): string {
    const watched = this.#watched;
    const sizes = this.#perLabel(watched.sizes());
    const { cap, pools } = watched.poolHealth();
    const apps = Object.entries(pools);
    const perApp = (pick: (stats: (typeof pools)[string]) => number) => apps.map(([app, stats]) => ({ labels: { app }, value: pick(stats) }));
    const recovery = watched.recoveryHealth();
    return this.metrics.render([
      { name: 'wsgate_sockets', help: 'Open sockets per host.', samples: sizes.map(({ host, sockets }) => ({ labels: { host }, value: sockets })) },
      { name: 'wsgate_tokens', help: 'Distinct tokens with open sockets per host (summed over the hosts a wildcard key matches).', samples: sizes.map(({ host, tokens }) => ({ labels: { host }, value: tokens })) },
      { name: 'wsgate_sockets_admitting', help: 'Sockets admitted but not open yet: auth running, or waiting for the auth frame.', samples: [{ value: watched.admitting }] },
      { name: 'wsgate_pool_cap', help: 'Resident workers allowed in all.', samples: [{ value: cap }] },
      { name: 'wsgate_pool_workers', help: 'Live resident workers per app.', samples: perApp((p) => p.workers) },
      { name: 'wsgate_pool_busy', help: 'Workers running a job per app.', samples: perApp((p) => p.busy) },
      { name: 'wsgate_pool_queued', help: 'Jobs waiting for a worker per app.', samples: perApp((p) => p.queued) },
      { name: 'wsgate_pool_jobs_total', type: 'counter', help: 'Jobs done and failed per app.', samples: apps.flatMap(([app, p]) => [{ labels: { app, result: 'done' }, value: p.done }, { labels: { app, result: 'failed' }, value: p.failed }]) },
      { name: 'wsgate_pool_recycled_total', type: 'counter', help: 'Workers retired after maxJobs per app.', samples: perApp((p) => p.recycled) },
      { name: 'wsgate_history_streams', help: 'Streams whose recent publications are held.', samples: [{ value: recovery.streams }] },
      { name: 'wsgate_replay_tokens', help: 'Gone tokens whose frames are kept for replay.', samples: [{ value: recovery.replaying }] },
      { name: 'wsgate_history_bytes', help: 'Bytes of past frames kept for history and replay (frames, plus a fixed cost per frame and per stream).', samples: [{ value: recovery.bytes }] },
      { name: 'wsgate_history_budget_bytes', help: 'What history and replay may keep in all (limits.historyBytes).', samples: [{ value: recovery.budget }] },
      { name: 'wsgate_history_evicted_total', type: 'counter', help: 'Publications dropped, oldest first, to stay within limits.historyBytes.', samples: [{ value: recovery.evicted }] },
      ...this.#clusterGauges(),
      ...extra,
    ]);
  }

  /**
   * Sockets and tokens per configured host key, as the counters are. Under a
   * wildcard key (`*`, `*.tenant.example.com`) the Host is the client's to
   * choose: a series per Host would let one client mint a label value per
   * socket, series Prometheus keeps long after the socket is gone. /health
   * and the dashboard still list each Host (read once, not stored).
   */
  #perLabel(sizes: Array<{ host: string; sockets: number; tokens: number }>): Array<{ host: string; sockets: number; tokens: number }> {
    const out = new Map<string, { host: string; sockets: number; tokens: number }>();
    for (const { host, sockets, tokens } of sizes) {
      const label = this.#watched.label(host);
      const entry = out.get(label);
      if (entry) {
        entry.sockets += sockets;
        entry.tokens += tokens;
      } else out.set(label, { host: label, sockets, tokens });
    }
    return [...out.values()];
  }

  /** Redis link state and the cost of the hop to the other nodes; none for a node alone. */
  #clusterGauges(): Gauge[] {
    const cluster = this.#watched.cluster;
    if (!cluster) return [];
    const { requests, seconds, incomplete, degraded } = cluster.stats;
    return [
      { name: 'wsgate_cluster_redis_up', help: '1 while this node is linked to Redis, 0 while it serves alone.', samples: [{ value: cluster.up ? 1 : 0 }] },
      { name: 'wsgate_cluster_nodes', help: 'Live nodes this node knows of, itself included.', samples: [{ value: cluster.nodes().length }] },
      { name: 'wsgate_cluster_requests_total', type: 'counter', help: 'Bridge requests gathered over the cluster.', samples: [{ value: requests }] },
      { name: 'wsgate_cluster_request_seconds_total', type: 'counter', help: 'Summed time from publishing a request to the last answer (divide by requests for the mean cross-node latency).', samples: [{ value: seconds }] },
      { name: 'wsgate_cluster_incomplete_total', type: 'counter', help: 'Requests some live node did not answer within the deadline.', samples: [{ value: incomplete }] },
      { name: 'wsgate_cluster_pending', help: 'Requests waiting for other nodes\' answers, and joins waiting for a Redis read, now.', samples: [{ value: cluster.pending + this.#watched.recoveryWaiting }] },
      { name: 'wsgate_cluster_degraded_total', type: 'counter', help: 'Requests served by this node alone because Redis was away.', samples: [{ value: degraded }] },
    ];
  }

  /** What the dashboard polls: hosts, pools, the feed after `after`, and the samples. */
  dashboard(after = 0): DashboardData {
    const watched = this.#watched;
    const { workers, cap, pools } = watched.poolHealth();
    return {
      started: this.#started,
      now: Date.now(),
      sockets: watched.sockets,
      hosts: watched.sizes().sort((a, b) => b.sockets - a.sockets),
      configured: watched.configured(),
      workers,
      cap,
      pools,
      history: watched.recoveryHealth(),
      events: this.feed.since(after),
      samples: this.feed.samples(),
    };
  }
}
