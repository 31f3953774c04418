/**
 * Where the cluster's Redis is, from one URL (`cluster.redis`,
 * WSGATE_REDIS_URL): one instance, `redis://` or `rediss://` (TLS), or a
 * Sentinel group that names the current master, `redis+sentinel://` with
 * the sentinels' addresses and the master's name:
 *
 *   redis+sentinel://[user:password@]host:port[,host:port...]/<master name>[?sentinelPassword=...]
 *
 * The user and password are the master's (and its replicas'); sentinels that
 * ask for a password of their own take `sentinelPassword`.
 */

export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: Array<{ host: string; port: number }>;
      name: string;
      username?: string;
      password?: string;
      sentinelPassword?: string;
    };

const SENTINEL_PORT = 26379;

/** The target a URL names, or why it names none (never quoting a password). */
export function parseRedisUrl(url: string): RedisTarget | { problem: string } {
  if (/^rediss?:\/\//.test(url)) {
    try {
      new URL(url);
    } catch {
      return { problem: 'expected a Redis URL such as "redis://127.0.0.1:6379"' };
    }
    return { kind: 'single', url };
  }
  const sentinel = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)\/?(?:\?([^#]*))?$/.exec(url);
  if (!sentinel) {
    return {
      problem: url.startsWith('redis+sentinel:')
        ? 'expected a Sentinel URL such as "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster"'
        : 'expected a Redis URL such as "redis://127.0.0.1:6379", or "redis+sentinel://host:26379,host:26380/<master name>"',
    };
  }
  const [, userinfo, hostList, name, query] = sentinel;
  const sentinels: Array<{ host: string; port: number }> = [];
  for (const entry of hostList!.split(',')) {
    const parsed = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(entry.trim());
    const port = parsed?.[2] === undefined ? SENTINEL_PORT : Number(parsed[2]);
    if (!parsed || port < 1 || port > 65535) return { problem: `expected sentinels as host:port, separated by commas; got ${JSON.stringify(entry.slice(0, 80))}` };
    sentinels.push({ host: parsed[1]!.replace(/^\[|\]$/g, ''), port });
  }
  const target: RedisTarget = { kind: 'sentinel', sentinels, name: decodeURIComponent(name!) };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    if (user) target.username = user;
    if (colon >= 0) target.password = decodeURIComponent(userinfo.slice(colon + 1));
  }
  for (const [key, value] of new URLSearchParams(query ?? '')) {
    if (key === 'sentinelPassword') target.sentinelPassword = value;
    else return { problem: `unknown option ${JSON.stringify(key.slice(0, 40))} in the Sentinel URL (known: sentinelPassword)` };
  }
  return target;
}

/** The URL fit for a log line or `check`: passwords replaced by ***. */
export function redactRedisUrl(url: string): string {
  const target = parseRedisUrl(url);
  if ('problem' in target) return 'redis://(unparsable)';
  if (target.kind === 'single') {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  }
  const user = target.username ? encodeURIComponent(target.username) : '';
  const auth = target.password !== undefined ? `${user}:***@` : user ? `${user}@` : '';
  const hosts = target.sentinels.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');
  return `redis+sentinel://${auth}${hosts}/${encodeURIComponent(target.name)}${target.sentinelPassword !== undefined ? '?sentinelPassword=***' : ''}`;
}
