/**
 * Host names: what a request says it is for, and which configured app that is.
 * Pure functions; the server feeds them header values.
 */

/** The request's host: first value of X-Forwarded-Host, else Host, normalised. */
export function requestHost(forwarded: string | null | undefined, host: string | null | undefined): string {
  const first = forwarded?.split(',')[0]?.trim();
  return normaliseHost(first ? first : host ?? '');
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
