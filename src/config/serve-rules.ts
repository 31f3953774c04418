/**
 * The rules `serve` applies to a config as a whole, beyond any one field.
 * They are the last step of validation, so `wsgate check`, `serve` and every
 * reload refuse the same configs with the same words.
 */
import * as v from 'valibot';
import { isLoopbackListen } from '../http/access.ts';
import type { Config } from './types.ts';

/** The bridge is where the danger is: on the public port unless it has its own address. */
function openBridgeProblem(config: Config): string | undefined {
  const bridgeListen = config.bridge ? ('path' in config.bridge ? '127.0.0.1' : config.bridge.listen) : config.listen;
  if (isLoopbackListen(bridgeListen) || config.secret) return undefined;
  return `listening on ${bridgeListen} would let anyone who can reach it cast to every socket through /message: set "secret" in the config (16+ characters) or WSGATE_SECRET, give the bridge its own loopback address ("bridge": {"port": 3002}), or listen on 127.0.0.1 behind a proxy`;
}

export const serveRules = v.rawCheck<Config>(({ dataset, addIssue }) => {
  if (!dataset.typed) return;
  const problem = openBridgeProblem(dataset.value);
  if (problem) addIssue({ message: problem });
});
