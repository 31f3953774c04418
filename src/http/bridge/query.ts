/**
 * The query of a bridge GET route through `hono/validator`: first the host it
 * names (query or X-Phlo-Host), then its valibot schema; the handler reads
 * both with `c.req.valid('query')`.
 */
import * as v from 'valibot';
import { validator } from 'hono/validator';
import { bridgeHost, error } from './answer.ts';
import type { BridgeGateway } from './gateway.ts';

/** A repeated parameter counts by its first value, as `c.req.query(name)` reads it. */
const firstValues = (query: Record<string, string | string[]>) =>
  Object.fromEntries(Object.entries(query).map(([name, value]) => [name, Array.isArray(value) ? value[0] : value]));

export function hostQuery<S extends v.GenericSchema<Record<string, unknown>, object>>(gateway: BridgeGateway, schema: S) {
  return validator('query', (query, c) => {
    const given = firstValues(query);
    const found = bridgeHost(c, gateway, given.host);
    if ('reason' in found) return error(c, 400, found.reason);
    const parsed = v.safeParse(schema, given);
    if (!parsed.success) return error(c, 400, parsed.issues[0].message);
    return { host: found.host, ...(parsed.output as v.InferOutput<S>) };
  });
}
