/**
 * The channel side of the bridge: POST /subscribe and /unsubscribe (sockets
 * join or leave a channel), GET /presence (who is in one) and GET /history
 * (what was published in one, or to a token).
 */
import type * as v from 'valibot';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { channelProblem, parseTarget } from '../../core/targets.ts';
import { bridgeHost, error, spreadFields } from './answer.ts';
import { capBody, jsonBody } from './body.ts';
import type { BridgeGateway } from './gateway.ts';
import { hostQuery } from './query.ts';
import { HistoryQuery, PresenceQuery, SubscribeBody } from './schemas.ts';

export function channelRoutes(gateway: BridgeGateway): Hono {
  const cap = capBody(() => gateway.maxBody);
  const subscribeBody = jsonBody(SubscribeBody, '{"host": "...", "target": "token:<t>", "channel": "room:1"}');
  /** Every socket the target picks joins (leaves) the channel. */
  const subscribe = (join: boolean) => async (c: Context<object, string, { out: { json: v.InferOutput<typeof SubscribeBody> } }>) => {
    const body = c.req.valid('json');
    const found = bridgeHost(c, gateway, body.host);
    if ('reason' in found) return error(c, 400, found.reason);
    const channelIssue = channelProblem(body.channel);
    if (channelIssue) return error(c, 400, channelIssue);
    const target = parseTarget(body.target);
    if (!target.ok) return error(c, 400, target.reason);
    const spread = await gateway.subscribeEverywhere(found.host, target.selection, body.channel, join);
    return c.json({ status: 'ok', host: found.host, channel: body.channel, [join ? 'joined' : 'left']: spread.value, ...spreadFields(spread) });
  };
  return new Hono()
    .post('/subscribe', cap, subscribeBody, subscribe(true))
    .post('/unsubscribe', cap, subscribeBody, subscribe(false))
    .get('/presence', hostQuery(gateway, PresenceQuery), async (c) => {
      const { host, channel } = c.req.valid('query');
      const spread = await gateway.presenceEverywhere(host, channel);
      return c.json({ status: 'ok', host, channel, ...spread.value, ...spreadFields(spread) });
    })
    .get('/history', hostQuery(gateway, HistoryQuery), (c) => {
      const { host, channel, stream, since } = c.req.valid('query');
      const got = gateway.history(host, stream, since);
      if (!got) return error(c, 400, channel !== undefined ? `channel "${channel}" keeps no history: give its pattern "history" in "channels" (or the host "history" for @all)` : 'casts to tokens keep no history on this host: give the host "history"');
      const head = { status: 'ok', host, ...(channel !== undefined ? { channel } : {}), epoch: got.top.epoch, offset: got.top.offset, ...(since ? { recovered: got.recovered } : {}) };
      // The frames are JSON already: the body is put together around them rather than parsed and written again.
      const publications = got.publications.map((p) => `{"offset":${p.offset},"data":${p.frame}}`).join(',');
      return c.body(`${JSON.stringify(head).slice(0, -1)},"publications":[${publications}]}`, 200, { 'content-type': 'application/json' });
    });
}
