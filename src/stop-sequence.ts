/**
 * The graceful stop (SIGTERM, SIGINT): the order in which a running gateway
 * lets go of its parts, so that what the sockets' close hooks and webhooks
 * still need (the bridge, Redis, the pools) is there until they are done.
 */
import type { Listener } from './runtime/types.ts';

type Stoppable = { stop(): Promise<void> };

export interface StopParts {
  /** The public port. */
  listener: Listener;
  /** The bridge's own listener, when it has an address of its own. */
  bridge: Listener | undefined;
  /** Timers that start work on the gateway (the idle sweep, the memory settle). */
  timers: Array<ReturnType<typeof setInterval> | undefined>;
  /** The schedule as it is when the stop begins (a reload replaces it). */
  scheduler: () => { stop(): void };
  /** Closes the sockets with 1001 and waits (bounded) for their close hooks. */
  gateway: { shutdown(): Promise<void> };
  webhooks: { stop(deadlineMs: number | undefined, withinMs: number): Promise<void> };
  /** shutdownTimeout as the config says now, in ms. */
  shutdownMs: () => number;
  members: Stoppable | undefined;
  broker: Stoppable;
  pools: Stoppable;
}

export async function stopSequence(parts: StopParts): Promise<void> {
  const { listener, bridge } = parts;
  const began = performance.now();
  // Without a bridge of its own the port drains (upgrades refused with 503, /health "stopping"): the close hooks'
  // and webhook workers' casts still reach the bridge on it, and it closes once they are done.
  if (bridge) await listener.stop();
  for (const timer of parts.timers) clearInterval(timer);
  parts.scheduler().stop();
  await parts.gateway.shutdown();
  // After the sockets (their channel_vacated and member_removed come as they close), within what shutdownTimeout left.
  await parts.webhooks.stop(undefined, parts.shutdownMs() - (performance.now() - began));
  await (bridge ?? listener).stop();
  // After the sockets' leaves went to Redis; before the broker, which may still tell what the store finds.
  if (parts.members) await parts.members.stop();
  await parts.broker.stop();
  await parts.pools.stop();
}
