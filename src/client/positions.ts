/**
 * Where each stream stands: the last publication handed to the app. It is what
 * makes delivery exactly once and in order across reconnects: a reconnect
 * asks to recover from here, and a publication at or before it is a repeat.
 */
import type { Position } from './types.ts';

export interface Positions {
  /** Insertion order is recency, the most recently moved last (see upgradeUrl). */
  readonly all: ReadonlyMap<string, Position>;
  /** A "joined" or "subscribed" frame: where wsgate has the stream, and its verdict if we asked to recover. */
  settle(channel: string, position: Position | undefined, recovered: boolean | undefined): void;
  /** A publication; false if the app already has it. */
  advance(channel: string, position: Position): boolean;
  forget(channel: string): void;
}

export function trackPositions(): Positions {
  const all = new Map<string, Position>();

  /** Moves a stream's position, and to the end of the map, which makes it recent. */
  function keep(channel: string, position: Position): void {
    all.delete(channel);
    all.set(channel, position);
  }

  return {
    all,
    settle(channel, position, recovered) {
      if (recovered === undefined) {
        // We gave no position: what counts is what comes after wsgate's.
        if (position) keep(channel, position);
        else all.delete(channel);
      } else if (position && all.get(channel)?.epoch !== position.epoch) {
        // Another epoch (a restart): everything of it that follows is new to us.
        keep(channel, { epoch: position.epoch, offset: 0 });
      }
      // Same epoch, recovered or not: what wsgate still holds after our position
      // follows, and moves it on; keep ours.
    },
    advance(channel, position) {
      const kept = all.get(channel);
      // Already handed over: the overlap of recovery and the live stream.
      if (kept && kept.epoch === position.epoch && position.offset <= kept.offset) return false;
      keep(channel, position);
      return true;
    },
    forget(channel) {
      all.delete(channel);
    },
  };
}
