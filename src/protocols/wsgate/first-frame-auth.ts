/**
 * Phlo's first-frame auth (`"tokenFrom": "message"`): the socket opens before
 * auth can run, then the client must send {"type":"auth","token":"..."}
 * within the time limit; auth runs on it, and frames sent meanwhile wait, in
 * order and bounded (per socket, and all sockets together), for the
 * connection to be accepted.
 */
import { takeFrame } from '../../core/rate.ts';
import type { WSContext } from 'hono/ws';
import { Client } from '../../core/client.ts';
import type { ClientOptions } from '../../core/client.ts';
import type { Connections } from '../../core/connections.ts';
import { tokenProblem } from '../../core/targets.ts';
import type { Ticket } from '../../core/admissions.ts';
import { CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_TRY_LATER } from '../../core/lifecycle.ts';
import { WAITING_OVERHEAD, pendingBudget } from '../../core/pending-budget.ts';
import type { PathMatch } from '../../config/paths.ts';
import { deliver, frameBytes, frameText } from '../incoming.ts';

export interface WSEvents {
  onOpen(event: Event, ws: WSContext<unknown>): void;
  onMessage(event: MessageEvent, ws: WSContext<unknown>): void | Promise<void>;
  onClose(event: CloseEvent): void;
  onControl(ws: WSContext<unknown>): void;
}

/** Why a socket is closed when the frames of every socket waiting for auth fill limits.preAuthBytes: not its own doing. */
export const PRE_AUTH_FULL = 'the gateway is busy: too many bytes are waiting for auth; try again later';

/** The events of a socket whose token comes in its first frame. */
export function firstFrameAuth(core: Connections, host: string, timeoutMs: number, path: PathMatch, client: ClientOptions): WSEvents {
  let session: Client | undefined;
  let waiting: unknown[] | undefined;
  /** Bytes of the frames waiting for auth: a count alone would let 100 frames of 1 MiB wait. */
  let waitingBytes = 0;
  /** The same bytes in the process-wide budget, given back when the frames are delivered or dropped. */
  const share = pendingBudget.share();
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Its place among the sockets, from the open until it is accepted or gone. */
  let ticket: Ticket | undefined;
  /** Cancels the auth hook when the socket goes first. */
  let auth: AbortController | undefined;
  let gone = false;
  /** When its next ping or pong is due before auth (core/rate.ts), at the rate an open socket's frames have. */
  let controlsDue = 0;
  const fail = (ws: WSContext<unknown>, reason: string, kind: string, code = CLOSE_POLICY, level: 'info' | 'warn' = 'info') => {
    clearTimeout(timer);
    // Refused while its auth runs: the hook is cancelled and its answer, when it comes, registers nothing.
    auth?.abort();
    ticket?.release();
    waiting = [];
    share.release();
    // authorize() told of its own refusals, with the socket and token.
    if (kind !== 'auth') core.refused({ host, kind, reason, level });
    core.closeRefused(ws.raw, code, reason);
  };
  return {
    onOpen(_event: Event, ws: WSContext<unknown>) {
      // The gateway may have filled up since the upgrade was let through.
      const admitted = core.admit(host, undefined);
      if ('refused' in admitted) return fail(ws, admitted.refused.reason, 'limit', CLOSE_TRY_LATER);
      ticket = admitted.ticket;
      ticket.closeOnEvict((code, reason, kind) => fail(ws, reason, kind, code));
      timer = setTimeout(() => fail(ws, 'no auth message in time', 'no_auth_message'), timeoutMs);
    },
    async onMessage(event: MessageEvent, ws: WSContext<unknown>) {
      if (session) return deliver(core, session, event.data);
      if (!ticket || ticket.released) return;
      const bytes = frameBytes(event.data);
      // deliver() holds an open socket's frames to the limit; Deno has none of its own, so the auth frame, read before, is held here.
      if (bytes > core.limits.frame) return fail(ws, `frame of ${bytes} bytes is over the limit of ${core.limits.frame}`, 'limit', CLOSE_TOO_BIG);
      if (waiting) {
        // Frames sent during auth wait for it, as many as may wait for the app on an open socket.
        waitingBytes += bytes;
        const { pending, sendBuffer, preAuthBytes } = core.limits;
        if (waiting.length >= pending) return fail(ws, 'too many messages before auth finished', 'limit');
        if (waitingBytes > sendBuffer) return fail(ws, `more than ${sendBuffer} bytes sent before auth finished`, 'limit');
        // The gateway's bound, not this client's: it may try again, and the log says the gateway refused.
        if (!share.take(bytes + WAITING_OVERHEAD, preAuthBytes)) return fail(ws, PRE_AUTH_FULL, 'limit', CLOSE_TRY_LATER, 'warn');
        return void waiting.push(event.data);
      }
      let token: unknown;
      try {
        const first = JSON.parse(frameText(event.data)) as { type?: unknown; token?: unknown };
        token = first?.type === 'auth' ? first.token : undefined;
      } catch {
        // Not JSON: refused below like any other first frame.
      }
      if (typeof token !== 'string' || token === '') return fail(ws, 'the first frame must be {"type":"auth","token":"..."}', 'no_token');
      const badToken = tokenProblem(token);
      if (badToken) return fail(ws, badToken, 'bad_token');
      clearTimeout(timer);
      waiting = [];
      const full = core.admitToken(ticket, token);
      if (full) return fail(ws, full.reason, 'limit');
      auth = new AbortController();
      const pending = await core.authorize(host, token, path, client, auth.signal);
      auth = undefined;
      // Gone or refused meanwhile: onClose or fail() gave its place back and cancelled the hook; nothing is registered.
      if (gone || ticket.released) return;
      if ('status' in pending) return fail(ws, pending.status === 503 ? pending.reason : 'unauthorized', 'auth', pending.status === 503 ? CLOSE_TRY_LATER : CLOSE_POLICY);
      session = core.open(new Client(pending), ws.raw);
      ticket.release();
      for (const data of waiting.splice(0)) deliver(core, session, data);
      share.release();
    },
    // Pings and pongs: before auth, at an open socket's rate; after, counted with its messages.
    onControl(ws: WSContext<unknown>) {
      if (session) return core.control(session);
      if (!ticket || ticket.released) return;
      const due = takeFrame(controlsDue, performance.now(), core.limits.messagesPerSecond, core.limits.messageBurst);
      if (due === undefined) fail(ws, 'too many pings before auth finished', 'limit');
      else controlsDue = due;
    },
    onClose(event: CloseEvent) {
      gone = true;
      clearTimeout(timer);
      auth?.abort();
      ticket?.release();
      waiting = undefined;
      share.release();
      if (session) core.closed(session, event.code);
    },
  };
}
