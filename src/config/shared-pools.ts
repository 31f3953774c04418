/**
 * Resident hosts that run the same file share one pool (src/hooks/pool/pools.ts
 * keys it by the file's real path), and one pool holds one set of settings:
 * without this rule the last host's would silently win. Its workers run the
 * file one way (as an app, or as a hooks file through the SDK), so hosts that
 * run it both ways are refused too: the first host's way would serve both.
 * The parse applies it to paths as written; loadConfig again to real paths,
 * which need the disk.
 */
import type { HostConfig, PoolConfig } from './types.ts';

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
