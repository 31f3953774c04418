/**
 * All the bridge asks of the core: a narrow seam, so the routes can be
 * tested in-process against a fake (test/unit/http-bridge.test.ts).
 */
import type { Selection } from '../../core/targets.ts';
import type { Presence } from '../../core/presence.ts';
import type { Spread } from '../../core/publishing.ts';
import type { Position, Since } from '../../core/history/history.ts';

export interface BridgeGateway {
  isConfigured(host: string): boolean;
  castEverywhere(host: string, selection: Selection, data: unknown, except: string | undefined): Promise<Spread<number>>;
  subscribeEverywhere(host: string, selection: Selection, channel: string, join: boolean): Promise<Spread<number>>;
  disconnectEverywhere(host: string, selection: Selection, code: number, reason: string): Promise<Spread<number>>;
  presenceEverywhere(host: string, channel: string): Promise<Spread<Presence>>;
  history(host: string, stream: { channel: string } | { token: string }, since?: Position): Since | undefined;
  /** The body cap in bytes; a reload may change it. */
  readonly maxBody: number;
  /** What a streamed /dispatch may hold for a caller who does not read (limits.sendBuffer, as for a slow socket); a reload may change it. */
  readonly sendBuffer: number;
}
