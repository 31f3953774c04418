/**
 * What reaches a node on the bus and on its reply channel: each PUBLISH read
 * and checked, this node's own copies told apart (and another process under
 * its name noticed), a request applied here and answered to the node that
 * asked, and the answers to this node's own requests handed to the requests
 * that wait for them. Nodes joining and leaving go to the live nodes
 * (live-nodes.ts).
 */
import type { Logger } from '../ops/log.ts';
import { BusMessageSchema, ReplySchema, checkWith, type BusMessage, type ClusterRequest } from './messages.ts';
import { readBatch } from './outbox.ts';
import type { NameClash } from './name-clash.ts';
import type { OwnCopies } from './own-copies.ts';
import { MAX_UNKNOWN_ANSWERS, type WaitingRequests } from './waiting-requests.ts';

export interface BusInboxParts {
  node: string;
  /** What every id and mark this process writes begins with. */
  idPrefix: string;
  own: OwnCopies;
  clash: NameClash;
  waiting: WaitingRequests;
  /** `own`: this node sent the request (its own copy, back from the bus); `echo`: it delivered it already. */
  apply: (request: ClusterRequest, own: boolean, echo?: boolean) => unknown;
  /** Another node said it is joining, or leaving. */
  joining: (node: string) => void;
  leaving: (node: string) => void;
  /** Sends `text`, this node's answer, to the node that asked. */
  reply: (to: string, text: string) => void;
  log: Logger;
}

export class BusInbox {
  readonly #parts: BusInboxParts;

  constructor(parts: BusInboxParts) {
    this.#parts = parts;
  }

  /** One PUBLISH of the bus: a message, or several in the order their node wrote them. */
  fromBus(text: string): void {
    const { items, problem } = readBatch(text);
    if (problem) this.#parts.log.warn('cluster message ignored', { node: this.#parts.node, problem });
    for (const item of items) {
      const parsed = checkWith(BusMessageSchema, item);
      if (parsed.ok) this.#onMessage(parsed.value);
      else this.#parts.log.warn('cluster message ignored', { node: this.#parts.node, problem: parsed.problem });
    }
  }

  /** One PUBLISH of this node's reply channel. */
  fromReplies(text: string): void {
    // Answers that are not ours are dropped quietly: only the request they name could use them.
    for (const item of readBatch(text).items) {
      const parsed = checkWith(ReplySchema, item);
      if (parsed.ok) this.#answer(parsed.value.id, parsed.value.node, parsed.value.result);
    }
  }

  #onMessage(message: BusMessage): void {
    const { node, log } = this.#parts;
    const own = message.from === node;
    const mark = message.id || message.mark;
    // Every id and mark this process writes starts with its prefix: under its name but not, another process has the same name.
    if (own && mark && !mark.startsWith(this.#parts.idPrefix)) this.#parts.clash.heard();
    if (own && (message.skipSender || (mark && !this.#parts.own.cameBack(mark)))) return;
    if (message.echo && own) return void this.#applySafely(message, true, true);
    if (message.request.t === 'leaving') return this.#parts.leaving(message.request.node);
    if (message.request.t === 'joining') return this.#parts.joining(message.request.node);
    const applied = this.#applySafely(message, own);
    if (!applied || !message.id) return;
    if (own) return this.#answer(message.id, node, applied.result);
    let reply: string;
    try {
      reply = JSON.stringify({ id: message.id, node, result: applied.result });
    } catch (error) {
      log.error('cluster request failed', { node, request: message.request.t, error: `its answer: ${(error as Error).message}` });
      return;
    }
    // A lost answer shows as that node missing from the request's answer.
    this.#parts.reply(message.from, reply);
  }

  /** Applies a request here; a failure is this request's alone, logged, never the bus listener's. */
  #applySafely(message: BusMessage, own: boolean, echo = false): { result: unknown } | undefined {
    try {
      return { result: this.#parts.apply(message.request, own, echo) };
    } catch (error) {
      this.#parts.log.error('cluster request failed', { node: this.#parts.node, request: message.request.t, error: (error as Error).message });
      return undefined;
    }
  }

  #answer(id: string, node: string, result: unknown): void {
    if (this.#parts.waiting.answer(id, node, result) === 'overflow') {
      this.#parts.log.warn('cluster answers dropped', { node: this.#parts.node, from: node, reason: `more than ${MAX_UNKNOWN_ANSWERS} answers from nodes not known to be live` });
    }
  }
}
