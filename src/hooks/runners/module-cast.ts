/**
 * How a module hook's cast(), castEverywhere() and send() reach the gateway:
 * the target and except a hook gives are checked as the bridge checks them.
 */
import type { ModuleCast, CastRequest } from './module.ts';
import { parseExcept, parseTarget } from '../../core/targets.ts';
import type { Selection } from '../../core/targets.ts';

/** The casts a gateway offers its module hooks. */
export interface Caster {
  cast(host: string, selection: Selection, data: unknown, except: string | undefined): number;
  castText(host: string, selection: Selection, frame: string, except: string | undefined): number;
  castEverywhere(host: string, selection: Selection, data: unknown, except: string | undefined): Promise<{ value: number; nodes?: { answered: string[]; missing: string[]; degraded?: string } }>;
}

function castArgs(options: CastRequest): { selection: Selection; except: string | undefined } {
  // cast(data, 'token:bob'), as PHP's wsCast() is called, has no .target: read as "all", it would go to every socket.
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError('cast: options must be an object such as {target: "token:<t>", except: "<socket id>"}');
  const target = parseTarget(options.target);
  if (!target.ok) throw new Error(target.reason);
  const except = parseExcept(options.except);
  if (!except.ok) throw new Error(except.reason);
  return { selection: target.selection, except: except.except };
}

export function moduleCast(gateway: Caster): ModuleCast {
  return {
    now(host, data, options = {}) {
      const { selection, except } = castArgs(options);
      return gateway.cast(host, selection, data, except);
    },
    async everywhere(host, data, options = {}) {
      const { selection, except } = castArgs(options);
      const { value, nodes } = await gateway.castEverywhere(host, selection, data, except);
      return nodes ? { sent: value, nodes } : { sent: value };
    },
    toSocket(host, socket, text) {
      return gateway.castText(host, { kind: 'sockets', ids: [socket] }, text, undefined);
    },
  };
}
