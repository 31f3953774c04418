/**
 * The bridge and the ops pages as Hono routes: /message, /subscribe,
 * /unsubscribe, /presence, /history, /disconnect, /dispatch, /reload behind
 * the access check; /metrics and /dashboard behind it or the Basic secret;
 * /health for anyone, its numbers for trusted callers.
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { handleDisconnect, handleDispatch, handleHealth, handleHistory, handleMetrics, handleMessage, handlePresence, handleSubscribe } from './bridge.ts';
import { dashboardPage } from '../ops/dashboard-page.ts';
import type { Gateway } from '../gateway.ts';
import type { Logger } from '../ops/log.ts';
import type { ServerOptions } from './server.ts';

/** The bridge alone, for its own address (`"bridge"` in the config). */
export function createBridgeApp(gateway: Gateway, options: ServerOptions): Hono {
  const app = new Hono();
  mountBridge(app, gateway, options);
  finish(app, options.log);
  return app;
}

/** /message, /dispatch, /reload and /health, behind the access check. */
export function mountBridge(app: Hono, gateway: Gateway, options: ServerOptions): void {
  const log = options.log;
  // The bridge moves data to every user: only trusted callers get in.
  const guard = async (c: Context, next: () => Promise<void>) => {
    const trust = options.trusted(c);
    if (trust.ok) return next();
    log.warn('bridge refused', { path: c.req.path, reason: `${trust.reason} and no valid bearer secret` });
    c.header('WWW-Authenticate', 'Bearer');
    return c.json({ status: 'error', message: 'this endpoint needs Authorization: Bearer <secret> when called from another machine, through a proxy, or from a web page' }, 401);
  };
  const basicGuard = async (c: Context, next: () => Promise<void>) => {
    const trust = options.trusted(c, true);
    if (trust.ok) return next();
    log.warn('bridge refused', { path: c.req.path, reason: `${trust.reason} and no valid secret` });
    c.header('WWW-Authenticate', 'Basic realm="wsgate", charset="UTF-8"');
    return c.json({ status: 'error', message: 'this page needs Authorization: Bearer <secret> (or the secret as the Basic password) when opened from another machine or through a proxy' }, 401);
  };
  app.use('/message', guard);
  app.use('/dispatch', guard);
  app.use('/reload', guard);
  app.use('/subscribe', guard);
  app.use('/unsubscribe', guard);
  app.use('/presence', guard);
  app.use('/history', guard);
  app.use('/disconnect', guard);
  app.use('/metrics', basicGuard);
  // Browsers ask for Basic auth when told to: the dashboard works from a remote browser with the secret as password.
  app.use('/dashboard', basicGuard);
  app.use('/dashboard/*', basicGuard);
  app.post('/message', (c) => handleMessage(c, gateway));
  app.post('/subscribe', (c) => handleSubscribe(c, gateway, true));
  app.post('/unsubscribe', (c) => handleSubscribe(c, gateway, false));
  app.get('/presence', (c) => handlePresence(c, gateway));
  app.get('/history', (c) => handleHistory(c, gateway));
  app.post('/disconnect', (c) => handleDisconnect(c, gateway));
  app.get('/metrics', (c) => handleMetrics(c, gateway));
  app.get('/dashboard', dashboardPage);
  app.get('/dashboard/data', async (c) => {
    const about = options.about ?? { runtime: 'unknown', version: '', node: 'this node' };
    const feed = gateway.feed;
    const data = gateway.dashboard(feed.resume(c.req.query('feed'), Number(c.req.query('after') ?? 0) || 0));
    let nodes = [{ node: about.node, sockets: data.sockets, state: 'this node' }];
    const cluster = gateway.cluster;
    if (cluster) {
      const { value, nodes: spread } = await gateway.healthEverywhere();
      nodes = Object.entries(value.perNode).map(([node, n]) => ({ node, sockets: n.sockets, state: node === cluster.node ? (cluster.up ? 'this node' : `this node, degraded: ${cluster.reason}`) : 'up' }));
      for (const node of spread?.missing ?? []) nodes.push({ node, sockets: 0, state: 'not answering' });
      // Hosts and sockets over the whole cluster, as /health says them: whichever node a poll reaches shows the same.
      data.hosts = Object.entries(value.sockets)
        .map(([host, stats]) => ({ host, sockets: stats.sockets, tokens: stats.tokens }))
        .sort((a, b) => b.sockets - a.sockets);
      data.sockets = data.hosts.reduce((total, host) => total + host.sockets, 0);
    }
    return c.json({ ...data, feed: feed.id, runtime: about.runtime, version: about.version, node: about.node, nodes });
  });
  // Anyone may ask whether it is up; the numbers are for trusted callers.
  app.get('/health', async (c) => (options.trusted(c).ok ? handleHealth(c, gateway) : c.json({ status: 'ok' })));
  app.post('/dispatch', (c) => handleDispatch(c, gateway, options.dispatcher, log));
  app.post('/reload', async (c) => {
    const result = await options.reload();
    return result.ok ? c.json({ status: 'ok', hosts: result.hosts }) : c.json({ status: 'error', message: 'the config has errors; nothing changed', problems: result.problems }, 400);
  });
  app.all('/message', (c) => c.json({ status: 'error', message: 'use POST for /message' }, 405));
  app.all('/dispatch', (c) => c.json({ status: 'error', message: 'use POST for /dispatch' }, 405));
}

export function finish(app: Hono, log: Logger): void {
  app.notFound((c) => c.json({ status: 'error', message: 'not found' }, 404));
  app.onError((error, c) => {
    // Runtimes that build the request URL from a malformed Host throw here.
    if (error instanceof TypeError && /invalid url/i.test(error.message)) {
      return c.json({ status: 'error', message: 'bad request URL or Host header' }, 400);
    }
    log.error('request failed', { path: c.req.path, error: error.message });
    return c.json({ status: 'error', message: 'internal error' }, 500);
  });
}
