/**
 * A node alone: every publication is delivered and kept here at once, every
 * request is answered by this node only, and there is no store but its own
 * history.
 */
import type { Broker, BrokerHandler, BrokerStatus, Gathered } from './broker.ts';
import type { NodeRequest, Publication } from './requests.ts';
import type { StoredStream } from './history/history.ts';

/** Applies a request on this node through its handler: a publication is delivered and kept. */
export function applyHere(handler: BrokerHandler, request: NodeRequest, taken: boolean): unknown {
  if (request.t !== 'cast' && request.t !== 'presenceEvent') return handler.apply(request, taken);
  const sent = handler.deliver(request, taken);
  handler.keep(request);
  return sent;
}

export class MemoryBroker implements Broker {
  readonly #node: string;
  #handler: BrokerHandler | undefined;

  constructor(node = 'this node') {
    this.#node = node;
  }

  bind(handler: BrokerHandler): void {
    this.#handler = handler;
  }

  publish(publication: Publication): number {
    return applyHere(this.#handler!, publication, true) as number;
  }

  async gather(request: NodeRequest): Promise<Gathered> {
    return { results: new Map([[this.#node, applyHere(this.#handler!, request, true)]]) };
  }

  /** Nobody else to tell: every node knows. */
  notify(): boolean {
    return true;
  }

  readonly shared = false;

  async readStream(): Promise<StoredStream | undefined> {
    return undefined;
  }

  onJoined(): void {
    // Alone, it never joins others.
  }

  status(): BrokerStatus | undefined {
    return undefined;
  }

  async stop(): Promise<void> {}
}
