/**
 * Linux /proc readers shared by the benchmark scripts: a process's CPU time,
 * resident memory, and which process is really the server.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';

/** Clock ticks per second, for utime/stime in /proc/<pid>/stat. */
export const CLK_TCK = (() => {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

export interface CpuSample {
  /** utime + stime of the whole process (all threads, live and exited), in clock ticks. */
  ticks: number;
  /** The user-mode and kernel-mode parts of `ticks`. */
  userTicks: number;
  sysTicks: number;
  /** Sum of the live threads' on-CPU time from /proc/<pid>/task/<tid>/schedstat, in ns (finer, but misses exited threads). */
  schedNs: number;
}

export function cpu(pid: number): CpuSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may hold spaces and parentheses; everything after the last ')' is space-separated from field 3 on.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]); // field 14, utime
  const sysTicks = Number(fields[12]); // field 15, stime
  const ticks = userTicks + sysTicks;
  let schedNs = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        schedNs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread exited between readdir and read
      }
    }
  } catch {
    schedNs = Number.NaN;
  }
  return { ticks, userTicks, sysTicks, schedNs };
}

export function ticksToMicros(ticks: number): number {
  return (ticks * 1e6) / CLK_TCK;
}

/** A line of /proc/<pid>/status such as VmRSS or VmHWM, in kB. */
export function statusKb(pid: number, key: 'VmRSS' | 'RssAnon' | 'VmHWM' | 'Threads'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

export function exeOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    return undefined;
  }
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/**
 * The process that actually runs the server: `pid` itself when its executable
 * is `expectedExe`, else the first descendant (breadth first, bounded) whose
 * executable is. Wrappers (shell shims, `npx`, node launchers) are skipped
 * this way. Undefined when none matches.
 */
export function serverPid(pid: number, expectedExe: string): number | undefined {
  const want = realpathSync(expectedExe);
  const queue = [pid];
  for (let seen = 0; queue.length > 0 && seen < 64; seen++) {
    const next = queue.shift()!;
    if (exeOf(next) === want) return next;
    queue.push(...childrenOf(next));
  }
  return undefined;
}

/** The soft and hard open-files limits of this process. */
export function fdLimits(): { soft: number; hard: number } {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const num = (v: string | undefined) => (v === undefined || v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: num(match?.[1]), hard: num(match?.[2]) };
}

/** True when the file starts with the ELF magic (a real executable, not a script shim). */
export function isElf(path: string): boolean {
  try {
    const head = Buffer.alloc(4);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    return head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
  } catch {
    return false;
  }
}

/**
 * CPU of `pid`'s children that have exited and been waited for (cutime +
 * cstime, fields 16 and 17 of /proc/<pid>/stat), in clock ticks: what
 * one-shot hook processes cost, since they are gone before anyone can read them.
 */
export function reapedChildTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

/** The process's argv from /proc/<pid>/cmdline (empty when it is gone). */
export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Whole-machine CPU from the first line of /proc/stat, in clock ticks summed
 * over all CPUs: `busy` (user, nice, system, irq, softirq, steal) and `total`
 * (busy + idle + iowait).
 */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy, total: busy + idle! + iowait! };
}
