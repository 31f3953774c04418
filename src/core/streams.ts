/**
 * The streams casts go to: a channel, a host's `@all`, a token's `@token`.
 * Each has a key on this node, and keeps a history when its host or channel
 * rule says so.
 */
import type { HostConfig } from '../config/config.ts';
import { channelRule } from '../config/channel-rules.ts';
import { streamKey } from './history/history.ts';
import type { HistoryLimits } from './history/history.ts';
import type { Selection } from './targets.ts';

/** The streams of host-wide and token casts, by the names clients know them. */
export const ALL_STREAM = '@all';
export const TOKEN_STREAM = '@token';

export const tokenStreamKey = (host: string, token: string): string => streamKey(host, `${TOKEN_STREAM}\n${token}`);

export interface Stream {
  /** The name clients know it by. */
  stream: string;
  key: string;
  limits?: HistoryLimits;
}

/** The stream a cast goes to, and its history, if it keeps one; undefined for casts to sockets or to all but a token. */
export function streamOf(config: HostConfig | undefined, host: string, selection: Selection): Stream | undefined {
  if (selection.kind === 'channel') return { stream: selection.channel, key: streamKey(host, selection.channel), limits: channelRule(config?.channels, selection.channel)?.history };
  if (selection.kind === 'all') return { stream: ALL_STREAM, key: streamKey(host, ALL_STREAM), limits: config?.history };
  if (selection.kind === 'token') return { stream: TOKEN_STREAM, key: tokenStreamKey(host, selection.token), limits: config?.history };
  return undefined;
}
