/**
 * How many sockets of each protocol that frames casts itself (`aware`
 * sockets) a group holds: a host, or one of its channels. A cast through
 * native topics publishes once per protocol and learns from these how many
 * sockets a protocol's skipped frame did not reach, without walking them.
 */
import type { ClientProtocol } from './protocol.ts';

export type ProtocolCounts = Map<ClientProtocol, number>;

/** Counts `socket` in (1) or out (-1) of `counts`; a socket that frames nothing itself is not counted. */
export function countProtocol(counts: ProtocolCounts, socket: { readonly aware?: boolean; readonly protocol?: ClientProtocol }, by: 1 | -1): void {
  if (!socket.aware || !socket.protocol) return;
  const n = (counts.get(socket.protocol) ?? 0) + by;
  if (n > 0) counts.set(socket.protocol, n);
  else counts.delete(socket.protocol);
}

/** Counts `socket` in or out of `channel`'s entry of `byChannel`, which holds channels that have such members only. */
export function countInChannel(byChannel: Map<string, ProtocolCounts>, channel: string, socket: { readonly aware?: boolean; readonly protocol?: ClientProtocol }, by: 1 | -1): void {
  if (!socket.aware || !socket.protocol) return;
  let counts = byChannel.get(channel);
  if (!counts) byChannel.set(channel, (counts = new Map()));
  countProtocol(counts, socket, by);
  if (counts.size === 0) byChannel.delete(channel);
}
