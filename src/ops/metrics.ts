/**
 * Counters for GET /metrics (the Prometheus text format, version 0.0.4).
 * The hot paths only add to plain numbers in maps keyed by host (and kind,
 * hook, reason); everything else (gauges, formatting) happens when scraped.
 */

/** Seconds: from a module hook's microseconds to a PHP boot's seconds. */
export const HOOK_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface HostTraffic {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
}

interface HookSeries {
  host: string;
  hook: string;
  mode: string;
  ok: number;
  failed: number;
  /** Per bucket of HOOK_BUCKETS (not cumulative until rendered). */
  buckets: number[];
  sum: number;
}

export { utf8Length } from '../core/utf8.ts';

const SEP = '\u0000';

export class Metrics {
  readonly #traffic = new Map<string, HostTraffic>();
  readonly #upgrades = new Map<string, number>();
  readonly #casts = new Map<string, { casts: number; deliveries: number }>();
  readonly #hooks = new Map<string, HookSeries>();

  /** A host's traffic counters (made on first use). */
  traffic(host: string): HostTraffic {
    let counters = this.#traffic.get(host);
    if (!counters) this.#traffic.set(host, (counters = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0 }));
    return counters;
  }

  /** An upgrade's outcome; `host` is "" for hosts that are not configured, so strangers cannot grow the label set. */
  upgrade(host: string, result: 'accepted' | 'refused', reason = ''): void {
    const key = `${host}${SEP}${result}${SEP}${reason}`;
    this.#upgrades.set(key, (this.#upgrades.get(key) ?? 0) + 1);
  }

  /** `counted`: the cast itself counts here (false on the other nodes of a cluster, which add only their deliveries). */
  cast(host: string, kind: string, deliveries: number, counted = true): void {
    const key = `${host}${SEP}${kind}`;
    let entry = this.#casts.get(key);
    if (!entry) this.#casts.set(key, (entry = { casts: 0, deliveries: 0 }));
    if (counted) entry.casts++;
    entry.deliveries += deliveries;
  }

  hook(host: string, hook: string, mode: string, seconds: number, ok: boolean): void {
    const key = `${host}${SEP}${hook}${SEP}${mode}`;
    let series = this.#hooks.get(key);
    if (!series) this.#hooks.set(key, (series = { host, hook, mode, ok: 0, failed: 0, buckets: new Array(HOOK_BUCKETS.length).fill(0), sum: 0 }));
    if (ok) series.ok++;
    else series.failed++;
    series.sum += seconds;
    const bucket = HOOK_BUCKETS.findIndex((bound) => seconds <= bound);
    if (bucket >= 0) series.buckets[bucket]!++;
  }

  /** Hook runs and their summed seconds, for the dashboard's latency chart. */
  hookTotals(): { runs: number; seconds: number } {
    let runs = 0;
    let seconds = 0;
    for (const series of this.#hooks.values()) {
      runs += series.ok + series.failed;
      seconds += series.sum;
    }
    return { runs, seconds };
  }

  /** Casts so far, for the dashboard's casts-per-second chart. */
  castTotal(): number {
    let casts = 0;
    for (const entry of this.#casts.values()) casts += entry.casts;
    return casts;
  }

  /** The counters as Prometheus text, after the gauges the caller measured now. */
  render(gauges: Gauge[]): string {
    const out = new Exposition();
    for (const gauge of gauges) out.family(gauge.name, gauge.type ?? 'gauge', gauge.help, gauge.samples);
    out.family('wsgate_upgrades_total', 'counter', 'WebSocket upgrades by outcome; host is empty for hosts that are not configured.', [...this.#upgrades].map(([key, value]) => {
      const [host, result, reason] = key.split(SEP);
      return { labels: { host: host!, result: result!, reason: reason! }, value };
    }));
    const traffic = [...this.#traffic];
    const per = (pick: (t: HostTraffic) => number) => traffic.map(([host, t]) => ({ labels: { host }, value: pick(t) }));
    out.family('wsgate_frames_in_total', 'counter', 'Frames received from clients.', per((t) => t.framesIn));
    out.family('wsgate_frames_out_total', 'counter', 'Frames sent to clients (a cast counts once per socket it reached).', per((t) => t.framesOut));
    out.family('wsgate_bytes_in_total', 'counter', 'Payload bytes received from clients (UTF-8 of text frames).', per((t) => t.bytesIn));
    out.family('wsgate_bytes_out_total', 'counter', 'Payload bytes sent to clients.', per((t) => t.bytesOut));
    const casts = [...this.#casts].map(([key, entry]) => {
      const [host, kind] = key.split(SEP);
      return { labels: { host: host!, kind: kind! }, entry };
    });
    out.family('wsgate_casts_total', 'counter', 'Casts (bridge, module hooks, presence events) by target kind.', casts.map(({ labels, entry }) => ({ labels, value: entry.casts })));
    out.family('wsgate_deliveries_total', 'counter', 'Sockets reached by casts, by target kind.', casts.map(({ labels, entry }) => ({ labels, value: entry.deliveries })));
    const hooks = [...this.#hooks.values()];
    out.family('wsgate_hook_runs_total', 'counter', 'Hook runs by host, hook, mode and result.', hooks.flatMap((s) => [
      { labels: { host: s.host, hook: s.hook, mode: s.mode, result: 'ok' }, value: s.ok },
      { labels: { host: s.host, hook: s.hook, mode: s.mode, result: 'failed' }, value: s.failed },
    ]));
    out.histogram('wsgate_hook_duration_seconds', 'How long hooks took, by host, hook and mode.', hooks);
    return out.text();
  }
}

export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export interface Gauge {
  name: string;
  help: string;
  type?: 'gauge' | 'counter';
  samples: Sample[];
}

/** Label values escaped as the text format asks: backslash, quote, newline. */
const escape = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function labelText(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(([key, value]) => `${key}="${escape(value)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]): void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const sample of samples) this.#lines.push(`${name}${labelText(sample.labels)} ${sample.value}`);
  }

  histogram(name: string, help: string, series: HookSeries[]): void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const s of series) {
      const labels = { host: s.host, hook: s.hook, mode: s.mode };
      let running = 0;
      HOOK_BUCKETS.forEach((bound, i) => {
        running += s.buckets[i]!;
        this.#lines.push(`${name}_bucket${labelText({ ...labels, le: String(bound) })} ${running}`);
      });
      const count = s.ok + s.failed;
      this.#lines.push(`${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`, `${name}_sum${labelText(labels)} ${s.sum}`, `${name}_count${labelText(labels)} ${count}`);
    }
  }

  text(): string {
    return `${this.#lines.join('\n')}\n`;
  }
}
