/**
 * An upgrade's "client went away" signal from a runtime whose requests carry
 * one (Bun, Deno): followed only until the answer is given, so an open
 * socket keeps no listener, and a runtime that also aborts the request's
 * signal after a successful answer does not cancel anything then.
 */
export function followUntilAnswered(request: AbortSignal): { signal: AbortSignal; done(): void } {
  const gone = new AbortController();
  if (request.aborted) gone.abort();
  const abort = () => gone.abort();
  request.addEventListener('abort', abort, { once: true });
  return { signal: gone.signal, done: () => request.removeEventListener('abort', abort) };
}
