/**
 * The built-in demo: a chat room per host. Every message a socket sends is
 * cast to every socket of the host, with a short name for the sender.
 */
import type { HookContext, HookModule } from '../runners/module.ts';

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

export const demoHooks: HookModule = {
  connect({ cast, socket }: HookContext) {
    cast({ type: 'welcome', you: socket.slice(0, 6) }, { target: `socket:${socket}` });
    cast({ type: 'join', from: socket.slice(0, 6) });
  },
  receive({ cast, socket, message }: HookContext) {
    const text = textOf(message ?? '').slice(0, MAX_TEXT).trim();
    if (text) cast({ type: 'chat', from: socket.slice(0, 6), text });
  },
  close({ cast, socket }: HookContext) {
    cast({ type: 'leave', from: socket.slice(0, 6) });
  },
};
