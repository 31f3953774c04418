/** POST /message (a cast to the sockets a target picks) and POST /disconnect (closing them). */
import { Hono } from 'hono';
import { parseExcept, parseTarget } from '../../core/targets.ts';
import { bridgeHost, error, spreadFields } from './answer.ts';
import { capBody, jsonBody } from './body.ts';
import type { BridgeGateway } from './gateway.ts';
import { DisconnectBody, MessageBody } from './schemas.ts';

export function castRoutes(gateway: BridgeGateway): Hono {
  const cap = capBody(() => gateway.maxBody);
  return new Hono()
    .post('/message', cap, jsonBody(MessageBody, '{"host": "...", "target": "all", "data": {...}}'), async (c) => {
      const body = c.req.valid('json');
      const found = bridgeHost(c, gateway, body.host);
      if ('reason' in found) return error(c, 400, found.reason);
      const target = parseTarget(body.target);
      if (!target.ok) return error(c, 400, target.reason);
      const except = parseExcept(body.except);
      if (!except.ok) return error(c, 400, except.reason);
      const spread = await gateway.castEverywhere(found.host, target.selection, body.data, except.except);
      return c.json({ status: 'ok', host: found.host, sent: spread.value, ...spreadFields(spread) });
    })
    .all('/message', (c) => error(c, 405, 'use POST for /message'))
    .post('/disconnect', cap, jsonBody(DisconnectBody, '{"host": "...", "target": "token:<t>", "code": 1000, "reason": "..."}'), async (c) => {
      const body = c.req.valid('json');
      const found = bridgeHost(c, gateway, body.host);
      if ('reason' in found) return error(c, 400, found.reason);
      if (body.target === undefined) return error(c, 400, 'target is required: "all" closes every socket of the host, so say it');
      const target = parseTarget(body.target);
      if (!target.ok) return error(c, 400, target.reason);
      const spread = await gateway.disconnectEverywhere(found.host, target.selection, body.code ?? 1000, body.reason ?? 'disconnected by the app');
      return c.json({ status: 'ok', host: found.host, closed: spread.value, ...spreadFields(spread) });
    });
}
