/** What wsgate uses where the config says nothing, and the config it serves when there is none. */
import { DEFAULT_HISTORY_BYTES } from '../core/history/budget.ts';

/** The hook module wsgate ships: a chat demo, so a bare `wsgate serve` shows something working. */
export const BUILTIN_DEMO = 'builtin:demo';

/** Frames kept per gone token when `replay` does not say. */
export const REPLAY_FRAMES = 1000;

/** Seconds a socket in message mode has to send its auth frame when `authTimeout` does not say. */
export const AUTH_TIMEOUT = 10;

export const DEFAULTS = {
  listen: '127.0.0.1',
  port: 3001,
  php: 'php',
  paths: ['/websocket'],
  timeout: 30,
  maxBody: 1 << 20,
  shutdownTimeout: 10,
  pool: { idle: 60, maxJobs: 10_000, maxQueue: 1000, bootTimeout: 30 },
  limits: {
    frame: 1 << 20,
    sockets: 100_000,
    socketsPerHost: 100_000,
    socketsPerToken: 100,
    messagesPerSecond: 100,
    messageBurst: 200,
    pending: 100,
    sendBuffer: 4 << 20,
    historyBytes: DEFAULT_HISTORY_BYTES,
    // Hook processes mostly wait on I/O, so well above the cores; at ~20-30 MB a PHP CLI, 64 stay within a small box's memory.
    hookProcesses: 64,
    // About what 64 slots get through within one hook timeout when hooks take tens of ms; more would only wait longer.
    hookQueue: 1000,
    // Half the processes: one host's upgrade flood leaves room for other hosts and for every other hook.
    authsPerHost: 32,
    // As limits.frame: a line goes out as one frame, and a client may not send one bigger either.
    hookLine: 1 << 20,
  },
  keepalive: 30,
} as const;

/**
 * The built-in default: every host gets the demo chat rooms (a room per
 * /ws/rooms/{room}, with presence and history), and /websocket stays the
 * one-room chat Phlo's page script would use.
 */
export const DEFAULT_CONFIG = {
  hosts: { '*': { module: BUILTIN_DEMO, channels: { 'room:*': { presenceEvents: true, history: { size: 200, ttl: 600 } } } } },
  paths: { '/websocket': {}, '/ws/rooms/{room}': { channels: ['room:{room}'] } },
};
