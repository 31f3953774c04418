/**
 * A node among others, over Redis (cluster.ts). Publications to a stream
 * with history are numbered in Redis and reach every node, this one too, in
 * the bus's order; others are delivered here at once and passed on, and
 * this node's own copy comes back to be kept for replay in that same order.
 * Until it is started (the node's name is known once it listens), and
 * whenever Redis is away, the node serves alone.
 */
import { Cluster } from './cluster.ts';
import type { ClusterOptions } from './cluster.ts';
import { connectRedis } from './redis.ts';
import type { NumberedStream } from './redis.ts';
import type { ClusterRequest } from './messages.ts';
import type { Broker, BrokerHandler, BrokerStatus, Gathered, StreamRef } from '../core/broker.ts';
import { applyHere } from '../core/memory-broker.ts';
import type { NodeRequest, Publication } from '../core/requests.ts';
import { newEpoch, streamKey } from '../core/history/history.ts';
import type { StoredStream } from '../core/history/history.ts';
import { TOKEN_STREAM } from '../core/streams.ts';
import { sha256Hex } from '../core/ids.ts';
import type { Logger } from '../ops/log.ts';

/** Redis keys show in SCAN and MONITOR: a token's stream is named by its hash there. */
const redisKey = ({ host, key, selection }: Omit<StreamRef, 'limits'>): string => (selection.kind === 'token' ? streamKey(host, `${TOKEN_STREAM}\n${sha256Hex(selection.token)}`) : key);

export interface RedisBrokerOptions extends Omit<ClusterOptions, 'node'> {
  /** The Redis URL. */
  redis: string;
  /** How long its commands may go unanswered (connectRedis); shorter than the deadline. */
  redisTimeoutMs: number;
}

export class RedisBroker implements Broker {
  readonly #options: RedisBrokerOptions;
  readonly #log: Logger;
  #handler: BrokerHandler | undefined;
  #cluster: Cluster | undefined;
  readonly #gone: Array<(node: string) => void> = [];
  readonly #joined: Array<() => void> = [];

  constructor(options: RedisBrokerOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
  }

  /** Links to Redis as `node`; does not wait for it (the node serves alone until Redis answers). */
  /** Told of each node found gone (its heartbeat stopped; not one that said it was leaving). */
  onNodeGone(listener: (node: string) => void): void {
    this.#gone.push(listener);
  }

  start(node: string): void {
    const { redis, redisTimeoutMs, ...options } = this.#options;
    const cluster = new Cluster(connectRedis(redis, redisTimeoutMs), { ...options, node }, this.#log, (request, own, echo) => this.#fromBus(request, own, echo === true));
    cluster.joined = () => this.#joined.forEach((listener) => listener());
    cluster.onNodeGone((gone) => this.#gone.forEach((listener) => listener(gone)));
    this.#cluster = cluster;
    cluster.start();
  }

  bind(handler: BrokerHandler): void {
    this.#handler = handler;
  }

  /** A request from the bus: this node's own copies too (`own`); `echo`: one this node delivered already, back to be kept. */
  #fromBus(request: ClusterRequest, own: boolean, echo: boolean): unknown {
    if (request.t === 'leaving' || request.t === 'joining') return undefined;
    if (echo && (request.t === 'cast' || request.t === 'presenceEvent')) return this.#handler!.keep(request);
    return applyHere(this.#handler!, request, own);
  }

  publish(publication: Publication, streamOf?: () => StreamRef | undefined): number | undefined {
    const handler = this.#handler!;
    const cluster = this.#cluster;
    if (!cluster) return applyHere(handler, publication, true) as number;
    // Numbered in Redis first, then delivered here on its way back like on every node; should Redis fail it, here after all.
    const stream = publication.t === 'cast' ? streamOf?.() : undefined;
    if (stream && cluster.send(publication, this.#numbered(stream), () => applyHere(handler, publication, true))) return undefined;
    // Delivered here now and passed on; kept for replay when this node's own copy comes back, or now if it cannot go.
    const echoed = cluster.notify(publication, { failed: () => handler.keep(publication) });
    const sent = handler.deliver(publication, true);
    if (!echoed) handler.keep(publication);
    return sent;
  }

  #numbered(stream: StreamRef): NumberedStream {
    return { key: redisKey(stream), epoch: newEpoch(), size: stream.limits.size, expireMs: stream.limits.ttlMs + 3_600_000 };
  }

  async gather(request: NodeRequest, stream?: StreamRef): Promise<Gathered> {
    const cluster = this.#cluster;
    if (!cluster) return { results: new Map([['this node', applyHere(this.#handler!, request, true)]]) };
    const gathered = await cluster.request(request, stream && this.#numbered(stream));
    return { results: gathered.results, spread: gathered.degraded ? { missing: gathered.missing, degraded: gathered.degraded } : { missing: gathered.missing } };
  }

  notify(request: Extract<NodeRequest, { t: 'replayLeft' | 'replayBack' }>): boolean {
    return this.#cluster?.notify(request) ?? true;
  }

  get shared(): boolean {
    return this.#cluster?.up === true;
  }

  async readStream(stream: Omit<StreamRef, 'limits'>, after: number): Promise<StoredStream | undefined> {
    return this.#cluster?.readStream(redisKey(stream), after);
  }

  onJoined(listener: () => void): void {
    this.#joined.push(listener);
  }

  status(): BrokerStatus | undefined {
    return this.#cluster;
  }

  async stop(): Promise<void> {
    await this.#cluster?.stop();
  }
}
