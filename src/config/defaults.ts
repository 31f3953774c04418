/** What wsgate uses where the config says nothing, and the config it serves when there is none. */
import { randomBytes } from 'node:crypto';
import { DEFAULT_HISTORY_BYTES } from '../core/history/budget.ts';
import type { Config, PusherApp } from './types.ts';

/** The hook module wsgate ships: a chat demo, so a bare `wsgate serve` shows something working. */
export const BUILTIN_DEMO = 'builtin:demo';

/** A module with no hooks: every socket is let in and nothing runs. The host of a Pusher app with a space of its own, whose channels are guarded by the app's signatures. */
export const BUILTIN_NONE = 'builtin:none';

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
  // A reload reads a few small files and imports the hook modules: milliseconds. Past this a step is stuck (a hung mount,
  // a module whose top-level await never settles), and the reloads asked after it must not wait behind it for good.
  reloadTimeout: 30,
  pool: { idle: 60, maxJobs: 10_000, maxQueue: 1000, bootTimeout: 30, writeAhead: true },
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
    // As much as limits.historyBytes: what a small box spares for clients' frames; 16 sockets at their own bound (sendBuffer).
    preAuthBytes: 64 << 20,
    // Every channel a socket is in costs an entry on it, one among the channel's members and a native topic; a page follows a handful.
    channelsPerSocket: 128,
  },
  keepalive: 30,
  // As long as ws (Node) waits for a close's answer, which it takes no longer than.
  closeTimeout: 30,
} as const;

/** A Pusher app's settings where the file says nothing: Pusher's own (its docs' limits; client events off, as its dashboard and Reverb have them). */
export const PUSHER_DEFAULTS = {
  clientEvents: false,
  clientEventsPerSecond: 10,
  activityTimeout: 120,
  limits: { channelName: 200, eventName: 200, payload: 10_240, batch: 10, channels: 100, presenceMembers: 100, userInfo: 1024, subscriptions: 256 },
} as const;

/** The built-in default's Pusher app, for the demo page's pusher-js; its secret is made per load (defaultConfig). */
export const DEMO_PUSHER_APP = { id: 'demo', key: 'wsgate-demo' } as const;

/**
 * The built-in default: every host gets the demo chat rooms (a room per
 * /ws/rooms/{room}, with presence and history), and /websocket stays the
 * one-room chat Phlo's page script would use.
 */
export const DEFAULT_CONFIG = {
  hosts: { '*': { module: BUILTIN_DEMO, channels: { 'room:*': { presenceEvents: true, history: { size: 200, ttl: 600 } } } } },
  paths: { '/websocket': {}, '/ws/rooms/{room}': { channels: ['room:{room}'] } },
};

/**
 * The built-in default as a bare `wsgate serve` runs it: DEFAULT_CONFIG and
 * the demo's Pusher app, in a space of its own, with client events on. Its
 * secret is new at every load: a published one would let any page on the
 * internet sign private channels and API calls on a gateway left running it.
 */
export function defaultConfig(): typeof DEFAULT_CONFIG & { pusher: { apps: Array<{ id: string; key: string; secret: string; clientEvents: boolean }> } } {
  return { ...DEFAULT_CONFIG, pusher: { apps: [{ ...DEMO_PUSHER_APP, secret: randomBytes(32).toString('hex'), clientEvents: true }] } };
}

/** The demo's Pusher app in a loaded config, when it has it (the built-in default does): the demo page reads its key, its auth endpoint its secret. */
export function demoPusherApp(config: Pick<Config, 'pusher'>): PusherApp | undefined {
  return config.pusher?.apps.find((app) => app.id === DEMO_PUSHER_APP.id && app.key === DEMO_PUSHER_APP.key && !app.sharesHost);
}
