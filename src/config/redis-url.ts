/**
 * Where the cluster's Redis is, from one URL (`cluster.redis`,
 * WSGATE_REDIS_URL):
 *
 *   redis://[user:password@]host:port[/db]          one instance (rediss:// for TLS)
 *   redis+sentinel://[user:password@]host:port[,host:port...]/<master name>[?sentinelPassword=...]
 *   redis+cluster://[user:password@]host:port[,host:port...]   a Redis Cluster (rediss+cluster:// for TLS)
 *   unix:///path/to/redis.sock[?db=N&username=...&password=...]   one instance on this machine, by its Unix socket
 *
 * For a Sentinel group the user and password are the master's (and its
 * replicas'); sentinels that ask for a password of their own take
 * `sentinelPassword`. For a Redis Cluster the addresses are where to start:
 * the client learns the rest of the cluster from any of them.
 *
 * Every form takes `?prefix=...`, the key and channel prefix (as
 * `cluster.prefix`), so an environment variable alone can name both.
 */
import { maskQueryOptions } from './problems.ts';

export interface RedisAddress {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
}

export type RedisTarget = (
  | { kind: 'single'; url: string }
  | ({ kind: 'sentinel'; sentinels: RedisAddress[]; name: string; sentinelPassword?: string } & Credentials)
  | ({ kind: 'cluster'; nodes: RedisAddress[]; tls: boolean } & Credentials)
  | ({ kind: 'socket'; path: string; db?: number } & Credentials)
) & { prefix?: string };

const SENTINEL_PORT = 26379;
const REDIS_PORT = 6379;

const EXAMPLES = '"redis://127.0.0.1:6379", "unix:///run/redis/redis.sock", "redis+sentinel://host:26379,host:26380/<master name>" or "redis+cluster://host:7000,host:7001"';

/** `host:port` entries separated by commas, a port left out being `defaultPort`. */
function parseAddresses(list: string, defaultPort: number, what: string): RedisAddress[] | { problem: string } {
  const addresses: RedisAddress[] = [];
  for (const entry of list.split(',')) {
    const parsed = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(entry.trim());
    const port = parsed?.[2] === undefined ? defaultPort : Number(parsed[2]);
    if (!parsed || port < 1 || port > 65535) return { problem: `expected ${what} as host:port, separated by commas; got ${JSON.stringify(entry.slice(0, 80))}` };
    addresses.push({ host: parsed[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return addresses;
}

/** `user:password` as given before the '@', decoded; a problem (quoting neither) when it cannot be. */
function credentials(userinfo: string | undefined): Credentials | { problem: string } {
  if (!userinfo) return {};
  const found: Credentials = {};
  const colon = userinfo.indexOf(':');
  try {
    const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    if (user) found.username = user;
    if (colon >= 0) found.password = decodeURIComponent(userinfo.slice(colon + 1));
  } catch {
    return { problem: 'expected the user and password percent-encoded (a "%" must start %XX)' };
  }
  return found;
}

/** The query's options, each one of `known`; or the first one that is not. */
function options(query: string | undefined, known: readonly string[], form: string): Map<string, string> | { problem: string } {
  const found = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(query ?? '')) {
    if (!known.includes(key)) return { problem: `unknown option ${JSON.stringify(key.slice(0, 40))} in the ${form} URL (known: ${known.join(', ')})` };
    found.set(key, value);
  }
  return found;
}

/** The target a URL names, or why it names none (never quoting a password). */
export function parseRedisUrl(url: string): RedisTarget | { problem: string } {
  if (/^rediss?:\/\//.test(url)) return parseSingle(url);
  // The userinfo runs to the last '@' before the path, so an '@' left unencoded in a password stays in it.
  const sentinel = /^redis\+sentinel:\/\/(?:([^/]*)@)?([^/?#@]+)\/([^/?#]+)\/?(?:\?([^#]*))?$/.exec(url);
  if (sentinel) {
    const [, userinfo, list, name, query] = sentinel;
    const sentinels = parseAddresses(list!, SENTINEL_PORT, 'sentinels');
    if ('problem' in sentinels) return sentinels;
    const given = options(query, ['sentinelPassword', 'prefix'], 'Sentinel');
    if ('problem' in given) return given;
    const auth = credentials(userinfo);
    if ('problem' in auth) return auth;
    let master: string;
    try {
      master = decodeURIComponent(name!);
    } catch {
      return { problem: 'expected the master name percent-encoded (a "%" must start %XX)' };
    }
    const target: RedisTarget = { kind: 'sentinel', sentinels, name: master, ...auth };
    if (given.has('sentinelPassword')) target.sentinelPassword = given.get('sentinelPassword');
    if (given.has('prefix')) target.prefix = given.get('prefix');
    return target;
  }
  const cluster = /^(rediss?)\+cluster:\/\/(?:([^/]*)@)?([^/?#@]+)\/?(?:\?([^#]*))?$/.exec(url);
  if (cluster) {
    const [, scheme, userinfo, list, query] = cluster;
    const nodes = parseAddresses(list!, REDIS_PORT, 'cluster nodes');
    if ('problem' in nodes) return nodes;
    const given = options(query, ['prefix'], 'Redis Cluster');
    if ('problem' in given) return given;
    const auth = credentials(userinfo);
    if ('problem' in auth) return auth;
    const target: RedisTarget = { kind: 'cluster', nodes, tls: scheme === 'rediss', ...auth };
    if (given.has('prefix')) target.prefix = given.get('prefix');
    return target;
  }
  if (url.startsWith('unix:')) return parseSocket(url);
  if (url.startsWith('redis+sentinel:')) return { problem: 'expected a Sentinel URL such as "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster"' };
  if (/^rediss?\+cluster:/.test(url)) return { problem: 'expected a Redis Cluster URL such as "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"' };
  return { problem: `expected a Redis URL such as ${EXAMPLES}` };
}

/** One instance, as ioredis takes its URL: without wsgate's own `prefix`, which ioredis would take for an option of its own. */
function parseSingle(url: string): RedisTarget | { problem: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { problem: `expected a Redis URL such as ${EXAMPLES}` };
  }
  const prefix = parsed.searchParams.get('prefix');
  if (prefix === null) return { kind: 'single', url };
  parsed.searchParams.delete('prefix');
  return { kind: 'single', url: parsed.href, prefix };
}

/**
 * A Unix socket: the path is everything up to the query, which holds what a
 * URL of this form has no other place for (a userinfo before an empty host
 * is no URL), as redis-py spells it.
 */
function parseSocket(url: string): RedisTarget | { problem: string } {
  const parsed = /^unix:\/\/(\/[^?#]*)(?:\?([^#]*))?$/.exec(url);
  if (!parsed || parsed[1] === '/') return { problem: 'expected a Unix socket URL such as "unix:///run/redis/redis.sock" (an absolute path after unix://)' };
  const given = options(parsed[2], ['db', 'username', 'password', 'prefix'], 'Unix socket');
  if ('problem' in given) return given;
  let path: string;
  try {
    path = decodeURIComponent(parsed[1]!);
  } catch {
    return { problem: 'expected the socket\'s path percent-encoded (a "%" must start %XX)' };
  }
  const target: RedisTarget = { kind: 'socket', path };
  const db = given.get('db');
  if (db !== undefined) {
    if (!/^\d{1,5}$/.test(db)) return { problem: `expected db as a number, got ${JSON.stringify(db.slice(0, 20))}` };
    target.db = Number(db);
  }
  if (given.has('username')) target.username = given.get('username');
  if (given.has('password')) target.password = given.get('password');
  if (given.has('prefix')) target.prefix = given.get('prefix');
  return target;
}

/** The URL fit for a log line or `check`: passwords replaced by ***. */
export function redactRedisUrl(url: string): string {
  const target = parseRedisUrl(url);
  if ('problem' in target) return 'redis://(unparsable)';
  if (target.kind === 'single') {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // ioredis takes the query's options as connection options: ?password= (or sentinelPassword=) authenticates too.
    maskQueryOptions(parsed, /pass|secret|token/i);
    return parsed.href;
  }
  if (target.kind === 'socket') {
    const query = new URLSearchParams();
    if (target.db !== undefined) query.set('db', String(target.db));
    if (target.username !== undefined) query.set('username', target.username);
    if (target.password !== undefined) query.set('password', '***');
    if (target.prefix !== undefined) query.set('prefix', target.prefix);
    return `unix://${encodeURI(target.path)}${query.size ? `?${query}` : ''}`;
  }
  const user = target.username ? encodeURIComponent(target.username) : '';
  const auth = target.password !== undefined ? `${user}:***@` : user ? `${user}@` : '';
  const hosts = (target.kind === 'sentinel' ? target.sentinels : target.nodes).map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');
  const query = new URLSearchParams();
  if (target.kind === 'sentinel' && target.sentinelPassword !== undefined) query.set('sentinelPassword', '***');
  if (target.prefix !== undefined) query.set('prefix', target.prefix);
  const search = query.size ? `?${query}` : '';
  if (target.kind === 'cluster') return `${target.tls ? 'rediss' : 'redis'}+cluster://${auth}${hosts}${search}`;
  return `redis+sentinel://${auth}${hosts}/${encodeURIComponent(target.name)}${search}`;
}

/**
 * The prefix of the keys and channels of the bus: the nodes' set, the
 * streams' history, the bus and the reply channels. In a Redis Cluster they
 * all carry one hash tag made of the cluster's prefix, so they share one
 * slot: the script that numbers a publication may publish it on the bus
 * (SPUBLISH only reaches a channel of the script's own slot), and one
 * subscriber connection hears all of it. The presence keys keep the plain
 * prefix and spread over the shards by channel (cluster/member-scripts.ts).
 * On a database other than 0 they carry its number.
 */
export function busPrefix(url: string, prefix: string): string {
  const target = parseRedisUrl(url);
  if ('problem' in target) return prefix;
  if (target.kind !== 'cluster') {
    // Keys live in their database, but a channel is heard on every one: clusters told apart by their database alone
    // would take each other's casts and nodes. Database 0 keeps the plain prefix.
    const db = database(target);
    return db ? `${prefix}db${db}:` : prefix;
  }
  // encodeURIComponent spells '{' and '}' out, so the tag ends where it should; '%' alone is no encoded prefix.
  return `{${encodeURIComponent(prefix) || '%'}}`;
}

/** The database the target selects, as ioredis reads it (a redis:// path, else its `?db=`); 0 when none. */
function database(target: RedisTarget): number {
  if (target.kind === 'socket') return target.db ?? 0;
  if (target.kind !== 'single') return 0;
  const parsed = new URL(target.url);
  const db = Number(parsed.pathname.slice(1) || parsed.searchParams.get('db') || 0);
  return Number.isInteger(db) && db > 0 ? db : 0;
}

/** The cluster's key prefix: `cluster.prefix`, else the URL's `?prefix=`, else "wsgate:". */
export function clusterPrefix(url: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const target = parseRedisUrl(url);
  return ('problem' in target ? undefined : target.prefix) ?? 'wsgate:';
}
