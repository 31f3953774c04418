/**
 * Children started as leaders of their own process group (SpawnOptions.group):
 * killing one kills everything it started, and whatever is still alive when
 * wsgate exits is killed too. A group leader no longer shares wsgate's
 * process group, so a terminal's Ctrl-C or a supervisor that signals the
 * group would not reach it: the exit hook below is what ends it then.
 */
import process from 'node:process';

/** SIGKILL to the whole group of `pid`; the leader alone when the group is gone or cannot be signalled. */
export function killGroup(pid: number, killLeader: () => void): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone (or this platform has no groups): the leader alone, as before.
    killLeader();
  }
}

/** Groups whose leader exited while a runner still reads their pipes: pid -> holds. */
const held = new Map<number, number>();

/**
 * Keeps the group of `pid` among those killed at wsgate's exit beyond its
 * leader's exit, until the returned release is called (once its pipes have
 * closed): a process the leader started that still holds them is part of the
 * hook, and must not outlive wsgate. Counted, as a pid freed by a group that
 * emptied may be reused before the release of the last hold on it runs.
 */
export function holdGroup(pid: number): () => void {
  held.set(pid, (held.get(pid) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = held.get(pid)! - 1;
    if (left > 0) held.set(pid, left);
    else held.delete(pid);
  };
}

/** Registers a synchronous handler for the runtime's exit. */
export type AtExit = (handler: () => void) => void;

/**
 * The group leaders one runtime adapter started, tracked until they exit; on
 * wsgate's own exit, every group still tracked is killed. `atExit` is the
 * runtime's exit hook (Node and Bun: process 'exit'; Deno: 'unload', as
 * Deno.exit does not emit process 'exit'); it is registered with the first
 * leader, so an adapter that never starts one adds no handler.
 */
export function createGroupTracker(atExit: AtExit = (handler) => process.on('exit', handler)): (pid: number, exited: Promise<unknown>) => void {
  const leaders = new Set<number>();
  let hooked = false;
  return (pid, exited) => {
    leaders.add(pid);
    // The leader's exit does not end its group, but a pid about to be reused must not be signalled later; a group whose pipes are still read stays held (holdGroup).
    void exited.then(
      () => leaders.delete(pid),
      () => leaders.delete(pid),
    );
    if (hooked) return;
    hooked = true;
    // Synchronous, so it runs on every exit path that runs exit handlers (process.exit after a stop, an uncaught error).
    atExit(() => {
      for (const leader of new Set([...leaders, ...held.keys()])) {
        try {
          process.kill(-leader, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    });
  };
}
