/**
 * In-process hooks: a JS/TS module exporting any of `auth`, `connect`,
 * `receive`, `close`. Each gets one context object; a missing export means
 * accept / do nothing. This is also how the built-in demo runs.
 */
import { cancelledOutcome, thrownText } from './runner.ts';
import type { HookJob, HookName, HookOutcome, Runner } from './runner.ts';
import type { GoneSignal } from '../../runtime/types.ts';

export interface CastRequest {
  target?: string | string[];
  except?: string;
}

/** What a cast through every node of a cluster answers: the exact sum, and which nodes answered (as POST /message says). */
export interface CastAnswer {
  sent: number;
  nodes?: { answered: string[]; missing: string[]; degraded?: string };
}

export interface HookContext {
  host: string;
  token: string;
  socket: string;
  /** The client's message text (receive), or a Pusher webhook's batch as JSON text (webhook: `{"time_ms": ..., "events": [...]}`, `token` is the app's id). */
  message?: string;
  /** The channel a client asks to join (subscribe only). */
  channel?: string;
  /** The upgrade path's parameters (`/ws/rooms/{room}` -> {room: ...}); empty without any. */
  params: Record<string, string>;
  /**
   * Sends one text frame to this socket, as it is (not JSON-serialised), like
   * a line a one-shot hook prints. In receive it goes straight back in order
   * with the hook's output; in the other hooks it is a cast to `socket:<id>`,
   * which in a cluster reaches the node holding the socket. In auth the socket
   * is not open yet, so nothing arrives.
   */
  send(line: string): void;
  /**
   * Casts `data` (serialised to JSON once) to sockets of this host, here at
   * once and on the other nodes of a cluster; returns how many got it on this node.
   */
  cast(data: unknown, options?: CastRequest): number;
  /**
   * Casts like POST /message: in a cluster, through every node in the bus's
   * order, resolving with the exact sum over the nodes; alone, as cast().
   */
  castEverywhere(data: unknown, options?: CastRequest): Promise<CastAnswer>;
}

export type HookFunction = (context: HookContext) => unknown;
export type HookModule = Partial<Record<HookName, HookFunction>>;

/** How a module hook reaches the hub to cast; provided by the gateway. */
export interface ModuleCast {
  now(host: string, data: unknown, options?: CastRequest): number;
  everywhere(host: string, data: unknown, options?: CastRequest): Promise<CastAnswer>;
  /** One raw text frame to one socket of the host, through the cast path (any node); how many got it here. */
  toSocket(host: string, socket: string, text: string): number;
}

const HOOKS: HookName[] = ['auth', 'connect', 'receive', 'close', 'subscribe', 'webhook'];

/** Checks that what a module exports under hook names are functions. */
export function asHookModule(exports: Record<string, unknown>, where: string): HookModule {
  const module: HookModule = {};
  const source = (exports.default && typeof exports.default === 'object' ? exports.default : exports) as Record<string, unknown>;
  for (const name of HOOKS) {
    const value = source[name] ?? exports[name];
    if (value === undefined) continue;
    if (typeof value !== 'function') throw new Error(`${where}: export "${name}" must be a function, got ${typeof value}`);
    module[name] = value as HookFunction;
  }
  return module;
}

export class ModuleRunner implements Runner {
  readonly kind = 'module';
  readonly #hooks: HookModule;
  readonly #cast: ModuleCast;

  constructor(hooks: HookModule, cast: ModuleCast) {
    this.#hooks = hooks;
    this.#cast = cast;
  }

  async run(job: HookJob, onLine?: (line: string) => void, signal?: GoneSignal): Promise<HookOutcome> {
    if (signal?.aborted) return cancelledOutcome();
    const hook = this.#hooks[job.hook];
    // A client may join a channel only when the module says so; a webhook batch nobody takes is not delivered.
    if (!hook) return job.hook === 'webhook' ? { ok: false, error: 'the module exports no "webhook" function' } : { ok: true, result: job.hook === 'subscribe' ? false : '' };
    const context: HookContext = {
      host: job.host,
      token: job.token,
      socket: job.socket,
      message: job.hook === 'subscribe' ? undefined : job.message,
      params: job.params ?? {},
      channel: job.hook === 'subscribe' ? job.message : undefined,
      // Once the client is gone, what the hook sends goes nowhere; outside receive it is a cast to its socket.
      send: (line) => {
        if (signal?.aborted) return;
        if (onLine) onLine(String(line));
        else this.#cast.toSocket(job.host, job.socket, String(line));
      },
      cast: (data, options) => this.#cast.now(job.host, data, options),
      castEverywhere: (data, options) => this.#cast.everywhere(job.host, data, options),
    };
    // A hook cannot be stopped midway: it runs to its end (so a socket's hooks never overlap), and its result is ignored.
    let outcome: HookOutcome;
    try {
      outcome = { ok: true, result: await hook(context) };
    } catch (error) {
      outcome = { ok: false, error: thrownText(error) };
    }
    return signal?.aborted ? cancelledOutcome() : outcome;
  }
}
