/**
 * Signals, stray errors and the log's stderr through node:process, as Node
 * and Bun deliver them natively. Deno has listeners of its own (deno.ts): there,
 * only its global events with preventDefault() keep the process alive.
 */
import process from 'node:process';
import type { Runtime } from './types.ts';

export const onProcessSignal: Runtime['onSignal'] = (signal, handler) => void process.on(signal, handler);

export const onProcessStray: Runtime['onStray'] = (handler) => {
  process.on('unhandledRejection', (error: unknown) => handler(error, 'rejection'));
  process.on('uncaughtException', (error: unknown) => handler(error, 'exception'));
};

/**
 * Node and Bun keep what a full stderr pipe cannot take in memory, so a write never blocks the event loop. A failed
 * write (the log's reader went away: EPIPE) is told to its callback; unheard, its 'error' event would be an uncaught
 * exception, which the stray handler logs, which fails again: a loop that starved the event loop, SIGTERM included.
 */
export function processLogSink(): Runtime['logSink'] {
  process.stderr.on('error', () => {});
  return process.stderr;
}
