/** The URL the client upgrades on: the app's URL, opted in to wsgate.js, with the streams to recover. */
import type { Position } from './types.ts';

/** wsgate refuses an upgrade whose `recover` names more streams than this. */
const MAX_RECOVER = 100;

/** The socket's URL without wsgate's query: relative to the page, http(s) made ws(s). */
export function baseUrl(url: string): URL {
  const resolved = new URL(url, typeof location === 'undefined' ? undefined : location.href);
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  else if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  // WebSocket refuses a URL with a fragment.
  resolved.hash = '';
  return resolved;
}

/**
 * The URL with `wsgate=1` and the positions to recover, and the app's own query as it was.
 * `positions` is in order of recency, the most recently moved stream last.
 */
export function upgradeUrl(base: URL, positions: ReadonlyMap<string, Position>): string {
  const url = new URL(base.href);
  // Filtered as text, not through URLSearchParams, which would re-encode the app's query.
  const query = url.search
    .slice(1)
    .split('&')
    .filter((part) => part !== '' && !/^(wsgate|recover)(=|$)/.test(part));
  query.push('wsgate=1');
  if (positions.size > 0) {
    // The most recently moved streams, which are last in the map.
    const recover = Object.fromEntries([...positions].slice(-MAX_RECOVER));
    query.push(`recover=${encodeURIComponent(JSON.stringify(recover))}`);
  }
  url.search = `?${query.join('&')}`;
  return url.href;
}
