/** The log lines of what the core does: one line per event, with host and socket; tokens only as a short hash. */
import type { CoreObserver, Notice } from '../core/events.ts';
import { sha256Hex, shortHash } from '../core/ids.ts';
import type { Logger } from './log.ts';
import { throttledLog, type ThrottledLine } from './throttled-log.ts';

export function logObserver(log: Logger): CoreObserver {
  // A refused upgrade costs its sender nothing: a page or a reconnect storm makes thousands a second. Per kind and
  // configured host (the label: a host a stranger names is not a key of its own), a few are written, the rest summed.
  // And per level: a flood of a peer's own info-level refusals must not hide, or sum away, a warning that the gateway is full.
  const limited = throttledLog(log);
  return {
    refused({ host, shown, kind, reason, level, socket, token, origin }, label) {
      const event = kind === 'abandoned' ? 'upgrade abandoned' : 'upgrade refused';
      limited(`refused\0${kind}\0${level}\0${label}`, level, event, { host: shown ?? host, socket, token, origin, reason }, { host: label, kind });
    },
    // A connection with no token of the app's (Pusher's) is named by its protocol instead.
    opened: (client, tokenHash, sockets) => log.info('open', { host: client.host, socket: client.id, ...(tokenHash ? { token: shortHash(tokenHash) } : { protocol: client.protocol.name }), sockets }),
    closed: (client, code, sockets) => log.info('close', { host: client.host, socket: client.id, code, sockets }),
    closing(client, closing) {
      const { host, id: socket } = client;
      switch (closing.kind) {
        case 'limit':
          return log.warn('limit', { host, socket, code: closing.code, reason: closing.reason });
        case 'idle':
          return log.info('idle', { host, socket, seconds: closing.seconds });
        case 'disconnect':
          return log.info('disconnect', { host, socket, code: closing.code });
        case 'host_removed':
          return log.info('host removed', { host, socket });
        case 'connect_refused':
          return log.info('connect refused', { host, socket });
        case 'error':
          return log.error('socket failed', { host, socket, code: closing.code, error: closing.error });
      }
    },
    hook(run) {
      const { host, socket, hook, stderr, error, label } = run;
      const ms = Math.round(run.seconds * 1000);
      // One plain object per run, as every hook run passes here: no spreads.
      if (run.outcome === 'ok' && !stderr) return log.debug('hook', { host, socket, hook, ms, stderr });
      if (run.outcome === 'cancelled') return log.info('hook cancelled', { host, socket, hook, ms });
      // A client makes these at its message rate: input that trips a PHP warning, or fails the hook, on every message.
      // Per configured host, so one host's flood sums away none of another's; the first of a flood are written whole.
      if (run.outcome === 'ok') return limited(`hook stderr\0${label}`, 'warn', 'hook stderr', { host, socket, hook, ms, stderr }, { host: label });
      if (run.outcome === 'busy') return limited(`hook refused\0${label}`, 'warn', 'hook refused', { host, socket, hook, error }, { host: label });
      limited(`hook failed\0${label}`, 'error', 'hook failed', { host, socket, hook, ms, stderr, error }, { host: label });
    },
    cast(host, _label, kind, sent) {
      if (kind !== 'presence') log.debug('cast', { host, target: kind, sent });
    },
    notice: (notice) => logNotice(log, limited, notice),
  };
}

function logNotice(log: Logger, limited: ThrottledLine, n: Notice): void {
  switch (n.kind) {
    case 'replayed':
      return log.info('replayed', { host: n.client.host, socket: n.client.id, frames: n.frames, dropped: n.dropped || undefined });
    case 'recovered':
      return log.info(n.recovered ? 'recovered' : 'not recovered', { host: n.client.host, socket: n.client.id, channel: n.channel, missed: n.missed, from: n.fromStore ? 'redis' : undefined });
    case 'recoveryHeldFull':
      return log.warn('recovery buffer full', { host: n.client.host, socket: n.client.id, channel: n.channel, held: n.held });
    case 'replaySynced':
      return log.info('replay synced', { node: n.node, tokens: n.tokens, forgotten: n.forgotten || undefined, invalid: n.invalid || undefined });
    case 'replaySyncFailed':
      return n.how === 'failed' ? log.error('replay sync failed', { node: n.node, error: n.reason }) : log.warn(`replay sync ${n.how}`, { node: n.node, reason: n.reason });
    case 'replayExpired':
      // Every node keeps a gone token's frames: the node it left says so, the others only in debug.
      return log[n.here ? 'info' : 'debug']('replay expired', { host: n.host, token: shortHash(sha256Hex(n.token)), frames: n.frames });
    case 'historyBudgetFull':
      return log.warn('history budget full', { bytes: n.bytes, budget: n.budget, evicted: n.evicted, evictedTotal: n.evictedTotal });
    case 'grantIgnored':
      return log.warn('grant ignored', { host: n.host, socket: n.socket, hook: n.hook, problem: n.problem });
    // A frame each, which an open socket sends as fast as it likes (while the hooks are busy; past its channel limit).
    case 'messageRefused':
      return limited(`message\0${n.client.route.config.key}`, 'info', 'message refused', { host: n.client.host, socket: n.client.id, reason: n.reason }, { host: n.client.route.config.key });
    case 'subscribe':
      if (!n.refused) return log.info('subscribe', { host: n.client.host, socket: n.client.id, channel: n.channel });
      return limited(`subscribe\0${n.client.route.config.key}`, 'info', 'subscribe refused', { host: n.client.host, socket: n.client.id, channel: n.channel }, { host: n.client.route.config.key });
    case 'joined':
      return log.debug('join', { host: n.client.host, socket: n.client.id, channel: n.channel });
    case 'subscribed':
      return log.debug(n.join ? 'subscribe' : 'unsubscribe', { host: n.host, channel: n.channel, target: n.target, sockets: n.sockets });
  }
}
