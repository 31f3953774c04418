/**
 * What the Pusher HTTP API (/apps/{id}/...) asks of the gateway: the apps,
 * and the core's answers over every node. Counts are exact across a cluster:
 * each node answers for its own sockets and the answers are merged.
 */
import type { PusherApp } from '../../config/config.ts';

/** One event as the API takes it, checked: `data` is the text the SDK sent (usually JSON), passed on as it is. */
export interface PusherEvent {
  name: string;
  data: string;
  channels: string[];
  /** A socket of the caller's that must not get it (`socket_id`). */
  socketId?: string;
}

/** What GET /channels/{c} and an event's `info` may ask for. */
export type ChannelInfoField = 'user_count' | 'subscription_count';

/** A cache channel's kept last event, as `info=cache` answers it: its data as the app sent it, and the seconds it is still kept. */
export interface CachedEvent {
  data: string;
  ttl: number;
}

export interface ChannelInfo {
  occupied: boolean;
  subscription_count?: number;
  user_count?: number;
}

export interface PusherApiGateway {
  /** The app with this id, as the config has it now. */
  app(id: string): PusherApp | undefined;
  /** Publishes an event on its channels; with `info`, what each channel holds now. */
  trigger(app: PusherApp, event: PusherEvent, info?: ChannelInfoField[]): Promise<Record<string, ChannelInfo> | undefined>;
  /** Occupied channels (whose names start with `prefix`), with what `info` asks for each. */
  channels(app: PusherApp, prefix: string | undefined, info: ChannelInfoField[]): Promise<Record<string, Omit<ChannelInfo, 'occupied'>>>;
  /** One channel, occupied or not. */
  channel(app: PusherApp, name: string, info: ChannelInfoField[]): Promise<ChannelInfo>;
  /** A cache channel's kept last event, if it keeps one now. */
  cache(app: PusherApp, channel: string): CachedEvent | undefined;
  /** The users in a presence channel. */
  users(app: PusherApp, channel: string): Promise<string[]>;
  /** Closes every connection signed in as this user (4009 for the client). */
  terminateUser(app: PusherApp, userId: string): Promise<number>;
}
