/**
 * What the bridge and ops sub-apps are given besides the gateway. Its own
 * module so that the apps and server.ts, which passes these on, import it
 * rather than each other.
 */
import type { Context } from 'hono';
import type { Trust } from './access.ts';
import type { AppCheck, DispatchJob } from '../hooks/dispatch.ts';
import type { HookOutcome } from '../hooks/runners/runner.ts';
import type { Logger } from '../ops/log.ts';
import type { GoneSignal } from '../runtime/types.ts';

/**
 * May this request use the bridge? (the bearer secret, or loopback without a
 * proxy, a cross-site page or a foreign Host), and if not, why.
 * `allowBasic`: the read-only monitoring pages also take the secret as a Basic password.
 */
export type Trusted = (c: Context, allowBasic?: boolean) => Trust;

export interface BridgeDispatcher {
  check(app: string): Promise<AppCheck>;
  run(job: DispatchJob, onLine?: (line: string) => void, signal?: GoneSignal): Promise<HookOutcome>;
  /** Why the job would be refused at once (its cap's queue is full), if it would. */
  refusal(job: DispatchJob): string | undefined;
}

/** What the dashboard says about this process. */
export interface About {
  runtime: string;
  version: string;
  node: string;
}

export interface BridgeOptions {
  trusted: Trusted;
  dispatcher: BridgeDispatcher;
  log: Logger;
  /** Re-reads the config; answers what POST /reload says. */
  reload: () => Promise<{ ok: true; hosts: string[] } | { ok: false; problems: string[] }>;
  /** Read per request: the node's name is known only once the listener is up. */
  about?: About;
  /**
   * True once a stop has begun: /health answers 503 "stopping", so a load balancer sends no one new, while the port
   * stays up for what the close hooks and webhook workers cast back.
   */
  stopping?: () => boolean;
}
