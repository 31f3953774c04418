/**
 * Cast targets as PHP sends them, parsed into a selection the hub can index.
 */
import { hasLoneSurrogate } from './utf8.ts';

export type Selection =
  | { kind: 'all' }
  | { kind: 'token'; token: string }
  | { kind: 'notToken'; token: string }
  | { kind: 'sockets'; ids: string[] }
  | { kind: 'channel'; channel: string };

export type Parsed = { ok: true; selection: Selection } | { ok: false; reason: string };

const SOCKET_ID = /^[0-9a-f]{16}$/;

export function isSocketId(value: string): boolean {
  return SOCKET_ID.test(value);
}

/** `target` as it came in the bridge body: absent, a string, or a list of socket ids. */
export function parseTarget(target: unknown): Parsed {
  if (target === undefined || target === null || target === '' || target === 'all') {
    return { ok: true, selection: { kind: 'all' } };
  }
  if (Array.isArray(target)) {
    const ids: string[] = [];
    for (const [i, id] of target.entries()) {
      if (typeof id !== 'string' || !isSocketId(id)) {
        return { ok: false, reason: `target[${i}] must be a socket id (16 lower-case hex characters)` };
      }
      ids.push(id);
    }
    return { ok: true, selection: { kind: 'sockets', ids } };
  }
  if (typeof target !== 'string') {
    return { ok: false, reason: 'target must be a string or a list of socket ids' };
  }
  if (target.startsWith('token:not:')) {
    const token = target.slice('token:not:'.length);
    return token ? { ok: true, selection: { kind: 'notToken', token } } : { ok: false, reason: 'target "token:not:" needs a token' };
  }
  if (target.startsWith('token:')) {
    const token = target.slice('token:'.length);
    return token ? { ok: true, selection: { kind: 'token', token } } : { ok: false, reason: 'target "token:" needs a token' };
  }
  if (target.startsWith('channel:')) {
    const channel = target.slice('channel:'.length);
    const problem = channelProblem(channel);
    return problem ? { ok: false, reason: `target "channel:": ${problem}` } : { ok: true, selection: { kind: 'channel', channel } };
  }
  const id = target.startsWith('socket:') ? target.slice('socket:'.length) : target;
  if (isSocketId(id)) return { ok: true, selection: { kind: 'sockets', ids: [id] } };
  return {
    ok: false,
    reason: `unknown target "${target.slice(0, 80)}": expected "all", "token:<t>", "token:not:<t>", "socket:<id>", "channel:<name>", a socket id or a list of them`,
  };
}

/**
 * Why `name` cannot be a channel name, if it cannot: 1 to 200 characters, no control characters, no lone surrogates.
 * A lone surrogate (JSON's "\ud800" makes one out of a client's text) has no UTF-8 form: it is written as U+FFFD, so a
 * one-shot hook's argv and a native topic name another string, and PHP's json_decode() refuses the whole job line that
 * carries it, on which a resident worker gives up and exits.
 */
export function channelProblem(name: string): string | undefined {
  if (name === '') return 'a channel name must not be empty';
  if (name.length > 200) return 'a channel name has at most 200 characters';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a channel name must not contain control characters';
  if (hasLoneSurrogate(name)) return 'a channel name must not contain a lone UTF-16 surrogate';
  return undefined;
}

/**
 * Why a client's token cannot be taken, if it cannot: a control character.
 * A NUL cannot be passed to a one-shot hook as an argument, and the error
 * that says so would quote the token; no session id holds one. Nor a lone
 * surrogate (a first-frame token is JSON): the hooks could not be given it.
 */
export function tokenProblem(token: string): string | undefined {
  if (/[\u0000-\u001f\u007f]/.test(token)) return 'the token holds a control character';
  return hasLoneSurrogate(token) ? 'the token holds a lone UTF-16 surrogate' : undefined;
}

/** `except` as Phlo's wsCast sends it: "" or null mean "skip none". */
export function parseExcept(except: unknown): { ok: true; except: string | undefined } | { ok: false; reason: string } {
  if (except === undefined || except === null || except === '') return { ok: true, except: undefined };
  if (typeof except === 'string') return { ok: true, except };
  return { ok: false, reason: 'except must be a socket id, "" or null' };
}
