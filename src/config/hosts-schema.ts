/**
 * The `hosts` object: each entry, in whichever form it is written, checked
 * and turned into the HostConfig it configures.
 *
 *   "a.test": "www/app.php"                  the short way to write {"app": "www/app.php"}
 *   "a.test": {"app": ..., "build": false}   a Phlo app, one-shot per event or a resident pool
 *   "a.test": {"hooks": ...}                 a plain PHP file of wsAuth/wsConnect/..., run through the bundled SDK
 *   "a.test": {"command": [...]}             any program, one-shot per event
 *   "a.test": {"module": ...}                a JS/TS hook module, or "builtin:demo"
 *
 * An entry says what it can alone (its form, its own fields, its paths
 * resolved); what it does not say comes from the top level, so each form
 * transforms to a HostDraft that the whole-file schema completes.
 */
import * as v from 'valibot';
import { hostKeyProblem, normaliseHost } from './hosts.ts';
import { AUTH_TIMEOUT, BUILTIN_DEMO, DEFAULTS } from './defaults.ts';
import { at } from './problems.ts';
import { resolvePath } from './resolve-path.ts';
import { HostPool, nonEmpty, sharedFields, timerSeconds } from './schema.ts';
import type { PoolFields, SharedOptions } from './schema.ts';
import type { HostConfig, PoolConfig } from './types.ts';

/** What a host takes from the top level where its entry says nothing. */
export interface HostDefaults {
  php: string;
  /** Seconds. */
  timeout: number;
  pool: PoolFields;
  shared: SharedOptions;
}

/** A checked host entry; given its key and the top level's defaults, the host it configures. */
export type HostDraft = (key: string, top: HostDefaults) => HostConfig;

/** Pool settings: the defaults, under the global `pool`, under the host's own. */
export function poolOf(global: PoolFields, host: PoolFields = {}): PoolConfig {
  const p = { ...global, ...host };
  return {
    idleMs: (p.idle ?? DEFAULTS.pool.idle) * 1000,
    maxJobs: p.maxJobs ?? DEFAULTS.pool.maxJobs,
    maxQueue: p.maxQueue ?? DEFAULTS.pool.maxQueue,
    bootTimeoutMs: (p.bootTimeout ?? DEFAULTS.pool.bootTimeout) * 1000,
    writeAhead: p.writeAhead ?? DEFAULTS.pool.writeAhead,
  };
}

/** The shared options a host ends up with: its own, else the top level's; defaults are left out, so resolved hosts stay free of noise. */
function inherit(own: SharedOptions, top: SharedOptions): Partial<HostConfig> {
  const host: Partial<HostConfig> = {};
  const origins = own.origins ?? top.origins;
  if (origins) host.origins = origins;
  if (own.clientChannels ?? top.clientChannels) host.clientChannels = true;
  const channels = own.channels ?? top.channels;
  if (channels) host.channels = channels;
  const history = own.history ?? top.history;
  if (history) host.history = history;
  const replay = own.replay ?? top.replay;
  if (replay) host.replay = replay;
  const tokenFrom = own.tokenFrom ?? top.tokenFrom;
  const tokenName = own.tokenName ?? top.tokenName;
  if (tokenFrom && tokenFrom !== 'cookie') host.tokenFrom = tokenFrom;
  if (tokenName && tokenName !== 'token') host.tokenName = tokenName;
  if (host.tokenFrom === 'message') host.authTimeoutMs = (own.authTimeout ?? top.authTimeout ?? AUTH_TIMEOUT) * 1000;
  return host;
}

/** Only an explicit `tick: false` is kept. */
const tickOf = (tick: boolean | undefined) => (tick === false ? { tick } : {});

const build = v.optional(v.boolean('expected true (one-shot per event) or false (resident workers)'), true);

/** Pool settings on a one-shot host would be silently ignored: say so instead. */
const poolOnlyWhenResident = <T extends { build: boolean; pool?: PoolFields }>() =>
  v.rawCheck<T>(({ dataset, addIssue }) => {
    if (dataset.typed && dataset.value.build && dataset.value.pool) addIssue({ message: 'pool settings apply to resident hosts only ("build": false)', path: at('pool') });
  });

const AppEntry = v.pipe(
  v.strictObject({
    form: v.literal('app'),
    ...sharedFields,
    app: nonEmpty('the path of the app.php'),
    build,
    timeout: v.optional(timerSeconds),
    pool: v.optional(HostPool),
    tick: v.optional(v.boolean('expected true or false')),
  }),
  poolOnlyWhenResident(),
);

const HooksEntry = v.pipe(
  v.strictObject({
    form: v.literal('hooks'),
    ...sharedFields,
    hooks: nonEmpty('the path of a PHP file defining wsAuth, wsConnect, wsReceive or wsClose'),
    build,
    timeout: v.optional(timerSeconds),
    pool: v.optional(HostPool),
  }),
  poolOnlyWhenResident(),
);

const CommandEntry = v.strictObject({
  form: v.literal('command'),
  ...sharedFields,
  command: v.pipe(v.array(v.string('expected a string')), v.minLength(1, 'expected a program and its arguments, e.g. ["node", "hooks.js"]')),
  timeout: v.optional(timerSeconds),
});

const ModuleEntry = v.strictObject({ form: v.literal('module'), ...sharedFields, module: nonEmpty('the path of a JS/TS module') });

type Entry = v.InferOutput<typeof AppEntry | typeof HooksEntry | typeof CommandEntry | typeof ModuleEntry>;

/** Each form to the host it configures; paths resolve now, the rest waits for the top level's defaults. */
function draftOf(entry: Entry, baseDir: string): HostDraft {
  switch (entry.form) {
    case 'app': {
      const app = resolvePath(entry.app, baseDir);
      return (key, top) => {
        const timeoutMs = (entry.timeout ?? top.timeout) * 1000;
        const run: HostConfig = entry.build
          ? { key, mode: 'oneshot', app, command: [top.php, app], timeoutMs }
          : { key, mode: 'resident', app, command: [top.php, app, 'phlo_serve'], timeoutMs, pool: poolOf(top.pool, entry.pool) };
        return { ...run, ...tickOf(entry.tick), ...inherit(entry, top.shared) };
      };
    }
    case 'hooks': {
      const hooks = resolvePath(entry.hooks, baseDir);
      return (key, top) => {
        const timeoutMs = (entry.timeout ?? top.timeout) * 1000;
        const run: HostConfig = entry.build ? { key, mode: 'oneshot', hooks, timeoutMs } : { key, mode: 'resident', hooks, timeoutMs, pool: poolOf(top.pool, entry.pool) };
        return { ...run, ...inherit(entry, top.shared) };
      };
    }
    case 'command':
      return (key, top) => ({ key, mode: 'oneshot', command: entry.command, timeoutMs: (entry.timeout ?? top.timeout) * 1000, ...inherit(entry, top.shared) });
    case 'module': {
      const module = entry.module === BUILTIN_DEMO ? BUILTIN_DEMO : resolvePath(entry.module, baseDir);
      return (key, top) => ({ key, mode: 'module', module, timeoutMs: top.timeout * 1000, ...inherit(entry, top.shared) });
    }
  }
}

const FORMS = ['app', 'hooks', 'command', 'module'] as const;

const kindOf = (value: unknown) => (Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value);

/**
 * Names an entry's form by the one key that says it, as `form`, for the
 * variant below to pick its schema by; valibot's variant wants one
 * discriminating key, and an entry's form is told by which key it has.
 */
const tagForm = v.rawTransform<unknown, unknown>(({ dataset, addIssue, NEVER }) => {
  const entry = dataset.value;
  if (typeof entry === 'string') {
    if (entry.trim()) return { form: 'app', app: entry };
    addIssue({ message: 'expected the path of the app.php, got an empty string' });
    return NEVER;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    addIssue({ message: `expected an app path (string) or an object with "app", "command" or "module", got ${kindOf(entry)}` });
    return NEVER;
  }
  // The tag's own name is no field of an entry; written in the file it would be overwritten unseen.
  if ('form' in entry) {
    addIssue({ message: 'unknown field', path: at('form') });
    return NEVER;
  }
  const forms = FORMS.filter((form) => form in entry);
  if (forms.length !== 1) {
    addIssue({ message: `expected exactly one of "app", "hooks", "command" or "module", got ${forms.length ? forms.map((f) => `"${f}"`).join(' and ') : 'none'}` });
    return NEVER;
  }
  return { ...entry, form: forms[0] };
});

const hostEntry = (baseDir: string) =>
  v.pipe(
    v.unknown(),
    tagForm,
    v.variant('form', [AppEntry, HooksEntry, CommandEntry, ModuleEntry]),
    v.transform((entry) => draftOf(entry, baseDir)),
  );

/** A host key as matched against requests: `*` and `*.suffix` kept as written (lower-cased), a name normalised as a Host header is. */
export function hostKeyOf(raw: string): string {
  const trimmed = raw.trim();
  return trimmed === '*' || trimmed.startsWith('*.') ? trimmed.toLowerCase() : normaliseHost(raw);
}

const HostKey = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    const problem = dataset.typed ? hostKeyProblem(hostKeyOf(dataset.value)) : undefined;
    if (problem) addIssue({ message: `host key ${problem}` });
  }),
);

/** `hosts`: every entry checked, and its key normalised; two keys for one host, or none at all, are problems. */
export const hostsSchema = (baseDir: string) =>
  v.pipe(
    v.record(HostKey, hostEntry(baseDir), 'expected an object mapping host names to apps'),
    // Runs even when an entry has problems, so a repeated host is reported with them.
    v.rawCheck(({ dataset, addIssue }) => {
      if (typeof dataset.value !== 'object' || dataset.value === null) return;
      const seen = new Map<string, string>();
      for (const raw of Object.keys(dataset.value)) {
        const key = hostKeyOf(raw);
        if (hostKeyProblem(key)) continue;
        const earlier = seen.get(key);
        if (earlier === undefined) seen.set(key, raw);
        else addIssue({ message: `names the same host as ${JSON.stringify(earlier)} ("${key}")`, path: at(raw) });
      }
    }),
    v.rawCheck(({ dataset, addIssue }) => {
      if (dataset.typed && Object.keys(dataset.value).length === 0) addIssue({ message: 'expected at least one host' });
    }),
    v.transform((entries) => Object.entries(entries).map(([raw, draft]) => ({ key: hostKeyOf(raw), draft }))),
  );
