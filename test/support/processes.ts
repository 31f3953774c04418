/** Processes the tests start or expect gone, seen from /proc. */
import { readFileSync } from 'node:fs';

/** Whether a process runs: a zombie (exited, not yet reaped) does not. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}
