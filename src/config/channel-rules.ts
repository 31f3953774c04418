/**
 * Per-channel options, by channel pattern: "room:1" (exactly), "room:*"
 * (every name with that prefix) or "*". The most specific pattern wins.
 */
import type { HistoryLimits } from '../core/history/history.ts';

export interface ChannelOptions {
  /** Joins and leaves are cast to the channel: {"wsgate": "join" | "leave", channel, socket, info}. */
  presenceEvents: boolean;
  /** Recent publications are kept, with an offset each, for recovery and GET /history. */
  history?: HistoryLimits;
}

export interface ChannelRule extends ChannelOptions {
  pattern: string;
}

/** The rule for a channel: an exact pattern, else the longest matching prefix pattern; undefined when none. */
export function channelRule(rules: ChannelRule[] | undefined, channel: string): ChannelRule | undefined {
  if (!rules) return undefined;
  let best: ChannelRule | undefined;
  for (const rule of rules) {
    if (rule.pattern === channel) return rule;
    if (!rule.pattern.endsWith('*')) continue;
    const prefix = rule.pattern.slice(0, -1);
    if (channel.startsWith(prefix) && (!best || prefix.length > best.pattern.length - 1)) best = rule;
  }
  return best;
}

/** Why a pattern cannot be used, if it cannot: a "*" only at the end. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern === '') return 'a channel pattern must not be empty';
  if (pattern.slice(0, -1).includes('*')) return 'a channel pattern has "*" only at its end, as in "room:*"';
  return undefined;
}
