/**
 * Host names: what a request says it is for, and which configured app that is.
 * Pure functions; the server feeds them header values.
 */

/** A request's authority: the host name (normalised) and the port, when one was given. */
export interface Authority {
  host: string;
  port?: number;
  /** The scheme a forwarded value named (`https://app.example`), if any. */
  scheme?: 'http' | 'https';
}

/** Host names and IP literals after normalising; anything else is not a host. */
const HOST_NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const IPV6 = /^[0-9a-f:.]+$/;
/** DNS's bound: a longer name is no host, and a catch-all host would keep it (16 KB of a header) with each socket. */
const MAX_NAME = 253;

/**
 * One Host or X-Forwarded-Host value, strictly: `name[:port]`, `[v6][:port]`,
 * or a bare v6 address; a leading `http://`/`https://` and a plain path are
 * allowed and dropped (the contract's proxies send them). Userinfo
 * (`evil.com@a.test`), dot segments (`a.test/../b.test`), backslashes and
 * anything that is not a host name make it undefined: a value a browser or
 * proxy never sends must not route to some host by the parser's choice.
 */
export function parseAuthority(value: string): Authority | undefined {
  let rest = value.trim().toLowerCase();
  let scheme: Authority['scheme'];
  const schemeMatch = /^(https?):\/\//.exec(rest);
  if (schemeMatch) {
    scheme = schemeMatch[1] as 'http' | 'https';
    rest = rest.slice(schemeMatch[0].length);
  }
  if (/[@\\\s]/.test(rest)) return undefined;
  const end = rest.search(/[/?#]/);
  const path = end >= 0 ? rest.slice(end) : '';
  if (/(^|\/)\.\.?(\/|$|\?|#)/.test(path)) return undefined;
  let authority = end >= 0 ? rest.slice(0, end) : rest;
  let port: number | undefined;
  let host: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return undefined;
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after && !/^:\d{1,5}$/.test(after)) return undefined;
    if (after) port = Number(after.slice(1));
    if (!IPV6.test(host) || !host.includes(':')) return undefined;
  } else if ((authority.match(/:/g) ?? []).length > 1) {
    host = authority;
    if (!IPV6.test(host)) return undefined;
  } else {
    const colon = authority.indexOf(':');
    if (colon >= 0) {
      const digits = authority.slice(colon + 1);
      if (!/^\d{1,5}$/.test(digits)) return undefined;
      port = Number(digits);
      authority = authority.slice(0, colon);
    }
    host = authority.replace(/\.$/, '');
    if (!HOST_NAME.test(host)) return undefined;
  }
  if ((port !== undefined && port > 65535) || host.length > MAX_NAME) return undefined;
  const parsed: Authority = { host };
  if (port !== undefined) parsed.port = port;
  if (scheme) parsed.scheme = scheme;
  return parsed;
}

/**
 * The request's authority: the first value of X-Forwarded-Host, else Host.
 * `{host: ''}` when neither says anything; undefined when the one that
 * counts is malformed.
 */
export function requestAuthority(forwarded: string | null | undefined, host: string | null | undefined): Authority | undefined {
  const first = forwarded?.split(',')[0]?.trim();
  const value = first ? first : host?.trim() ?? '';
  return value ? parseAuthority(value) : { host: '' };
}

/** The request's host name, normalised; undefined when the header that counts is malformed. */
export function requestHost(forwarded: string | null | undefined, host: string | null | undefined): string | undefined {
  return requestAuthority(forwarded, host)?.host;
}

/**
 * Lower-case, without scheme, path or port; `[::1]:3001` becomes `::1`.
 * A bare IPv6 address (more than one colon, no brackets) is kept whole.
 */
export function normaliseHost(value: string): string {
  let h = value.trim().toLowerCase();
  h = h.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  const slash = h.search(/[/?#]/);
  if (slash >= 0) h = h.slice(0, slash);
  const at = h.lastIndexOf('@');
  if (at >= 0) h = h.slice(at + 1);
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h.slice(1);
  }
  const colons = h.split(':').length - 1;
  if (colons === 1) h = h.slice(0, h.indexOf(':'));
  return h.replace(/\.$/, '');
}

/** What a host key in the config is allowed to look like. */
export function hostKeyProblem(key: string): string | undefined {
  if (key === '*') return undefined;
  const name = key.startsWith('*.') ? key.slice(2) : key;
  if (!name) return 'is empty';
  if (name.includes('*')) return 'may use "*" only as "*" or a leading "*."';
  if (/[\s/?#@]/.test(name)) return 'must be a bare host name (no scheme, path or spaces)';
  return undefined;
}

/**
 * Resolves a normalised request host to a configured entry: exact names first,
 * then the longest matching `*.suffix` (which does not match the bare suffix),
 * then `*`.
 */
export class HostTable<T> {
  readonly #exact = new Map<string, T>();
  readonly #wildcards: Array<[suffix: string, value: T]> = [];
  #fallback: T | undefined;

  constructor(entries: Iterable<[string, T]>) {
    for (const [key, value] of entries) {
      if (key === '*') this.#fallback = value;
      else if (key.startsWith('*.')) this.#wildcards.push([key.slice(1), value]);
      else this.#exact.set(key, value);
    }
    this.#wildcards.sort((a, b) => b[0].length - a[0].length);
  }

  match(host: string): T | undefined {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    for (const [suffix, value] of this.#wildcards) {
      if (host.length > suffix.length && host.endsWith(suffix)) return value;
    }
    return this.#fallback;
  }
}
