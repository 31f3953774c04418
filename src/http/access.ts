/**
 * Who may use the bridge (/message, /dispatch, /reload, the detail of
 * /health): callers on loopback that did not come through a proxy, or
 * anyone with `Authorization: Bearer <secret>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { parseAuthority } from '../config/hosts.ts';
import type { SecureEnv } from '../runtime/types.ts';

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || a === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Whether binding `listen` exposes the port beyond this machine. */
export function isLoopbackListen(listen: string): boolean {
  return isLoopback(listen.replace(/^\[|\]$/g, ''));
}

/**
 * `Authorization: Bearer <secret>`, or, where `allowBasic` (the read-only
 * /metrics and /dashboard), Basic with the secret as the password (any user
 * name): what a browser asks for and Prometheus's basic_auth sends. Never on
 * the rest of the bridge: a browser replays cached Basic credentials on any
 * request to the origin, which another site could make it send (CSRF).
 * Compared in constant time (both sides hashed first, so lengths match too).
 */
export function bearerMatches(authorization: string | undefined, secret: string, allowBasic = false): boolean {
  const header = authorization?.trim() ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1];
  const basic = allowBasic ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header)?.[1] : undefined;
  let password = bearer;
  if (basic !== undefined) {
    let decoded = '';
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(basic), (c) => c.charCodeAt(0)));
    } catch {
      return false;
    }
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    password = decoded.slice(colon + 1);
  }
  if (password === undefined) return false;
  const given = createHash('sha256').update(password).digest();
  const expected = createHash('sha256').update(secret).digest();
  return timingSafeEqual(given, expected);
}

/**
 * A request relayed by a proxy arrives from loopback but is not from this
 * machine. The header's presence is what counts: an empty `X-Forwarded-For:`
 * still says a proxy was in between. A proxy set up to name only the host or
 * scheme it was asked for (the README's nginx block: `Host $host`,
 * `X-Forwarded-Host $host`) is a proxy too: it passes a client's own
 * `Host: localhost` on, so the Host check cannot tell its callers apart.
 */
export function cameThroughProxy(header: (name: string) => string | undefined): boolean {
  return ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto'].some((name) => header(name) !== undefined);
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/** A web origin (`https://app.example:8443`) as scheme, host and effective port; undefined for `null` and other schemes. */
function parseOrigin(value: string): { scheme: 'http' | 'https'; host: string; port: number } | undefined {
  const match = /^(https?):\/\/([^/?#]+)$/i.exec(value.trim().replace(/\/$/, ''));
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase() as 'http' | 'https';
  const authority = parseAuthority(match[2]!);
  if (!authority?.host) return undefined;
  return { scheme, host: authority.host, port: authority.port ?? DEFAULT_PORT[scheme] };
}

/** What a request says about the site it reached: its host, the port in its Host, and `https` when it is known to be TLS. */
export interface Site {
  host: string;
  port?: number;
  scheme?: 'https';
}

/**
 * Whether a browser page from `origin` may open a socket to `site`. Without a
 * list, only pages of the site itself: same host, same port (the one in Host,
 * else the default of the page's scheme), and https when the socket is known
 * to be TLS. `"*"` allows any; entries are origins (`https://admin.example`,
 * exact), or host names (`admin.example`, `*.example.com` for subdomains) on
 * their scheme's default port unless they name one. No Origin header (not a
 * browser) is not this check's business.
 */
export function originAllowed(origin: string | undefined, site: Site, allowed: string[] | undefined): boolean {
  if (origin === undefined) return true;
  if (allowed?.includes('*')) return true;
  const from = parseOrigin(origin);
  if (!from) return false;
  if (!allowed) {
    if (from.host !== site.host || (site.scheme && from.scheme !== site.scheme)) return false;
    return from.port === (site.port ?? DEFAULT_PORT[from.scheme]);
  }
  for (const entry of allowed) {
    if (/^https?:\/\//i.test(entry)) {
      const exact = parseOrigin(entry);
      if (exact && exact.scheme === from.scheme && exact.host === from.host && exact.port === from.port) return true;
      continue;
    }
    const pattern = parseAuthority(entry.startsWith('*.') ? entry.slice(2) : entry);
    if (!pattern) continue;
    const hostMatches = entry.startsWith('*.') ? from.host.endsWith(`.${pattern.host}`) : from.host === pattern.host;
    if (hostMatches && from.port === (pattern.port ?? DEFAULT_PORT[from.scheme])) return true;
  }
  return false;
}

/** Host names that always mean this machine: a page cannot point them elsewhere by DNS (browsers resolve `*.localhost` themselves). */
function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || isLoopback(host);
}

/**
 * Why a caller is not trusted: one of these few, never a header's bytes. The
 * refusal log is throttled per reason, so a reason that echoed a header would
 * let a caller make up a new key, and so new lines, with each request.
 */
export type Refusal =
  | 'not on loopback'
  | 'came through a proxy'
  | 'Host is not a loopback name (DNS rebinding?)'
  | 'a cross-site request from a web page'
  | 'a same-site request from a web page'
  | 'a request with an unknown Sec-Fetch-Site'
  | 'a cross-origin request from a web page';

/** Whether a bridge caller is trusted, and if not, why (for the log). */
export type Trust = { ok: true } | { ok: false; reason: Refusal };

/** What the trust check reads of a request. */
export interface Caller {
  /** The peer address, if the runtime could tell. */
  peer: string | undefined;
  header(name: string): string | undefined;
  /** The scheme of the listener the request came in on. */
  scheme: 'http' | 'https';
}

/**
 * Whether a caller may use the bridge without the secret, and if not, why.
 * Being on loopback is not enough: a web page in the user's browser is on
 * loopback too. So the request must also not be a browser's cross-site
 * request (an Origin other than the gateway's own, or Sec-Fetch-Site other
 * than same-origin/none; no JSON content type is demanded, since PHP posts
 * JSON as form bodies too), must name a loopback Host (a rebound DNS name
 * does not), and must not have come through a proxy (a header naming a
 * forwarded client, even empty).
 */
export function loopbackTrust(caller: Caller, ownAddresses: string[]): Trust {
  if (!isLoopback(caller.peer)) return { ok: false, reason: 'not on loopback' };
  if (cameThroughProxy(caller.header)) return { ok: false, reason: 'came through a proxy' };
  const hostHeader = caller.header('host');
  const authority = hostHeader === undefined ? undefined : parseAuthority(hostHeader);
  if (hostHeader !== undefined && (!authority || !(isLoopbackName(authority.host) || ownAddresses.includes(authority.host)))) {
    return { ok: false, reason: 'Host is not a loopback name (DNS rebinding?)' };
  }
  const fetchSite = caller.header('sec-fetch-site')?.toLowerCase();
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') {
    if (fetchSite === 'cross-site') return { ok: false, reason: 'a cross-site request from a web page' };
    if (fetchSite === 'same-site') return { ok: false, reason: 'a same-site request from a web page' };
    return { ok: false, reason: 'a request with an unknown Sec-Fetch-Site' };
  }
  const origin = caller.header('origin');
  if (origin !== undefined) {
    const from = parseOrigin(origin);
    const own = authority && { scheme: caller.scheme, host: authority.host, port: authority.port ?? DEFAULT_PORT[caller.scheme] };
    if (!from || !own || from.scheme !== own.scheme || from.host !== own.host || from.port !== own.port) return { ok: false, reason: 'a cross-origin request from a web page' };
  }
  return { ok: true };
}

/** Whether a request came over this listener's own TLS: its URL says so, or its runtime does where the URL cannot (SecureEnv). */
export function cameOverTls(c: Context): boolean {
  return c.req.url.startsWith('https:') || (c.env as SecureEnv | undefined)?.secure === true;
}
