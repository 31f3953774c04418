/**
 * An upgrade's "client went away" signal from a runtime whose requests carry
 * one (Bun, Deno): followed only until the answer is given, so an open
 * socket keeps no listener, and a runtime that also aborts the request's
 * signal after a successful answer does not cancel anything then.
 *
 * The request's signal is read only once the answer has taken `lateMs`: Bun
 * makes a request's signal when it is first read and then keeps it for as
 * long as the upgraded socket lives (about 0.45 KB per idle socket in the
 * fan-out bench, a quarter of what Bun itself needs per socket). An auth
 * that answers sooner costs nothing; one that waits (a slow hook, a queue
 * behind other upgrades: where a client that vanished matters) is still
 * cancelled when its client goes, since a signal read after the client went
 * is aborted already. It is not the reading that costs but the listener,
 * which no removal or `onabort = null` takes back (measured alike).
 *
 * A hook queue that is full asks for the signals still unread before it
 * refuses (readUnreadNow): clients that vanished then give up their places
 * at once, as they would with the signal followed from the start.
 */
const unread = new Set<() => void>();

export function followUntilAnswered(requestSignal: () => AbortSignal, lateMs = 0): { signal: AbortSignal; done(): void } {
  const gone = new AbortController();
  const abort = () => gone.abort();
  let request: AbortSignal | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const follow = () => {
    unread.delete(follow);
    clearTimeout(timer);
    request = requestSignal();
    if (request.aborted) gone.abort();
    else request.addEventListener('abort', abort, { once: true });
  };
  if (lateMs > 0) {
    timer = setTimeout(follow, lateMs);
    unread.add(follow);
  } else follow();
  return {
    signal: gone.signal,
    done() {
      clearTimeout(timer);
      unread.delete(follow);
      request?.removeEventListener('abort', abort);
    },
  };
}

/** Reads the signal of every upgrade still waiting unread: those whose client went are cancelled now. */
export function readUnreadNow(): void {
  for (const follow of [...unread]) follow();
}
