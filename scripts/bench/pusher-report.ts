/**
 * What scripts/bench/pusher-fanout.ts measures, and its tables: the fan-out
 * passes (medians, Pusher against plain, every pass) and the API cells
 * (means per caller count, the API against the bridge).
 */
import { fmt, median } from './harness.ts';

export const TARGETS = ['baseline-bun', 'wsgate-plain', 'wsgate-pusher', 'wsgate-mixed'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface FanoutPass {
  target: TargetName;
  pass: number;
  order: number;
  rss0Kb: number;
  rssIdleKb: number;
  memPerSocketKb: number;
  connectCpuUs: number;
  castTicks: number;
  cpuPerDeliveryUs: number;
  userPerDeliveryUs: number;
  sysPerDeliveryUs: number;
  schedPerDeliveryUs: number;
  clientPerDeliveryUs: number;
  latencyP50Ms: number;
  postP50Ms: number;
  otherPct: number;
  frameBytes: string;
  pings: number;
  error?: string;
}

export interface ApiCell {
  via: 'bridge' | 'api';
  callers: number;
  cell: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  answerP50Ms: number;
  answerP99Ms: number;
  receiptP50Ms: number;
  receiptP99Ms: number;
  cpuPerEventUs: number;
  userPerEventUs: number;
  sysPerEventUs: number;
  clientCpuPerEventUs: number;
  otherPct: number;
  /** Pusher pings the subscribers answered (the server pings a connection quiet for its activity timeout). */
  pings: number;
  error?: string;
}

export interface ApiPart {
  skipped?: string;
  signer?: string;
  sdkTrigger?: string;
  cells: ApiCell[];
}

const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN);
const x = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : '');

function medianOf(passes: FanoutPass[], target: TargetName, key: keyof FanoutPass): number {
  return median(passes.filter((p) => p.target === target && !p.error).map((p) => p[key] as number));
}

export function fanoutReport(passes: FanoutPass[], targets: TargetName[]): string {
  const out: string[] = [];
  const m = (t: TargetName, k: keyof FanoutPass) => medianOf(passes, t, k);
  out.push(`| server | frame bytes | CPU µs / delivery | user / kernel µs | vs bare Bun | KB / idle socket | vs bare Bun | connect CPU µs / socket | last receipt p50 ms | POST answer p50 ms | passes |`);
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of targets) {
    const ok = passes.filter((p) => p.target === t && !p.error);
    if (!ok.length) {
      out.push(`| ${t} | failed: ${passes.find((p) => p.target === t)?.error?.replace(/\|/g, '/').slice(0, 160)} |||||||||| 0 |`);
      continue;
    }
    const base = t === 'baseline-bun' ? undefined : 'baseline-bun';
    out.push(
      `| ${t} | ${ok[0]!.frameBytes} | ${fmt(m(t, 'cpuPerDeliveryUs'))} | ${fmt(m(t, 'userPerDeliveryUs'))} / ${fmt(m(t, 'sysPerDeliveryUs'))} | ${base ? x(ratio(m(t, 'cpuPerDeliveryUs'), m(base, 'cpuPerDeliveryUs'))) : ''} | ` +
        `${fmt(m(t, 'memPerSocketKb'), 2)} | ${base ? x(ratio(m(t, 'memPerSocketKb'), m(base, 'memPerSocketKb'))) : ''} | ${fmt(m(t, 'connectCpuUs'), 0)} | ${fmt(m(t, 'latencyP50Ms'))} | ${fmt(m(t, 'postP50Ms'), 3)} | ${ok.length} |`,
    );
  }
  // Pusher against plain: the ratio of the medians, and each pass's own ratio (the two ran next to each other in it).
  const perPass = (k: keyof FanoutPass, of: TargetName = 'wsgate-pusher') =>
    [...new Set(passes.map((p) => p.pass))].map((pass) => {
      const a = passes.find((p) => p.pass === pass && p.target === of && !p.error);
      const b = passes.find((p) => p.pass === pass && p.target === 'wsgate-plain' && !p.error);
      return ratio(a?.[k] as number | undefined, b?.[k] as number | undefined);
    });
  if (targets.includes('wsgate-plain') && (targets.includes('wsgate-pusher') || targets.includes('wsgate-mixed'))) {
    out.push('', '| Pusher / plain (target <= 1.15x) | ratio of medians | each pass | met |', '|---|---:|---|---|');
    const rows: Array<[string, keyof FanoutPass, boolean]> = !targets.includes('wsgate-pusher') ? [] : [
      ['server CPU per delivery', 'cpuPerDeliveryUs', true],
      ['of which user-mode', 'userPerDeliveryUs', false],
      ['same, schedstat ns', 'schedPerDeliveryUs', false],
      ['RSS per idle socket', 'memPerSocketKb', true],
      ['connect CPU per socket (upgrade + subscribe)', 'connectCpuUs', false],
    ];
    for (const [label, key, target] of rows) {
      const r = ratio(m('wsgate-pusher', key), m('wsgate-plain', key));
      out.push(`| ${label} | ${x(r)} | ${perPass(key).map(x).join(', ')} | ${target ? (r <= 1.15 ? 'yes' : '**no**') : '(information)'} |`);
    }
    if (targets.includes('wsgate-mixed')) {
      for (const [label, key] of [['mixed / plain: server CPU per delivery', 'cpuPerDeliveryUs'], ['mixed / plain: RSS per idle socket', 'memPerSocketKb']] as Array<[string, keyof FanoutPass]>) {
        out.push(`| ${label} | ${x(ratio(m('wsgate-mixed', key), m('wsgate-plain', key)))} | ${perPass(key, 'wsgate-mixed').map(x).join(', ')} | (information) |`);
      }
    }
  }
  out.push('', '### Every pass', '');
  out.push('| pass | order | server | CPU µs/delivery | user / kernel | schedstat µs | client µs/delivery | ticks | KB/socket | RSS 0 → N MB | connect µs/socket | last receipt p50 ms | other % | pings |');
  out.push('|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of passes) {
    if (p.error) {
      out.push(`| ${p.pass} | ${p.order} | ${p.target} | failed: ${p.error.replace(/\|/g, '/').slice(0, 200)} ||||||||||||`);
      continue;
    }
    out.push(
      `| ${p.pass} | ${p.order} | ${p.target} | ${fmt(p.cpuPerDeliveryUs)} | ${fmt(p.userPerDeliveryUs)} / ${fmt(p.sysPerDeliveryUs)} | ${fmt(p.schedPerDeliveryUs)} | ${fmt(p.clientPerDeliveryUs)} | ${p.castTicks} | ` +
        `${fmt(p.memPerSocketKb, 2)} | ${fmt(p.rss0Kb / 1024, 1)} → ${fmt(p.rssIdleKb / 1024, 1)} | ${fmt(p.connectCpuUs, 0)} | ${fmt(p.latencyP50Ms)} | ${fmt(p.otherPct, 1)} | ${p.pings} |`,
    );
  }
  return out.join('\n');
}

export function apiReport(part: ApiPart, callerCounts: number[]): string {
  const out = [part.skipped ? `API cells skipped: ${part.skipped}; the bridge's cells ran alone. Signer: ${part.signer ?? 'not checked'}.` : `Signer: ${part.signer}; ${part.sdkTrigger}.`, ''];
  out.push('| via | callers | cells | events/s | answer p50 / p99 ms | last receipt p50 / p99 ms | server CPU µs/event (user / kernel) | clients µs/event | other % |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const pooled = new Map<string, ApiCell[]>();
  for (const c of part.cells) if (!c.error) pooled.set(`${c.via} ${c.callers}`, [...(pooled.get(`${c.via} ${c.callers}`) ?? []), c]);
  const mean = (cells: ApiCell[], key: keyof ApiCell) => cells.reduce((s, c) => s + (c[key] as number), 0) / cells.length;
  for (const callers of callerCounts) {
    for (const via of ['bridge', 'api'] as const) {
      const cells = pooled.get(`${via} ${callers}`) ?? [];
      if (!cells.length) continue;
      out.push(
        `| ${via === 'api' ? 'POST /apps/1/events (signed)' : 'POST /message channel cast'} | ${callers} | ${cells.length} | ${fmt(mean(cells, 'eventsPerSecond'), 0)} (${cells.map((c) => fmt(c.eventsPerSecond, 0)).join(', ')}) | ` +
          `${fmt(mean(cells, 'answerP50Ms'), 3)} / ${fmt(mean(cells, 'answerP99Ms'), 3)} | ${fmt(mean(cells, 'receiptP50Ms'), 3)} / ${fmt(mean(cells, 'receiptP99Ms'), 3)} | ` +
          `${fmt(mean(cells, 'cpuPerEventUs'), 0)} (${fmt(mean(cells, 'userPerEventUs'), 0)} / ${fmt(mean(cells, 'sysPerEventUs'), 0)}) | ${fmt(mean(cells, 'clientCpuPerEventUs'), 0)} | ${fmt(mean(cells, 'otherPct'), 1)} |`,
      );
    }
    const api = pooled.get(`api ${callers}`);
    const bridge = pooled.get(`bridge ${callers}`);
    if (api?.length && bridge?.length) {
      out.push(
        `| API / bridge | ${callers} | | ${x(ratio(mean(api, 'eventsPerSecond'), mean(bridge, 'eventsPerSecond')))} | ${x(ratio(mean(api, 'answerP50Ms'), mean(bridge, 'answerP50Ms')))} / ${x(ratio(mean(api, 'answerP99Ms'), mean(bridge, 'answerP99Ms')))} | ` +
          `${x(ratio(mean(api, 'receiptP50Ms'), mean(bridge, 'receiptP50Ms')))} / ${x(ratio(mean(api, 'receiptP99Ms'), mean(bridge, 'receiptP99Ms')))} | ${x(ratio(mean(api, 'cpuPerEventUs'), mean(bridge, 'cpuPerEventUs')))} | | |`,
      );
    }
  }
  out.push('', `Pusher pings the subscribers answered during the measured cells (the server pings a connection quiet for its activity timeout): ${part.cells.reduce((n, c) => n + (c.pings ?? 0), 0)}.`);
  for (const c of part.cells.filter((c) => c.error)) out.push('', `FAILED: ${c.via}, ${c.callers} caller(s), cell ${c.cell}: ${c.error}`);
  return out.join('\n');
}
