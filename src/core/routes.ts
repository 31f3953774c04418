/**
 * The configured hosts and upgrade paths as the core looks them up, and the
 * config they came from. One object, replaced in place by a reload, so every
 * part of the core sees the new routes at once.
 */
import type { Config } from '../config/config.ts';
import { HostTable } from '../config/hosts.ts';
import { compilePath, matchPath } from '../config/paths.ts';
import type { CompiledPath, PathMatch } from '../config/paths.ts';
import type { Route } from './route.ts';

export class Routes {
  #config!: Config;
  #table!: HostTable<Route>;
  #configured!: string[];
  #paths!: CompiledPath[];
  /** Whether "*" is among the paths (then a plain GET anywhere is not told to upgrade). */
  #anyPath!: boolean;

  constructor(config: Config, routes: Map<string, Route>) {
    this.replace(config, routes);
  }

  replace(config: Config, routes: Map<string, Route>): void {
    this.#config = config;
    this.#table = new HostTable(routes);
    this.#configured = [...routes.keys()];
    this.#paths = config.paths.map(compilePath);
    this.#anyPath = config.paths.some((route) => route.template === '*');
  }

  get config(): Config {
    return this.#config;
  }

  get limits(): Config['limits'] {
    return this.#config.limits;
  }

  match(host: string): Route | undefined {
    return this.#table.match(host);
  }

  /**
   * Metrics are labelled by the configured host key (`*.tenant.example.com`,
   * `*`), not by the Host a request names, and hosts that are not configured
   * count as "": whatever strangers send, the label set stays the config's.
   */
  label(host: string): string {
    return this.#table.match(host)?.config.key ?? '';
  }

  configured(): string[] {
    return this.#configured;
  }

  /** The route an upgrade on `path` takes (its parameters and channels), or undefined when `path` takes none. */
  upgradePath(path: string): PathMatch | undefined {
    return matchPath(this.#paths, path);
  }

  /** Paths listed explicitly: a plain GET there is told to upgrade. */
  isUpgradeOnlyPath(path: string): boolean {
    return !this.#anyPath && matchPath(this.#paths, path) !== undefined;
  }
}
