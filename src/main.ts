#!/usr/bin/env -S bun
/**
 * Entry point: hand the CLI the way to make the adapter for the runtime we
 * find ourselves on (only `serve` needs it). The only place that asks which
 * runtime this is.
 */
import { runCli } from './cli.ts';
import type { Runtime } from './runtime/types.ts';

async function detect(): Promise<Runtime> {
  if ('Bun' in globalThis) return (await import('./runtime/bun.ts')).createBunRuntime();
  if ('Deno' in globalThis) return (await import('./runtime/deno.ts')).createDenoRuntime();
  return (await import('./runtime/node.ts')).createNodeRuntime();
}

await runCli(detect);
