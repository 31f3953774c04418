/**
 * The fixture app appends one JSON line per hook start and end to the file in
 * WSGATE_TEST_EVENTS; these helpers read it.
 */
import { existsSync, readFileSync } from 'node:fs';

export interface HookEvent {
  /** A hook or job starting or ending, or a resident worker ready or exiting. */
  at: 'start' | 'end' | 'ready' | 'exit';
  hook: string;
  /** [websocket::<hook>, host, token, socket, message?] */
  argv: string[];
  pid?: number;
  /** microtime(true), for jobs and workers. */
  time?: number;
}

export function readEvents(file: string): HookEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as HookEvent);
}

export function eventsFor(file: string, socket: string): HookEvent[] {
  return readEvents(file).filter((e) => e.argv[3] === socket);
}

/** Polls until `check` returns a value: for state only observable from outside (files the hooks write, /health), with no event to await. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
