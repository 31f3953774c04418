/**
 * The bus's listening connection: on one Redis (or the master a Sentinel
 * names), SUBSCRIBE on one connection; on a Redis Cluster, SSUBSCRIBE on a
 * connection to the master that serves the channels' slot, moved to the new
 * one when the slot moves (a failover, a resharding). Either way the
 * subscriber counts as listening only once Redis has confirmed it, on the
 * connection it has now (see listening()).
 */
import type { Cluster, Redis } from 'ioredis';
import type { RedisAddress } from '../config/redis-url.ts';
import { keySlot } from './key-slot.ts';

export interface BusSubscriber {
  /**
   * Listens on `channels` (in a Redis Cluster, all of one slot); their
   * messages go to `onMessage`, now and after every reconnect. Resolves once
   * Redis has confirmed it.
   */
  subscribe(channels: string[], onMessage: (channel: string, message: string) => void): Promise<void>;
  /** Whether it listens now. */
  listens(): boolean;
  /** `changed` runs whenever that may have changed, with the error when one came. */
  onChange(changed: (error?: Error) => void): void;
  /** Drops the connection now and listens again on a new one (Redis stopped answering, redis.ts). */
  restart(): void;
  close(): void;
}

/**
 * Whether the subscriber listens again on the connection it has now.
 *
 * ioredis's 'ready' does not say so. On a reconnect, readyHandler (ioredis
 * 6.0, lib/redis/event_handler.ts) sets the status to ready, which emits 'ready' on
 * the next tick, and in the same call writes the autoResubscribe SUBSCRIBE
 * without awaiting its answer or telling anyone when it comes. So at 'ready'
 * the SUBSCRIBE is at best on its way to Redis, and a publish made meanwhile on
 * another connection can be handled first and never reach this node: its own
 * copy of a request it then waits for in vain, or another node's request once
 * this one has said it is back. Hence the link counts the subscriber only once
 * Redis has answered a SUBSCRIBE of the same channels sent on 'ready': it goes
 * on the same connection, behind ioredis's own, and subscribing twice changes
 * nothing in Redis. (Not a PING: it would only follow the SUBSCRIBE because
 * ioredis happens to write that before emitting 'ready'.)
 */
function listening(subscriber: Redis, command: 'subscribe' | 'ssubscribe', channels: () => string[], changed: () => void): () => boolean {
  // Connections closed so far: an answer that comes after its connection closed says nothing about the next one.
  let closes = 0;
  let confirmed = false;
  subscriber.on('close', () => {
    closes++;
    confirmed = false;
  });
  subscriber.on('ready', () => {
    const asked = closes;
    const wanted = channels();
    (wanted.length ? subscriber[command](...wanted) : Promise.resolve()).then(
      () => {
        if (asked !== closes) return;
        confirmed = true;
        changed();
      },
      () => {
        // The connection went: its 'close' is what counts.
      },
    );
  });
  return () => confirmed && subscriber.status === 'ready';
}

/** Runs each listener; the place a subscriber tells of its changes. */
function changes(): { on(listener: (error?: Error) => void): void; tell(error?: Error): void } {
  const listeners: Array<(error?: Error) => void> = [];
  return {
    on: (listener) => void listeners.push(listener),
    tell: (error) => listeners.forEach((listener) => listener(error)),
  };
}

/** Tells of `connection`'s state changes; after listening() is set up, so a closed one no longer counts as listening when they are told. */
function watch(connection: Redis, tell: (error?: Error) => void): void {
  for (const event of ['ready', 'close', 'end']) connection.on(event, () => tell());
  connection.on('error', (error: Error) => tell(error));
}

/** SUBSCRIBE on one connection of its own, which ioredis reconnects and resubscribes. */
export function channelSubscriber(connection: Redis): BusSubscriber {
  const channels: string[] = [];
  const told = changes();
  const listens = listening(connection, 'subscribe', () => channels, () => told.tell());
  watch(connection, told.tell);
  return {
    async subscribe(wanted, onMessage) {
      channels.push(...wanted);
      connection.on('message', onMessage);
      await connection.subscribe(...wanted);
    },
    listens,
    onChange: told.on,
    restart: () => connection.disconnect(true),
    close: () => connection.disconnect(),
  };
}

/**
 * SSUBSCRIBE on a connection to the master of the channels' slot, as the
 * cluster's command client last saw the slots (it refreshes them on a
 * MOVED, on an error, when asked, and every few seconds: redis.ts sets
 * slotsRefreshInterval). The connection is replaced whenever another master
 * serves the slot; one that drops asks for the slots afresh, and one told
 * its slot moved (an unasked SUNSUBSCRIBE, which ioredis reports as
 * 'moved', on a connection that stays open) is dropped, and the next slot
 * map says where to listen again.
 */
export function slotSubscriber(cluster: Cluster, open: (address: RedisAddress) => Redis): BusSubscriber {
  const channels: string[] = [];
  const told = changes();
  let onMessage: (channel: string, message: string) => void = () => {};
  let current: { connection: Redis; address: string; listens: () => boolean } | undefined;
  let closed = false;
  let pending: { confirmed(): void; failed(error: Error): void } | undefined;
  /** Drops the connection; the next slot map names where to listen again (the same master, or its successor). */
  const drop = () => {
    current?.connection.disconnect();
    current = undefined;
    told.tell();
  };

  const follow = () => {
    if (closed || !channels.length) return;
    const address = cluster.slots[keySlot(channels[0]!)]?.[0];
    if (!address || address === current?.address) return;
    current?.connection.disconnect();
    const colon = address.lastIndexOf(':');
    const connection = open({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    const listens = listening(connection, 'ssubscribe', () => channels, () => {
      pending?.confirmed();
      told.tell();
    });
    watch(connection, told.tell);
    connection.on('smessage', (channel: string, message: string) => onMessage(channel, message));
    connection.on('close', () => cluster.refreshSlotsCache());
    // Redis took the subscription back (the slot moved) on a connection that stays open: it listens no more.
    // Dropping it closes it, and its close asks for the slot map.
    connection.on('moved', () => {
      if (current?.connection === connection) drop();
    });
    current = { connection, address, listens };
    told.tell();
  };
  cluster.on('ready', follow);
  cluster.on('refresh', follow);

  return {
    subscribe(wanted, handler) {
      const slot = keySlot(wanted[0]!);
      const other = wanted.find((channel) => keySlot(channel) !== slot);
      if (other !== undefined) return Promise.reject(new Error(`the bus's channels must share one slot: ${JSON.stringify(other)} does not`));
      channels.push(...wanted);
      onMessage = handler;
      const done = new Promise<void>((resolve, reject) => (pending = { confirmed: resolve, failed: reject }));
      follow();
      return done;
    },
    listens: () => current?.listens() ?? false,
    onChange: told.on,
    // The cluster client reconnects too (redis.ts): its next 'ready' or slot map opens a new connection.
    restart: drop,
    close() {
      closed = true;
      pending?.failed(new Error('the subscriber was closed'));
      current?.connection.disconnect();
    },
  };
}
