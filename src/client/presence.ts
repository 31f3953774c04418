/** Presence requests, each a promise of a channel's members until wsgate answers it. */
import type { Link } from './frames.ts';
import type { Member } from './types.ts';

interface Waiter {
  resolve(members: Member[]): void;
  reject(error: Error): void;
  sent: boolean;
}

export interface PresenceRequests {
  ask(channel: string): Promise<Member[]>;
  answer(channel: string, members: Member[]): void;
  refuse(channel: string, reason: string): void;
  /** On "ready": sends the requests made while not connected. */
  sendHeld(): void;
  rejectAll(reason: string): void;
}

export function presenceRequests(link: Link): PresenceRequests {
  /** Per channel, oldest first: wsgate answers each channel in order. */
  const waiting = new Map<string, Waiter[]>();

  return {
    ask(channel) {
      return new Promise((resolve, reject) => {
        if (link.closed) return reject(new Error('wsgate: closed'));
        const waiter: Waiter = { resolve, reject, sent: link.connected };
        let list = waiting.get(channel);
        if (!list) waiting.set(channel, (list = []));
        list.push(waiter);
        // Not connected: asked on "ready" (after any subscribe), or rejected if that connection fails.
        if (link.connected) link.write({ wsgate: 'presence', channel });
      });
    },
    answer(channel, members) {
      waiting.get(channel)?.shift()?.resolve(members);
    },
    refuse(channel, reason) {
      // wsgate answers a presence request it refuses with an error for that channel.
      waiting.get(channel)?.shift()?.reject(new Error(reason));
    },
    sendHeld() {
      for (const [channel, list] of waiting) {
        for (const waiter of list) {
          if (waiter.sent) continue;
          waiter.sent = true;
          link.write({ wsgate: 'presence', channel });
        }
      }
    },
    rejectAll(reason) {
      const all = [...waiting.values()].flat();
      waiting.clear();
      for (const waiter of all) waiter.reject(new Error(reason));
    },
  };
}
