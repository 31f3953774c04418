/**
 * The HTTP side PHP talks to: POST /message (the cast bridge) and GET /health.
 * Validation and answers only; the gateway does the casting.
 */
import * as v from 'valibot';
import type { Context } from 'hono';
import { normaliseHost } from '../config/hosts.ts';
import { channelProblem, parseExcept, parseTarget } from '../core/targets.ts';
import type { Selection } from '../core/targets.ts';
import type { HostStats } from '../core/hub.ts';
import type { Presence, Spread } from '../gateway.ts';
import type { Position, Since } from '../core/history/history.ts';
import type { PoolsHealth } from '../hooks/pool/pools.ts';
import type { AppCheck, DispatchJob } from '../hooks/dispatch.ts';
import type { Logger } from '../ops/log.ts';
import type { HookOutcome } from '../hooks/runners/runner.ts';

export interface BridgeDispatcher {
  check(app: string): Promise<AppCheck>;
  run(job: DispatchJob, onLine?: (line: string) => void, signal?: AbortSignal): Promise<HookOutcome>;
  /** Why the job would be refused at once (its cap's queue is full), if it would. */
  refusal(job: DispatchJob): string | undefined;
}

export interface BridgeGateway {
  isConfigured(host: string): boolean;
  castEverywhere(host: string, selection: Selection, data: unknown, except: string | undefined): Promise<Spread<number>>;
  subscribeEverywhere(host: string, selection: Selection, channel: string, join: boolean): Promise<Spread<number>>;
  disconnectEverywhere(host: string, selection: Selection, code: number, reason: string): Promise<Spread<number>>;
  presenceEverywhere(host: string, channel: string): Promise<Spread<Presence>>;
  healthEverywhere(): Promise<Spread<{ sockets: Record<string, HostStats>; perNode: Record<string, { sockets: number; workers: number }> }>>;
  readonly cluster: { node: string; up: boolean; reason?: string; nodes(): string[] } | undefined;
  history(host: string, stream: { channel: string } | { token: string }, since?: Position): Since | undefined;
  stats(): Record<string, HostStats>;
  poolHealth(): PoolsHealth;
  /** Streams with history held, gone tokens whose frames are kept for replay, and the memory budget they share. */
  recoveryHealth(): { streams: number; replaying: number; bytes: number; budget: number; evicted: number };
  metricsText(): string;
  configured(): string[];
  /** Sockets admitted but not open yet (auth running, or waiting for the auth frame). */
  readonly admissions: { readonly size: number };
  maxBody: number;
}

const MessageBody = v.looseObject({
  host: v.optional(v.nullable(v.string('expected host to be a string'))),
  target: v.optional(v.unknown()),
  except: v.optional(v.unknown()),
  // Optional: valibot counts a missing key of a plain unknown() as an issue, and a missing data sends {}.
  data: v.optional(v.unknown()),
});

const SubscribeBody = v.looseObject({
  host: v.optional(v.nullable(v.string('expected host to be a string'))),
  target: v.optional(v.unknown()),
  channel: v.string('channel must be a string'),
});

/** Close codes an app may send: normal, going away, policy, try again later, and the private range. */
const closeCode = (code: number) => [1000, 1001, 1008, 1011, 1012, 1013].includes(code) || (code >= 3000 && code <= 4999);
const DisconnectBody = v.looseObject({
  host: v.optional(v.nullable(v.string('expected host to be a string'))),
  target: v.optional(v.unknown()),
  code: v.optional(v.pipe(v.number('code must be a number'), v.check(closeCode, 'code must be 1000, 1001, 1008, 1011, 1012, 1013 or 3000-4999'))),
  reason: v.optional(v.pipe(v.string('reason must be a string'), v.check((r) => new TextEncoder().encode(r).byteLength <= 123, 'reason must be at most 123 bytes'))),
});

const DispatchBody = v.looseObject({
  app: v.string('app must be the path of an app.php'),
  target: v.pipe(v.string('target must be a string such as "tasks::run"'), v.nonEmpty('target must not be empty')),
  args: v.optional(v.unknown()),
  stream: v.optional(v.boolean('stream must be true or false')),
  async: v.optional(v.boolean('async must be true or false')),
  build: v.optional(v.boolean('build must be true (one-shot) or false (resident pool)')),
});

/** valibot's words for a missing key are its own; say which field is missing instead. */
function problem(issue: v.BaseIssue<unknown>): string {
  const key = issue.path?.[0]?.key;
  if (issue.received === 'undefined' && typeof key === 'string') return `${key} is required`;
  return issue.message;
}

/** In a cluster, which nodes answered (and which did not, or why only this one did). */
const spreadFields = (spread: Spread<unknown>) => (spread.nodes ? { nodes: spread.nodes } : {});

const error = (c: Context, status: 400 | 404 | 405 | 413 | 415 | 500 | 503, message: string) => c.json({ status: 'error', message }, status);

/** Reads a body of at most `limit` bytes; undefined when it is larger (without reading the rest). */
async function readCapped(request: Request, limit: number): Promise<string | undefined> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) return undefined;
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** The request body as a JSON object, or the error response to send instead. */
async function readObject(c: Context, limit: number, example: string): Promise<{ json: object } | { response: Response }> {
  const text = await readCapped(c.req.raw, limit);
  if (text === undefined) return { response: error(c, 413, `body is larger than the limit of ${limit} bytes`) };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { response: error(c, 400, text.trim() ? `body is not valid JSON: ${(e as Error).message}` : 'body is empty: expected a JSON object') };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { response: error(c, 400, `body must be a JSON object like ${example}`) };
  }
  return { json };
}

export async function handleMessage(c: Context, gateway: BridgeGateway): Promise<Response> {
  const read = await readObject(c, gateway.maxBody, '{"host": "...", "target": "all", "data": {...}}');
  if ('response' in read) return read.response;
  const json = read.json;
  const body = v.safeParse(MessageBody, json);
  if (!body.success) return error(c, 400, problem(body.issues[0]));
  const found = bridgeHost(c, gateway, body.output.host);
  if ('reason' in found) return error(c, 400, found.reason);
  const host = found.host;
  const target = parseTarget(body.output.target);
  if (!target.ok) return error(c, 400, target.reason);
  const except = parseExcept(body.output.except);
  if (!except.ok) return error(c, 400, except.reason);
  // The old servers send {} when data is missing; keep that, but send every value that was given as it came.
  const data = 'data' in json ? body.output.data : {};
  const spread = await gateway.castEverywhere(host, target.selection, data, except.except);
  return c.json({ status: 'ok', host, sent: spread.value, ...spreadFields(spread) });
}

/** The configured host a bridge request names (body, else X-Phlo-Host), or the reason it names none. */
function bridgeHost(c: Context, gateway: BridgeGateway, given: string | null | undefined): { host: string } | { reason: string } {
  const raw = given || c.req.header('x-phlo-host');
  if (!raw) return { reason: 'host is required: give "host" in the body or the X-Phlo-Host header' };
  const host = normaliseHost(raw);
  return gateway.isConfigured(host) ? { host } : { reason: `host "${host}" is not configured` };
}

/** POST /subscribe and /unsubscribe: {host, target, channel}; every socket the target picks joins (leaves) the channel. */
export async function handleSubscribe(c: Context, gateway: BridgeGateway, join: boolean): Promise<Response> {
  const read = await readObject(c, gateway.maxBody, '{"host": "...", "target": "token:<t>", "channel": "room:1"}');
  if ('response' in read) return read.response;
  const body = v.safeParse(SubscribeBody, read.json);
  if (!body.success) return error(c, 400, problem(body.issues[0]));
  const found = bridgeHost(c, gateway, body.output.host);
  if ('reason' in found) return error(c, 400, found.reason);
  const channelIssue = channelProblem(body.output.channel);
  if (channelIssue) return error(c, 400, channelIssue);
  const target = parseTarget(body.output.target);
  if (!target.ok) return error(c, 400, target.reason);
  const spread = await gateway.subscribeEverywhere(found.host, target.selection, body.output.channel, join);
  return c.json({ status: 'ok', host: found.host, channel: body.output.channel, [join ? 'joined' : 'left']: spread.value, ...spreadFields(spread) });
}

/** POST /disconnect {host, target, code?, reason?}: closes every socket the target picks (their clients may come back). */
export async function handleDisconnect(c: Context, gateway: BridgeGateway): Promise<Response> {
  const read = await readObject(c, gateway.maxBody, '{"host": "...", "target": "token:<t>", "code": 1000, "reason": "..."}');
  if ('response' in read) return read.response;
  const body = v.safeParse(DisconnectBody, read.json);
  if (!body.success) return error(c, 400, problem(body.issues[0]));
  const found = bridgeHost(c, gateway, body.output.host);
  if ('reason' in found) return error(c, 400, found.reason);
  if (body.output.target === undefined) return error(c, 400, 'target is required: "all" closes every socket of the host, so say it');
  const target = parseTarget(body.output.target);
  if (!target.ok) return error(c, 400, target.reason);
  const spread = await gateway.disconnectEverywhere(found.host, target.selection, body.output.code ?? 1000, body.output.reason ?? 'disconnected by the app');
  return c.json({ status: 'ok', host: found.host, closed: spread.value, ...spreadFields(spread) });
}

/** GET /presence?host=&channel=: the channel's sockets, tokens (sha256) and each socket's info. */
export async function handlePresence(c: Context, gateway: BridgeGateway): Promise<Response> {
  const found = bridgeHost(c, gateway, c.req.query('host'));
  if ('reason' in found) return error(c, 400, found.reason);
  const channel = c.req.query('channel') ?? '';
  const channelIssue = channelProblem(channel);
  if (channelIssue) return error(c, 400, `${channelIssue} (give ?channel=)`);
  const spread = await gateway.presenceEverywhere(found.host, channel);
  return c.json({ status: 'ok', host: found.host, channel, ...spread.value, ...spreadFields(spread) });
}

/**
 * GET /history?host=&channel=&since=&epoch= (or &token= for a token's
 * casts, channel=@all for the host-wide ones): the publications after
 * `since`, or all the stream holds. The frames are JSON already, so the body
 * is put together around them rather than parsed and written again.
 */
export function handleHistory(c: Context, gateway: BridgeGateway): Response {
  const found = bridgeHost(c, gateway, c.req.query('host'));
  if ('reason' in found) return error(c, 400, found.reason);
  const channel = c.req.query('channel');
  const token = c.req.query('token');
  if ((channel === undefined) === (token === undefined)) return error(c, 400, 'give ?channel=<name> (or @all for host-wide casts), or ?token=<t> for casts to a token');
  if (channel !== undefined) {
    const channelIssue = channelProblem(channel);
    if (channelIssue) return error(c, 400, channelIssue);
  }
  const sinceText = c.req.query('since');
  const epoch = c.req.query('epoch');
  let since: Position | undefined;
  if (sinceText !== undefined) {
    const offset = Number(sinceText);
    if (!/^\d+$/.test(sinceText) || !Number.isSafeInteger(offset)) return error(c, 400, 'since must be an offset: a whole number of 0 or more');
    if (!epoch) return error(c, 400, 'since needs the epoch it belongs to: give &epoch=');
    since = { epoch, offset };
  }
  const got = gateway.history(found.host, channel !== undefined ? { channel } : { token: token! }, since);
  if (!got) return error(c, 400, channel !== undefined ? `channel "${channel}" keeps no history: give its pattern "history" in "channels" (or the host "history" for @all)` : 'casts to tokens keep no history on this host: give the host "history"');
  const head = { status: 'ok', host: found.host, ...(channel !== undefined ? { channel } : {}), epoch: got.top.epoch, offset: got.top.offset, ...(since ? { recovered: got.recovered } : {}) };
  const publications = got.publications.map((p) => `{"offset":${p.offset},"data":${p.frame}}`).join(',');
  return c.body(`${JSON.stringify(head).slice(0, -1)},"publications":[${publications}]}`, 200, { 'content-type': 'application/json' });
}

/** GET /metrics: Prometheus text format. */
export function handleMetrics(c: Context, gateway: BridgeGateway): Response {
  return c.body(gateway.metricsText(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
}

export async function handleHealth(c: Context, gateway: BridgeGateway): Promise<Response> {
  const { value, nodes } = await gateway.healthEverywhere();
  const sockets = value.sockets;
  const hosts: Record<string, { tokens: number; sockets: number }> = {};
  for (const [host, stats] of Object.entries(sockets)) hosts[host] = { tokens: stats.tokens, sockets: stats.sockets };
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
  }
  return c.json(body);
}

/** POST /dispatch: run any target of a configured app, sync, async (202) or streamed (ndjson). */
export async function handleDispatch(c: Context, gateway: BridgeGateway, dispatcher: BridgeDispatcher, log: Logger): Promise<Response> {
  const read = await readObject(c, gateway.maxBody, '{"app": "/srv/app/www/app.php", "target": "tasks::run", "args": []}');
  if ('response' in read) return read.response;
  const body = v.safeParse(DispatchBody, read.json);
  if (!body.success) return error(c, 400, problem(body.issues[0]));
  const { target, stream, build } = body.output;
  const checked = await dispatcher.check(body.output.app);
  if (!checked.ok) return error(c, 400, checked.reason);
  const rawArgs = body.output.args;
  const args = rawArgs === undefined ? [] : Array.isArray(rawArgs) ? rawArgs : [rawArgs];
  const job: DispatchJob = { app: checked.app, target, args, build: build ?? false };
  const logFailure = (message: string, stderr?: string) => log.error('dispatch failed', { app: job.app, target, error: message, stderr });

  if (body.output.async) {
    // Checked and queued in the same turn, so the answer holds: 503 now rather than a 202 for a job that cannot wait.
    const busy = dispatcher.refusal(job);
    if (busy) {
      log.warn('dispatch refused', { app: job.app, target, reason: busy });
      return error(c, 503, busy);
    }
    void dispatcher.run(job).then((outcome) => {
      if (!outcome.ok) logFailure(outcome.error, outcome.stderr);
    });
    return c.json({ status: 'ok', queued: true }, 202);
  }

  if (stream) {
    const encoder = new TextEncoder();
    const frames = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (frame: object) => {
          try {
            controller.enqueue(encoder.encode(`${JSON.stringify(frame)}\n`));
          } catch {
            // The caller went away; the job still runs to its end.
          }
        };
        void dispatcher.run(job, (data) => send({ t: 'line', data })).then((outcome) => {
          if (outcome.ok) send({ t: 'done', result: outcome.result });
          else {
            logFailure(outcome.error, outcome.stderr);
            send({ t: 'error', message: outcome.error });
          }
          try {
            controller.close();
          } catch {
            // Already cancelled by the caller.
          }
        });
      },
    });
    return new Response(frames, { status: 200, headers: { 'content-type': 'application/x-ndjson' } });
  }

  const outcome = await dispatcher.run(job);
  if (!outcome.ok) {
    logFailure(outcome.error, outcome.stderr);
    return error(c, outcome.busy ? 503 : 500, outcome.error);
  }
  return c.json({ status: 'ok', result: outcome.result ?? null });
}
