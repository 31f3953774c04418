/**
 * A second host for tests that need a caller that is not on loopback: a
 * network namespace joined to this one by a veth pair, on a private /30
 * that exists only inside this machine. Needs root and iproute2.
 */
import { spawnSync } from 'node:child_process';

export interface Netns {
  /** Our side's address: bind the server here. */
  hostAddress: string;
  /** Runs argv inside the namespace (as the remote caller). */
  run(argv: string[], env?: Record<string, string>): { code: number | null; stdout: string; stderr: string };
  remove(): void;
}

function ip(args: string[]): { ok: boolean; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, err: (r.stderr ?? r.error?.message ?? '').trim() };
}

/** The namespace, or why it cannot be made here (the tests then skip, saying so). */
export function createNetns(): Netns | string {
  if (process.getuid?.() !== 0) return 'needs root to create a network namespace';
  if (spawnSync('ip', ['-V']).status !== 0) return 'needs iproute2 (ip) to create a network namespace';
  const n = process.pid % 250;
  const ns = `wsgate-t${process.pid}`;
  const a = `wsg${process.pid % 100000}a`;
  const b = `wsg${process.pid % 100000}b`;
  const hostAddress = `10.231.${n}.1`;
  const peer = `10.231.${n}.2`;
  const steps: string[][] = [
    ['netns', 'add', ns],
    ['link', 'add', a, 'type', 'veth', 'peer', 'name', b],
    ['link', 'set', b, 'netns', ns],
    ['addr', 'add', `${hostAddress}/30`, 'dev', a],
    ['link', 'set', a, 'up'],
    ['-n', ns, 'addr', 'add', `${peer}/30`, 'dev', b],
    ['-n', ns, 'link', 'set', b, 'up'],
    ['-n', ns, 'link', 'set', 'lo', 'up'],
  ];
  const remove = () => {
    ip(['netns', 'del', ns]);
    ip(['link', 'del', a]);
  };
  for (const step of steps) {
    const r = ip(step);
    if (!r.ok) {
      remove();
      return `could not create a network namespace (ip ${step.join(' ')}: ${r.err})`;
    }
  }
  return {
    hostAddress,
    run(argv, env = {}) {
      const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
      return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
    remove,
  };
}
