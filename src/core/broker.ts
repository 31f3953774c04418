/**
 * How a node reaches the others. The core publishes through a Broker and
 * is called back through a BrokerHandler; it never asks whether there are
 * other nodes. The memory broker (memory-broker.ts) is a node alone; the
 * Redis broker (src/cluster/redis-broker.ts) is a node among others.
 */
import type { NodeRequest, Publication } from './requests.ts';
import type { HistoryLimits, StoredStream } from './history/history.ts';
import type { Selection } from './targets.ts';

export interface Gathered {
  /** Each answering node's result, this node's first. */
  results: Map<string, unknown>;
  /** Among several nodes: the live ones that did not answer in time, and why only this one did, if so. Absent for a node alone. */
  spread?: { missing: string[]; degraded?: string };
}

/** A stream with history that a cast goes to: its key on this node, what it was cast to, and how much it keeps. */
export interface StreamRef {
  host: string;
  key: string;
  selection: Selection;
  limits: HistoryLimits;
}

/** What a broker calls on its node. */
export interface BrokerHandler {
  /** A publication reached this node: to its sockets (and its stream's history). `taken`: this node took it from a caller. Returns how many got it. */
  deliver(publication: Publication, taken: boolean): number;
  /** A publication, in the order every node sees it: kept for gone tokens that replay. */
  keep(publication: Publication): void;
  /** Any other request, applied to this node's sockets; its answer. */
  apply(request: Exclude<NodeRequest, Publication>, taken: boolean): unknown;
}

/** What the dashboard, /health and /metrics say of the nodes; undefined for a node alone. */
export interface BrokerStatus {
  node: string;
  up: boolean;
  reason?: string;
  /** What is wrong though Redis is up (another live node under this one's name). */
  problem?: string;
  nodes(): string[];
  stats: { requests: number; seconds: number; incomplete: number; degraded: number };
  /** Requests waiting for other nodes' answers now. */
  pending: number;
}

export interface Broker {
  /** From now on, what reaches this node goes to `handler`. */
  bind(handler: BrokerHandler): void;
  /**
   * Publishes a cast or presence event to every node, this one included,
   * delivered and kept through the handler. Returns how many of this node's
   * sockets got it, or undefined when this node's own copy comes back later
   * (a stream numbered by the broker), in the broker's order. `stream` is
   * asked for only by a broker that numbers streams, so a node alone does
   * not look it up for every cast.
   */
  publish(publication: Publication, stream?: () => StreamRef | undefined): number | undefined;
  /** Runs a request on every live node and gathers their answers. */
  gather(request: NodeRequest, stream?: StreamRef): Promise<Gathered>;
  /** News the other nodes act on (a token gone or back); false when they cannot be told now. */
  notify(request: Extract<NodeRequest, { t: 'replayLeft' | 'replayBack' }>): boolean;
  /** Whether a store shared by the nodes may hold publications this node's own copy lacks. */
  readonly shared: boolean;
  /** What that store holds of a stream after `after`; undefined when there is none or it cannot say now. */
  readStream(stream: Omit<StreamRef, 'limits'>, after: number): Promise<StoredStream | undefined>;
  /** Runs each time this node (re)joins the others, so it can ask them what it missed. */
  onJoined(listener: () => void): void;
  /** The nodes as the broker knows them, for status pages; undefined for a node alone. */
  status(): BrokerStatus | undefined;
  stop(): Promise<void>;
}
