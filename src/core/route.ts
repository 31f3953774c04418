/** A configured host as the core uses it: its settings, and the runner its hooks run on. */
import type { HostConfig } from '../config/config.ts';
import type { Runner } from '../hooks/runners/runner.ts';

export interface Route {
  config: HostConfig;
  runner: Runner;
}
