/**
 * The `pusher` section: Pusher Channels apps (pusher-js, Laravel Echo,
 * Laravel's broadcaster). Each app is checked on its own here; what needs the
 * rest of the file (its `host` among the configured hosts, the hook-less
 * host of an app with a space of its own) is `resolvePusher`'s, run by the
 * whole-file pipeline once every field is right.
 */
import type { ChannelRule } from './channel-rules.ts';
import process from 'node:process';
import * as v from 'valibot';
import { BUILTIN_NONE, PUSHER_DEFAULTS } from './defaults.ts';
import { HostTable, parseAuthority } from './hosts.ts';
import { withoutCredentials } from './problems.ts';
import { count, sharedFields } from './schema.ts';
import type { HostConfig, PusherApp, PusherConfig, PusherLimits, PusherWebhook, PusherWebhookEvent } from './types.ts';

/** Where `{"env": "NAME"}` values come from; the process's environment unless a caller (a test) says otherwise. */
export type EnvLookup = (name: string) => string | undefined;
export const processEnv: EnvLookup = (name) => process.env[name];

export const PUSHER_WEBHOOK_EVENTS: readonly PusherWebhookEvent[] = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'];

/** The host (its key) of an app that names none: not a name a Host header can carry, so no request reaches it but through the app. */
export const pusherHostOf = (id: string) => `pusher:${id}`;

/** A path item for an issue our own rules raise, indices included (problems.ts `at` knows object keys only). */
function pathOf(...keys: [string | number, ...(string | number)[]]): [v.IssuePathItem, ...v.IssuePathItem[]] {
  const items = keys.map((key): v.IssuePathItem => (typeof key === 'number' ? { type: 'array', origin: 'value', input: [], key, value: undefined } : { type: 'object', origin: 'value', input: {}, key, value: undefined }));
  return items as [v.IssuePathItem, ...v.IssuePathItem[]];
}

/** An id or key: it is a segment of /app/{key} and /apps/{id}, so only characters that need no escaping there. */
const Name = (what: string) =>
  v.pipe(
    v.string(`expected ${what}`),
    v.nonEmpty(`expected ${what}, got an empty string`),
    v.maxLength(100, 'expected at most 100 characters'),
    // `*`, not `+`: an empty one is nonEmpty's to report, once.
    v.regex(/^[A-Za-z0-9_.-]*$/, `expected ${what} of letters, digits, _ . - only (it is part of a URL path)`),
  );

const SECRET_MIN = 16;
const SECRET_WHY = `at least ${SECRET_MIN} characters: it signs private and presence subscriptions and the HTTP API's requests, and a short one can be guessed`;

/** The secret as written, or read from the environment; a problem never carries the secret, only its length. */
const Secret = (env: EnvLookup) =>
  v.rawTransform<unknown, string>(({ dataset, addIssue, NEVER }) => {
    const value = dataset.value;
    if (typeof value === 'string') {
      if (value.length >= SECRET_MIN) return value;
      addIssue({ message: `expected a secret of ${SECRET_WHY}; got ${value.length} characters` });
      return NEVER;
    }
    const keys = typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.keys(value) : undefined;
    const name = keys?.length === 1 && keys[0] === 'env' ? (value as { env: unknown }).env : undefined;
    if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      addIssue({ message: 'expected the secret (a string) or {"env": "NAME"} naming the environment variable that holds it' });
      return NEVER;
    }
    const read = env(name);
    if (!read) {
      addIssue({ message: `the environment variable ${name} is not set or empty; it should hold the app's secret` });
      return NEVER;
    }
    if (read.length >= SECRET_MIN) return read;
    addIssue({ message: `the environment variable ${name} holds ${read.length} characters; expected a secret of ${SECRET_WHY}` });
    return NEVER;
  });

/** A wsgate host's name as a request carries it: no port, no wildcard, no scheme or path. */
const HostName = v.pipe(
  v.string('expected the name of a configured host, such as "app.example.com"'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const wanted = dataset.value.trim().toLowerCase().replace(/\.$/, '');
    if (wanted && parseAuthority(wanted)?.host === wanted && !/[:[\]]/.test(wanted)) return wanted;
    addIssue({ message: `expected a plain host name such as "app.example.com" (no port, "*", scheme or path), got ${JSON.stringify(dataset.value)}` });
    return NEVER;
  }),
);

const Limits = v.strictObject(
  {
    channelName: v.optional(count('a number of characters')),
    eventName: v.optional(count('a number of characters')),
    payload: v.optional(count('a size in bytes')),
    batch: v.optional(count('a number of events')),
    channels: v.optional(count('a number of channels')),
    presenceMembers: v.optional(count('a number of members')),
    userInfo: v.optional(count('a size in bytes')),
    subscriptions: v.optional(count('a number of channels')),
  },
  'expected an object such as {"payload": 10240, "presenceMembers": 100}',
);

const WebhookUrl = v.pipe(
  v.string('expected an http or https URL'),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(dataset.value).protocol);
    } catch {
      // Not a URL: refused below.
    }
    if (!ok) addIssue({ message: `expected an http or https URL such as "https://app.example.com/pusher/webhook", got ${JSON.stringify(withoutCredentials(dataset.value).slice(0, 200))}` });
  }),
);

const Webhook = v.pipe(
  v.strictObject(
    {
      url: v.optional(WebhookUrl),
      host: v.optional(HostName),
      events: v.optional(
        v.pipe(
          v.array(v.picklist(PUSHER_WEBHOOK_EVENTS, `expected one of ${PUSHER_WEBHOOK_EVENTS.map((e) => `"${e}"`).join(', ')}`)),
          v.minLength(1, 'expected at least one event (leave "events" out for all of them)'),
        ),
      ),
    },
    'expected an object such as {"url": "https://app.example.com/pusher/webhook"} or {"host": "app.example.com"}',
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed || (dataset.value.url === undefined) !== (dataset.value.host === undefined)) return;
    addIssue({ message: `expected either "url" (an endpoint the batches are POSTed to) or "host" (a configured host whose resident workers or module take them), ${dataset.value.url === undefined ? 'got neither' : 'not both'}` });
  }),
  v.transform((hook): PusherWebhook => {
    const where = hook.url !== undefined ? { url: hook.url } : { host: hook.host! };
    return hook.events ? { ...where, events: hook.events } : where;
  }),
);

const App = (env: EnvLookup) =>
  v.pipe(
    v.strictObject(
      {
        id: Name('an app id'),
        key: Name('an app key'),
        secret: v.pipe(v.unknown(), Secret(env)),
        host: v.optional(HostName),
        clientEvents: v.optional(v.boolean('expected true or false'), PUSHER_DEFAULTS.clientEvents),
        clientEventsPerSecond: v.optional(count('a number of events per second'), PUSHER_DEFAULTS.clientEventsPerSecond),
        origins: sharedFields.origins,
        maxConnections: v.optional(count('a number of connections')),
        activityTimeout: v.optional(v.pipe(v.number('expected a number of seconds'), v.integer('expected a whole number of seconds'), v.minValue(1, 'expected at least 1 second')), PUSHER_DEFAULTS.activityTimeout),
        limits: v.optional(Limits, {}),
        webhooks: v.optional(v.array(Webhook), []),
      },
      'expected an object such as {"id": "1", "key": "app-key", "secret": {"env": "PUSHER_APP_SECRET"}}',
    ),
    v.transform((app) => {
      const { host, limits, webhooks, origins, maxConnections, ...rest } = app;
      const draft: PusherAppDraft = {
        ...rest,
        ...(host !== undefined && { host }),
        ...(origins !== undefined && { origins }),
        ...(maxConnections !== undefined && { maxConnections }),
        limits: { ...PUSHER_DEFAULTS.limits, ...limits } as PusherLimits,
        webhooks,
      };
      return draft;
    }),
  );

/** An app checked on its own; `host` is what the file named, if anything. */
export type PusherAppDraft = Omit<PusherApp, 'host' | 'sharesHost'> & { host?: string };

/** Two apps with one id (or one key) could not be told apart in /apps/{id} (or /app/{key}). */
const unique = (field: 'id' | 'key') =>
  v.rawCheck<PusherAppDraft[]>(({ dataset, addIssue }) => {
    if (!Array.isArray(dataset.value)) return;
    const seen = new Map<string, number>();
    for (const [i, app] of (dataset.value as unknown[]).entries()) {
      const value = typeof app === 'object' && app !== null ? (app as Record<string, unknown>)[field] : undefined;
      if (typeof value !== 'string') continue;
      const earlier = seen.get(value);
      if (earlier === undefined) seen.set(value, i);
      else addIssue({ message: `${JSON.stringify(value)} is already the ${field} of apps[${earlier}]; each app needs its own`, path: pathOf(i, field) });
    }
  });

/** `pusher`: `{"apps": [...]}`, each app checked; the drafts wait for the hosts (resolvePusher). */
export const pusherSchema = (env: EnvLookup) =>
  v.strictObject(
    {
      apps: v.pipe(
        v.array(App(env), 'expected a list of apps'),
        v.minLength(1, 'expected at least one app (leave "pusher" out for none)'),
        // Validation actions run even when an app has problems, so a repeated id is reported with them.
        unique('id'),
        unique('key'),
      ),
    },
    'expected an object such as {"apps": [{"id": "1", "key": "app-key", "secret": {"env": "PUSHER_APP_SECRET"}}]}',
  );

export interface ResolvedPusher {
  pusher: PusherConfig;
  /** One hook-less host for each app with a space of its own, for the core to route its sockets by. */
  hosts: HostConfig[];
  problems: Array<{ path: [v.IssuePathItem, ...v.IssuePathItem[]]; message: string }>;
}

/**
 * The apps completed against the configured hosts: a named host must be one
 * some host key matches (as a request for it would be matched); an app that
 * names none gets `pusher:{id}`, served by a module with no hooks.
 */
/** Pusher's cache channels keep their last event for 30 minutes: a history of one, unless the host's own rule says otherwise. */
export const PUSHER_CACHE_RULES: readonly ChannelRule[] = ['cache-*', 'private-cache-*', 'private-encrypted-cache-*', 'presence-cache-*'].map((pattern) => ({
  pattern,
  presenceEvents: false,
  history: { size: 1, ttlMs: 30 * 60_000 },
}));

function addCacheRules(host: HostConfig): void {
  const rules = (host.channels ??= []);
  for (const cache of PUSHER_CACHE_RULES) if (!rules.some((rule) => rule.pattern === cache.pattern)) rules.push(cache);
}

export function resolvePusher(drafts: PusherAppDraft[], hosts: HostConfig[], timeoutMs: number): ResolvedPusher {
  const table = new HostTable(hosts.map((h): [string, HostConfig] => [h.key, h]));
  const resolved: ResolvedPusher = { pusher: { apps: [] }, hosts: [], problems: [] };
  for (const [i, draft] of drafts.entries()) {
    const { host, ...rest } = draft;
    if (host === undefined) {
      const own = pusherHostOf(draft.id);
      resolved.pusher.apps.push({ ...rest, host: own, sharesHost: false });
      const config: HostConfig = { key: own, mode: 'module', module: BUILTIN_NONE, timeoutMs };
      addCacheRules(config);
      resolved.hosts.push(config);
      continue;
    }
    const shared = table.match(host);
    if (shared) addCacheRules(shared);
    else {
      const keys = hosts.map((h) => JSON.stringify(h.key)).join(', ');
      resolved.problems.push({ path: pathOf('pusher', 'apps', i, 'host'), message: `no configured host matches "${host}" (the hosts are ${keys}); name one of them, or leave "host" out for a space of the app's own` });
    }
    resolved.pusher.apps.push({ ...rest, host, sharesHost: true });
  }
  for (const [i, draft] of drafts.entries()) {
    for (const [j, hook] of draft.webhooks.entries()) {
      const problem = hook.host === undefined ? undefined : workerProblem(hook.host, table, hosts);
      if (problem) resolved.problems.push({ path: pathOf('pusher', 'apps', i, 'webhooks', j, 'host'), message: problem });
    }
  }
  return resolved;
}

/** A webhook's batches go to a host's `webhook` hook only where its hooks stay loaded: a one-shot process per batch would be an HTTP request's cost again, and a batch (up to 256 KB) may not fit in an argument. */
function workerProblem(host: string, table: HostTable<HostConfig>, hosts: HostConfig[]): string | undefined {
  const config = table.match(host);
  if (!config) return `no configured host matches "${host}" (the hosts are ${hosts.map((h) => JSON.stringify(h.key)).join(', ')}); a webhook's "host" names the host whose resident workers or module take its batches`;
  if (config.mode === 'oneshot') return `host "${config.key}" runs its hooks one-shot (a process each); a webhook goes to resident workers ("build": false) or a module, or use "url"`;
  if (config.module?.startsWith('builtin:')) return `host "${config.key}" runs a built-in module, which takes no webhooks`;
  return undefined;
}
