/** What every bridge route shares: its error answer, the host a request names, and the cluster's word on a spread. */
import type { Context } from 'hono';
import { normaliseHost } from '../../config/hosts.ts';
import type { Spread } from '../../core/publishing.ts';
import type { BridgeGateway } from './gateway.ts';

export const error = (c: Context, status: 400 | 405 | 413 | 500 | 503, message: string) => c.json({ status: 'error', message }, status);

/** In a cluster, which nodes answered (and which did not, or why only this one did). */
export const spreadFields = (spread: Spread<unknown>) => (spread.nodes ? { nodes: spread.nodes } : {});

/** The configured host a bridge request names (body or query, else X-Phlo-Host), or the reason it names none. */
export function bridgeHost(c: Context, gateway: BridgeGateway, given: string | null | undefined): { host: string } | { reason: string } {
  const raw = given || c.req.header('x-phlo-host');
  if (!raw) return { reason: 'host is required: give "host" in the body or the X-Phlo-Host header' };
  const host = normaliseHost(raw);
  return gateway.isConfigured(host) ? { host } : { reason: `host "${host}" is not configured` };
}
