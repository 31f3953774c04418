/** The log lines of what the core does: one line per event, with host and socket; tokens only as a short hash. */
import type { CoreObserver } from '../core/events.ts';
import { shortHash } from './log.ts';
import type { Logger } from './log.ts';

export function logObserver(log: Logger): CoreObserver {
  return {
    opened: (client, tokenHash, sockets) => log.info('open', { host: client.host, socket: client.id, token: shortHash(tokenHash), sockets }),
    closed: (client, code, sockets) => log.info('close', { host: client.host, socket: client.id, code, sockets }),
    hook(run) {
      const ms = Math.round(run.seconds * 1000);
      const base = { host: run.host, socket: run.socket, hook: run.hook };
      if (run.outcome === 'cancelled') return log.info('hook cancelled', { ...base, ms });
      if (run.outcome === 'busy') return log.warn('hook refused', { ...base, error: run.error });
      if (run.outcome === 'failed') return log.error('hook failed', { ...base, ms, stderr: run.stderr, error: run.error });
      if (run.stderr) log.warn('hook stderr', { ...base, ms, stderr: run.stderr });
      else log.debug('hook', { ...base, ms, stderr: run.stderr });
    },
  };
}
