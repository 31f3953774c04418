/**
 * Casts and the other requests a node makes of all: published and gathered
 * through the broker, and, as the broker's handler, applied to this node's
 * sockets when they arrive (this node's own included). A node alone or one
 * of many: the same path.
 */
import type { Broker, BrokerHandler, StreamRef } from './broker.ts';
import type { Channels } from './channels.ts';
import type { CoreEvents } from './events.ts';
import type { Hub, HostStats } from './hub.ts';
import { mergeCounts, mergePresence, mergeStats } from './merge.ts';
import type { Presence } from './presence.ts';
import type { CastRequest, NodeRequest, Publication } from './requests.ts';
import type { Routes } from './routes.ts';
import { streamOf } from './streams.ts';
import type { Recovery } from './history/recovery.ts';
import type { Position } from './history/history.ts';
import type { Selection } from './targets.ts';

/** A bridge answer gathered over the nodes: those that answered, those that did not, and why only this one, if so. */
export interface Spread<T> {
  value: T;
  nodes?: { answered: string[]; missing: string[]; degraded?: string };
}

/** What a node tells the others for GET /health. */
export interface NodeHealth {
  sockets: Record<string, HostStats>;
  workers: number;
}

export type ClusterHealth = { sockets: Record<string, HostStats>; perNode: Record<string, { sockets: number; workers: number }> };

const sum = (results: unknown[]): number => results.reduce<number>((total, n) => total + (typeof n === 'number' ? n : 0), 0);

export interface PublishingParts {
  hub: Hub;
  routes: Routes;
  broker: Broker;
  channels: Channels;
  recovery: Recovery;
  events: CoreEvents;
  /** Live resident workers on this node, for /health. */
  workers: () => number;
}

export class Publishing implements BrokerHandler {
  readonly #p: PublishingParts;

  constructor(parts: PublishingParts) {
    this.#p = parts;
    parts.broker.bind(this);
  }

  /**
   * A cast from the bridge or a hook. Casts to a stream (all, a token, a
   * channel) are kept in its history when it has one, kept for gone tokens
   * when the host replays, and reach clients that resume framed with their
   * position. Returns how many of this node's sockets it reaches.
   */
  cast(host: string, selection: Selection, data: unknown, except: string | undefined): number {
    return this.castText(host, selection, JSON.stringify(data) ?? 'null', except);
  }

  /** cast() of a frame that is its text already (a module hook's send() outside receive), sent as it is. */
  castText(host: string, selection: Selection, frame: string, except: string | undefined, unkept = false): number {
    const publication: CastRequest = { t: 'cast', host, selection, frame, ...(except === undefined ? {} : { except }), ...(unkept ? { unkept } : {}) };
    // Not numbered either: a number would be a place in the history it is not in.
    const sent = this.#p.broker.publish(publication, unkept ? undefined : () => this.#streamRef(host, selection));
    // Numbered by the broker, this node's copy comes back later: the sockets it will reach are those here now.
    if (sent !== undefined) return sent;
    const skip = except === undefined ? undefined : this.#p.hub.get(except);
    return this.#p.hub.select(host, selection).filter((socket) => socket !== skip).length;
  }

  /** The stream with history a cast goes to, for a broker that numbers it; undefined when it keeps none. */
  #streamRef(host: string, selection: Selection): StreamRef | undefined {
    const stream = streamOf(this.#p.routes.match(host)?.config, host, selection);
    return stream?.limits && { host, key: stream.key, selection, limits: stream.limits };
  }

  /** A publication reached this node: to its sockets, and to its stream's history. */
  deliver(publication: Publication, taken: boolean): number {
    const config = this.#p.routes.match(publication.host)?.config;
    // Another node may serve hosts this one does not (a config being rolled out): nothing here for them.
    if (!config) return 0;
    const { hub, events } = this.#p;
    if (publication.t === 'presenceEvent') {
      // Never framed, never in history; but a gone token would have seen it (keep()).
      const { frame } = publication;
      const sent = hub.cast(publication.host, { kind: 'channel', channel: publication.channel }, frame, publication.except, (protocol) => (protocol.presenceFrame ? protocol.presenceFrame(frame) : frame));
      events.cast(publication.host, config.key, 'presence', sent, taken);
      return sent;
    }
    const { host, selection, frame, except } = publication;
    const stream = streamOf(config, host, selection);
    const position: Position | undefined = stream?.limits && !publication.unkept ? this.#p.recovery.place({ ...stream, limits: stream.limits }, frame, publication.position) : undefined;
    const sent = hub.cast(host, selection, frame, except, (protocol) => protocol.publication(stream?.stream, position, frame));
    events.cast(host, config.key, selection.kind, sent, taken);
    return sent;
  }

  /** A publication in the order every node sees it: kept for gone tokens. */
  keep(publication: Publication): void {
    if (!this.#p.routes.match(publication.host)?.config.replay) return;
    const selection: Selection = publication.t === 'cast' ? publication.selection : { kind: 'channel', channel: publication.channel };
    this.#p.recovery.record(publication.host, selection, publication.frame);
  }

  /** Any other request, applied to this node's sockets. */
  apply(request: Exclude<NodeRequest, Publication>, taken: boolean): unknown {
    if ('host' in request && !this.#p.routes.match(request.host)) return request.t === 'presence' ? { sockets: 0, tokens: {}, members: [] } : request.t === 'channels' ? {} : 0;
    const { channels } = this.#p;
    switch (request.t) {
      case 'subscribe':
        return channels.subscribe(request.host, request.selection, request.channel, request.join);
      case 'disconnect':
        return channels.disconnect(request.host, request.selection, request.code, request.reason);
      case 'presence':
        return channels.presence(request.host, request.channel);
      case 'channels':
        return request.channel === undefined ? this.#p.hub.occupied(request.host, request.prefix) : { [request.channel]: this.#p.hub.count(request.host, request.channel) };
      case 'health':
        return { sockets: this.#p.hub.stats(), workers: this.#p.workers() } satisfies NodeHealth;
      case 'replayLeft':
      case 'replayBack':
      case 'replaySync':
        return this.#p.recovery.applyReplay(request, taken);
    }
  }

  /** Runs a bridge request on every live node (this one alone, when alone) and merges their answers. */
  async #everywhere<T>(request: NodeRequest, merge: (results: unknown[]) => T, stream?: StreamRef): Promise<Spread<T>> {
    const gathered = await this.#p.broker.gather(request, stream);
    const value = merge([...gathered.results.values()]);
    if (!gathered.spread) return { value };
    const nodes: NonNullable<Spread<T>['nodes']> = { answered: [...gathered.results.keys()], missing: gathered.spread.missing };
    if (gathered.spread.degraded) nodes.degraded = gathered.spread.degraded;
    return { value, nodes };
  }

  castEverywhere(host: string, selection: Selection, data: unknown, except: string | undefined): Promise<Spread<number>> {
    const frame = JSON.stringify(data) ?? 'null';
    return this.#everywhere({ t: 'cast', host, selection, frame, ...(except === undefined ? {} : { except }) }, sum, this.#streamRef(host, selection));
  }

  subscribeEverywhere(host: string, selection: Selection, channel: string, join: boolean): Promise<Spread<number>> {
    return this.#everywhere({ t: 'subscribe', host, selection, channel, join }, sum);
  }

  disconnectEverywhere(host: string, selection: Selection, code: number, reason: string): Promise<Spread<number>> {
    return this.#everywhere({ t: 'disconnect', host, selection, code, reason }, sum);
  }

  /** Sockets per occupied channel over every node (of those named `prefix`..., or the one `channel`). */
  channelsEverywhere(host: string, which: { prefix?: string; channel?: string }): Promise<Spread<Record<string, number>>> {
    return this.#everywhere({ t: 'channels', host, ...which }, mergeCounts);
  }

  presenceEverywhere(host: string, channel: string): Promise<Spread<Presence>> {
    return this.#everywhere({ t: 'presence', host, channel }, mergePresence);
  }

  /** Sockets per host over every node, with each node's own count. */
  async healthEverywhere(): Promise<Spread<ClusterHealth>> {
    const spread = await this.#everywhere({ t: 'health' }, (results) => mergeStats(results));
    const perNode: ClusterHealth['perNode'] = {};
    const answered = spread.nodes?.answered ?? [this.#p.broker.status()?.node ?? 'this node'];
    answered.forEach((node, i) => (perNode[node] = spread.value.perNode[i] ?? { sockets: 0, workers: 0 }));
    return { ...spread, value: { sockets: spread.value.sockets, perNode } };
  }
}
