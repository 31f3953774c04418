/** The listeners of one client or one subscription, by event name. */

export type Listener = (...args: unknown[]) => void;

export interface Emitter {
  on(event: string, handler: Listener): () => void;
  emit(event: string, ...args: unknown[]): void;
}

export function emitter(): Emitter {
  const listeners = new Map<string, Set<Listener>>();
  return {
    on(event, handler) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(handler);
      return () => void set.delete(handler);
    },
    emit(event, ...args) {
      // A copy: handlers may unsubscribe while we go through them.
      for (const handler of [...(listeners.get(event) ?? [])]) {
        try {
          handler(...args);
        } catch (error) {
          // An app handler that throws must not stop the others, nor leave the
          // client half way through a frame; the error still surfaces.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    },
  };
}
