/**
 * The Pusher front end of one node: its apps (by key for upgrades, by id
 * for the HTTP API), its open connections (each app's count, the pings of
 * quiet ones, a reload that changes or removes their app).
 */
import type { PusherApp } from '../../config/config.ts';
import { isInternal } from './channel-names.ts';
import { PUSHER_CLOSE } from './frames.ts';
import type { PusherConnection, PusherRegistry } from './connection.ts';

const NONE: readonly PusherApp[] = [];

export class PusherFront implements PusherRegistry {
  #byKey = new Map<string, PusherApp>();
  #byId = new Map<string, PusherApp>();
  #byHost = new Map<string, PusherApp[]>();
  readonly #open = new Set<PusherConnection>();
  /** Open connections per app id. */
  readonly #counts = new Map<string, number>();

  constructor(apps: PusherApp[] = []) {
    this.configure(apps);
  }

  /** The apps of a new config. Connections of an app that is gone, or moved to another host, are told to reconnect (4200). */
  configure(apps: PusherApp[]): void {
    this.#byKey = new Map(apps.map((app) => [app.key, app]));
    this.#byId = new Map(apps.map((app) => [app.id, app]));
    this.#byHost = new Map();
    for (const app of apps) this.#byHost.set(app.host, [...(this.#byHost.get(app.host) ?? []), app]);
    for (const connection of this.#open) {
      const app = this.#byKey.get(connection.app.key);
      if (app && app.id === connection.app.id && app.host === connection.host) connection.moveToApp(app);
      else connection.core.close(connection, PUSHER_CLOSE.reconnect, 'the app was changed or removed');
    }
  }

  /** Whether there are apps at all (else /app/ is no Pusher path). */
  get serving(): boolean {
    return this.#byId.size > 0;
  }

  get apps(): PusherApp[] {
    return [...this.#byId.values()];
  }

  /** The apps whose channels are a host's (none for most hosts). */
  appsOn(host: string): readonly PusherApp[] {
    return this.#byHost.get(host) ?? NONE;
  }

  /**
   * Whether a channel of a host is one of its Pusher apps' own (a user's channel, #online, watchers): the front alone
   * puts sockets in them, so a plain socket of a shared host may not ask for one, whatever the subscribe hook says.
   */
  reserves(host: string, channel: string): boolean {
    return isInternal(channel) && this.appsOn(host).length > 0;
  }

  byKey(key: string): PusherApp | undefined {
    return this.#byKey.get(key);
  }

  byId(id: string): PusherApp | undefined {
    return this.#byId.get(id);
  }

  /** Open connections of an app on this node. */
  count(app: PusherApp): number {
    return this.#counts.get(app.id) ?? 0;
  }

  opened(connection: PusherConnection): void {
    this.#open.add(connection);
    this.#counts.set(connection.app.id, this.count(connection.app) + 1);
  }

  closed(connection: PusherConnection): void {
    if (!this.#open.delete(connection)) return;
    const left = this.count(connection.app) - 1;
    if (left > 0) this.#counts.set(connection.app.id, left);
    else this.#counts.delete(connection.app.id);
  }

  /** Once a second: quiet connections are pinged, and those that stay quiet closed. */
  sweep(now: number): void {
    for (const connection of this.#open) connection.check(now);
  }
}
