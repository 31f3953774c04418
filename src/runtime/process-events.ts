/**
 * Signals and stray errors through node:process's events, as Node and Bun
 * deliver them natively. Deno has listeners of its own (deno.ts): there,
 * only its global events with preventDefault() keep the process alive.
 */
import process from 'node:process';
import type { Runtime } from './types.ts';

export const onProcessSignal: Runtime['onSignal'] = (signal, handler) => void process.on(signal, handler);

export const onProcessStray: Runtime['onStray'] = (handler) => {
  process.on('unhandledRejection', (error: unknown) => handler(error, 'rejection'));
  process.on('uncaughtException', (error: unknown) => handler(error, 'exception'));
};
