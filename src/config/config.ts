/**
 * The config's public face: what the rest of wsgate imports. The file goes
 * through one valibot pipeline (file-schema.ts: field schemas in schema.ts,
 * the host forms in hosts-schema.ts, the rules `serve` applies in
 * serve-rules.ts) to the typed Config of types.ts; load.ts reads the file,
 * merges the command line and checks that the files it names exist.
 */
export type { ClusterConfig, Config, ConfigIO, HostConfig, HostMode, Limits, Overrides, PoolConfig, PusherApp, PusherConfig, PusherLimits, PusherWebhook, PusherWebhookEvent, ScheduleEntry } from './types.ts';
export { BUILTIN_DEMO, BUILTIN_NONE, DEFAULT_CONFIG, DEFAULTS, DEMO_PUSHER_APP, PUSHER_DEFAULTS, defaultConfig, demoPusherApp } from './defaults.ts';
export { ConfigError } from './problems.ts';
export { resolvePath } from './resolve-path.ts';
export { configSchema, parseConfig } from './file-schema.ts';
export { loadConfig } from './load.ts';
