/**
 * The HTTP side PHP talks to: POST /message (the cast bridge) and GET /health.
 * Validation and answers only; the gateway does the casting.
 */
import * as v from 'valibot';
import type { Context } from 'hono';
import { normaliseHost } from './hosts.ts';
import { parseExcept, parseTarget } from './targets.ts';
import type { Selection } from './targets.ts';
import type { HostStats } from './hub.ts';
import type { PoolsHealth } from './pool/pools.ts';

export interface BridgeGateway {
  isConfigured(host: string): boolean;
  cast(host: string, selection: Selection, data: unknown, except: string | undefined): number;
  stats(): Record<string, HostStats>;
  poolHealth(): PoolsHealth;
  configured(): string[];
  maxBody: number;
}

const MessageBody = v.looseObject({
  host: v.optional(v.nullable(v.string('expected host to be a string'))),
  target: v.optional(v.unknown()),
  except: v.optional(v.unknown()),
  data: v.unknown(),
});

const error = (c: Context, status: 400 | 404 | 405 | 413 | 415, message: string) => c.json({ status: 'error', message }, status);

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

export async function handleMessage(c: Context, gateway: BridgeGateway): Promise<Response> {
  const text = await readCapped(c.req.raw, gateway.maxBody);
  if (text === undefined) return error(c, 413, `body is larger than the limit of ${gateway.maxBody} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return error(c, 400, text.trim() ? `body is not valid JSON: ${(e as Error).message}` : 'body is empty: expected a JSON object');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return error(c, 400, 'body must be a JSON object like {"host": "...", "target": "all", "data": {...}}');
  }
  const body = v.safeParse(MessageBody, json);
  if (!body.success) return error(c, 400, body.issues[0].message);
  const rawHost = body.output.host || c.req.header('x-phlo-host');
  if (!rawHost) return error(c, 400, 'host is required: give "host" in the body or the X-Phlo-Host header');
  const host = normaliseHost(rawHost);
  if (!gateway.isConfigured(host)) return error(c, 400, `host "${host}" is not configured`);
  const target = parseTarget(body.output.target);
  if (!target.ok) return error(c, 400, target.reason);
  const except = parseExcept(body.output.except);
  if (!except.ok) return error(c, 400, except.reason);
  // The old servers send {} when data is missing; keep that, but send every value that was given as it came.
  const data = 'data' in json ? body.output.data : {};
  const sent = gateway.cast(host, target.selection, data, except.except);
  return c.json({ status: 'ok', host, sent });
}

export function handleHealth(c: Context, gateway: BridgeGateway): Response {
  const sockets = gateway.stats();
  const registered = Object.keys(sockets);
  const hosts: Record<string, { tokens: number; sockets: number }> = {};
  for (const host of registered) hosts[host] = { tokens: sockets[host]!.tokens, sockets: sockets[host]!.sockets };
  const configured = gateway.configured();
  const { workers, cap, pools } = gateway.poolHealth();
  return c.json({ status: 'ok', workers, cap, pools, sockets, registered, hosts, configured });
}
