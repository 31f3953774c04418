/** The URL the client upgrades on: the app's URL, opted in to wsgate.js, with the streams to recover. */
import type { Position } from './types.ts';

/** wsgate refuses an upgrade whose `recover` names more streams than this. */
const MAX_RECOVER = 100;
/**
 * Characters of `recover` in the URL at most (encoded): Node and Bun refuse a
 * request line over 16 KB, nginx by default over 8 KB, and a client whose URL
 * is refused could never reconnect.
 */
export const MAX_RECOVER_CHARS = 6000;

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
 * `asksItself`: a channel the client subscribes to itself once connected,
 * with its position (`since`): it needs no room in the URL, so the streams
 * only the upgrade can resume (path and granted channels) go first.
 */
export function upgradeUrl(base: URL, positions: ReadonlyMap<string, Position>, asksItself: (channel: string) => boolean = () => false): string {
  const url = new URL(base.href);
  // Filtered as text, not through URLSearchParams, which would re-encode the app's query.
  const query = url.search
    .slice(1)
    .split('&')
    .filter((part) => part !== '' && !/^(wsgate|recover)(=|$)/.test(part));
  query.push('wsgate=1');
  if (positions.size > 0) {
    const recover = recoverText(positions, asksItself);
    if (recover !== undefined) query.push(`recover=${recover}`);
  }
  url.search = `?${query.join('&')}`;
  return url.href;
}

/** The encoded `recover` value: the streams only the upgrade resumes, then the most recently moved, within the bounds. */
function recoverText(positions: ReadonlyMap<string, Position>, asksItself: (channel: string) => boolean): string | undefined {
  const order = [...positions].sort(([a], [b]) => Number(asksItself(b)) - Number(asksItself(a)));
  const kept: string[] = [];
  // Braces, and a comma between entries.
  let length = 6;
  for (let at = order.length - 1; at >= 0 && kept.length < MAX_RECOVER; at--) {
    const [stream, position] = order[at]!;
    const entry = encodeURIComponent(`${JSON.stringify(stream)}:${JSON.stringify(position)}`);
    if (length + entry.length + 3 > MAX_RECOVER_CHARS) continue;
    length += entry.length + 3;
    kept.push(entry);
  }
  return kept.length === 0 ? undefined : `%7B${kept.reverse().join('%2C')}%7D`;
}
