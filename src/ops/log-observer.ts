/** The log lines of what the core does: one line per event, with host and socket; tokens only as a short hash. */
import type { CoreObserver } from '../core/events.ts';
import { shortHash } from './log.ts';
import type { Logger } from './log.ts';

export function logObserver(log: Logger): CoreObserver {
  return {
    refused({ host, shown, kind, reason, level, socket, token, origin }) {
      log[level](kind === 'abandoned' ? 'upgrade abandoned' : 'upgrade refused', { host: shown ?? host, socket, token, origin, reason });
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
      }
    },
    hook(run) {
      const { host, socket, hook, stderr, error } = run;
      const ms = Math.round(run.seconds * 1000);
      // One plain object per run, as every hook run passes here: no spreads.
      if (run.outcome === 'ok') return stderr ? log.warn('hook stderr', { host, socket, hook, ms, stderr }) : log.debug('hook', { host, socket, hook, ms, stderr });
      if (run.outcome === 'cancelled') return log.info('hook cancelled', { host, socket, hook, ms });
      if (run.outcome === 'busy') return log.warn('hook refused', { host, socket, hook, error });
      log.error('hook failed', { host, socket, hook, ms, stderr, error });
    },
  };
}
