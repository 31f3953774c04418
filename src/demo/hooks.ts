/**
 * The built-in demo: chat rooms. A socket at /ws/rooms/{room} is in channel
 * room:{room} (the path does that); what it sends is cast to its room, which
 * keeps history, so a page that drops gets what it missed. Who is online comes
 * from presence. A socket at /websocket (no room) is in the old one-room chat
 * of the whole host, as Phlo's page script would use it.
 */
import type { HookContext, HookModule } from '../hooks/runners/module.ts';

const MAX_TEXT = 2000;

function textOf(message: string): string {
  try {
    const parsed = JSON.parse(message) as unknown;
    if (parsed && typeof parsed === 'object' && 'text' in parsed) return String((parsed as { text: unknown }).text);
  } catch {
    // Plain text is fine too.
  }
  return message;
}

/** A name per browser: the demo's token cookie is random, so its tail is too. */
export const demoName = (token: string): string => `guest-${token.replace(/[^0-9a-z]/gi, '').slice(-4) || 'anon'}`;

export const demoHooks: HookModule = {
  auth({ token }: HookContext) {
    return { info: { name: demoName(token) } };
  },
  connect({ cast, socket, params }: HookContext) {
    if (params.room !== undefined) return;
    cast({ type: 'welcome', you: socket.slice(0, 6) }, { target: `socket:${socket}` });
    cast({ type: 'join', from: socket.slice(0, 6) });
  },
  receive({ cast, socket, token, message, params }: HookContext) {
    const text = textOf(message ?? '').slice(0, MAX_TEXT).trim();
    if (!text) return;
    if (params.room !== undefined) cast({ type: 'chat', from: demoName(token), socket, text }, { target: `channel:room:${params.room}` });
    else cast({ type: 'chat', from: socket.slice(0, 6), text });
  },
  close({ cast, socket, params }: HookContext) {
    if (params.room === undefined) cast({ type: 'leave', from: socket.slice(0, 6) });
  },
};
