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

/** Node and Bun keep what a full stderr pipe cannot take in memory, so a write never blocks the event loop. */
export const processLogSink: Runtime['logSink'] = process.stderr;
