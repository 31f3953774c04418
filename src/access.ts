/**
 * Who may use the bridge (/message, /dispatch, /reload, the detail of
 * /health): callers on loopback that did not come through a proxy, or
 * anyone with `Authorization: Bearer <secret>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { normaliseHost } from './hosts.ts';

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

/** A request relayed by a proxy arrives from loopback but is not from this machine. */
export function cameThroughProxy(header: (name: string) => string | undefined): boolean {
  return Boolean(header('x-forwarded-for') || header('forwarded') || header('x-real-ip'));
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
 * Whether a browser page from `origin` may open a socket to `host`. Without a
 * list, only pages of the host itself; `"*"` allows any; entries are origins
 * or host names, `*.example.com` for subdomains. No Origin header (not a
 * browser) is not this check's business.
 */
export function originAllowed(origin: string | undefined, host: string, allowed: string[] | undefined): boolean {
  if (origin === undefined) return true;
  const from = normaliseHost(origin);
  if (!allowed) return from === host;
  for (const entry of allowed) {
    if (entry === '*') return true;
    const pattern = normaliseHost(entry);
    if (pattern.startsWith('*.') ? from.endsWith(pattern.slice(1)) && from.length > pattern.length - 1 : from === pattern) return true;
  }
  return false;
}
