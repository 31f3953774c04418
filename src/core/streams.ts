/**
 * The streams casts go to: a channel, a host's `@all`, a token's `@token`.
 * Each has a key on this node, and keeps a history when its host or channel
 * rule says so.
 */
import type { HostConfig } from '../config/config.ts';
import { channelRule } from '../config/channel-rules.ts';
import { streamKey } from './history/history.ts';
import type { HistoryLimits } from './history/history.ts';
import { channelProblem } from './targets.ts';
import type { Selection } from './targets.ts';

/** The streams of host-wide and token casts, by the names clients know them. */
export const ALL_STREAM = '@all';
export const TOKEN_STREAM = '@token';

/**
 * Why a client may not make `name` a channel it is in, if it may not: a
 * channel name (targets.ts), and not the name of the host-wide or token
 * stream. A channel `@all` is keyed, read and framed as the host's `@all`:
 * a socket in it would read that stream's history with the channel's
 * limits (a smaller `size` or `ttl` cut it for everyone), and its
 * client could not tell the channel's publications from the host's.
 */
export function joinableProblem(name: string): string | undefined {
  if (name === ALL_STREAM || name === TOKEN_STREAM) return `"${name}" names the stream of ${name === ALL_STREAM ? 'host-wide casts' : "a token's casts"}, not a channel`;
  return channelProblem(name);
}

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
