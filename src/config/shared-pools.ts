/**
 * Resident hosts that run the same file share one pool (src/hooks/pool/pools.ts
 * keys it by the file's real path), and one pool holds one set of settings:
 * without this rule the last host's would silently win. Its workers run the
 * file one way (as an app, or as a hooks file through the SDK), so hosts that
 * run it both ways are refused too: the first host's way would serve both.
 * The parse applies it to paths as written; loadConfig again to real paths,
 * which need the disk.
 */
import type { Config, HostConfig, PoolConfig } from './types.ts';

/** Each setting as the file writes it: its name there, and its value in the file's units. */
const SETTINGS: Array<[field: string, read: (pool: PoolConfig) => unknown]> = [
  ['idle', (p) => p.idleMs / 1000],
  ['maxJobs', (p) => p.maxJobs],
  ['maxQueue', (p) => p.maxQueue],
  ['bootTimeout', (p) => p.bootTimeoutMs / 1000],
  ['writeAhead', (p) => p.writeAhead],
];

export interface PoolDisagreement {
  /** The later host, whose setting the problem is reported at. */
  key: string;
  /** Where in the host, as the file writes it: `pool.maxJobs`, or `hooks` / `app` for a file run both ways. */
  field: string;
  message: string;
}

/** How a resident host runs its file: as a Phlo app, or as a plain hooks file through the SDK. */
const runsAs = (host: HostConfig): 'app' | 'hooks' => (host.app !== undefined ? 'app' : 'hooks');

/** The file a resident host's pool runs, as written. */
export const poolFile = (host: HostConfig): string => (host.app ?? host.hooks)!;

/** `fileOf`: the resident host's file as the pools would key it (as written, or its real path). */
export function poolDisagreements(hosts: HostConfig[], fileOf: (host: HostConfig) => string = poolFile): PoolDisagreement[] {
  const found: PoolDisagreement[] = [];
  const first = new Map<string, HostConfig>();
  for (const host of hosts) {
    if (host.mode !== 'resident') continue;
    const file = fileOf(host);
    const seen = first.get(file);
    if (!seen) {
      first.set(file, host);
      continue;
    }
    if (runsAs(host) !== runsAs(seen)) {
      const message = `hosts[${JSON.stringify(seen.key)}] runs ${file} as ${runsAs(seen) === 'app' ? 'an app' : 'a hooks file'}; one file's resident workers run it one way: make both hosts "${runsAs(seen)}", or one of them build: true`;
      found.push({ key: host.key, field: runsAs(host), message });
      continue;
    }
    for (const [field, read] of SETTINGS) {
      const mine = read(host.pool!);
      const theirs = read(seen.pool!);
      if (mine === theirs) continue;
      const message = `${JSON.stringify(mine)} differs from hosts[${JSON.stringify(seen.key)}]'s ${JSON.stringify(theirs)}; both run ${file}, whose one pool takes one setting: give them the same`;
      found.push({ key: host.key, field: `pool.${field}`, message });
    }
  }
  return found;
}

/** The rule again by real path (a symlink, or a second path to the same app), as the pools key them; a path that does not resolve counts as written. */
export async function realPathDisagreements(hosts: HostConfig[], realPath: (path: string) => Promise<string>): Promise<PoolDisagreement[]> {
  const real = new Map<string, string>();
  for (const host of hosts) {
    if (host.mode === 'resident') real.set(host.key, await realPath(poolFile(host)).catch(() => poolFile(host)));
  }
  return poolDisagreements(hosts, (host) => real.get(host.key)!);
}

/**
 * `apps` and schedule entries that name a host's plain PHP hooks file, as written: its workers run hooks through the
 * SDK, and a job there would take the host's pool for an app's (the dispatcher refuses such a job by real path too).
 */
export function appsOnHooksFiles(config: Pick<Config, 'hosts' | 'apps' | 'schedule'>): Array<{ path: [string, ...Array<string | number>]; message: string }> {
  const hooks = new Map<string, string>();
  for (const host of config.hosts) if (host.hooks !== undefined && !hooks.has(host.hooks)) hooks.set(host.hooks, host.key);
  const found: Array<{ path: [string, ...Array<string | number>]; message: string }> = [];
  const check = (app: string, path: [string, ...Array<string | number>]) => {
    const host = hooks.get(app);
    if (host !== undefined) found.push({ path, message: `${app} is the hooks file of hosts[${JSON.stringify(host)}], not an app: name the app.php a job runs` });
  };
  config.apps.forEach((app, i) => check(app, ['apps', i]));
  config.schedule.forEach((entry, i) => check(entry.app, ['schedule', i, 'app']));
  return found;
}
