/**
 * An upgrade whose auth hook was still running when a reload swapped the
 * routes opens after it: it takes its host's new route, as the sockets open
 * at the reload did, or is closed when its host is no longer served.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModuleRunner } from '../../src/hooks/runners/module.ts';
import { moduleCast } from '../../src/hooks/runners/module-cast.ts';
import type { Route } from '../../src/core/route.ts';
import { startCore } from '../support/core.ts';

const MODULE = { module: '/dev/null' };

/** A core whose auth of token "late" waits for answer(); connect and close hooks are noted in `ran`. */
function slowAuthCore(hosts: string[]) {
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  const ran: string[] = [];
  const hooks = {
    auth: async ({ token }: { token: string }) => {
      if (token === 'late') await answered;
      return true;
    },
    connect: ({ token }: { token: string }) => void ran.push(`old connect ${token}`),
    close: ({ token }: { token: string }) => void ran.push(`old close ${token}`),
  };
  const core = startCore({ hosts: Object.fromEntries(hosts.map((host) => [host, MODULE])) }, Object.fromEntries(hosts.map((host) => [host, hooks])));
  return { core, ran, answer };
}

describe('a socket that opens after a reload that came during its auth', () => {
  it('is closed with 1001 when its host is no longer served, runs no hook and keeps no place', async () => {
    const { core, ran, answer } = slowAuthCore(['a.test', 'b.test']);
    try {
      const late = core.connect('a.test', 'late');
      await core.settle();
      const next = { ...core.config, hosts: core.config.hosts.filter((host) => host.key === 'b.test') };
      const kept = core.gateway.route('b.test')!;
      core.gateway.reload(next, new Map([['b.test', { config: next.hosts[0]!, runner: kept.runner }]]));
      answer();
      const socket = await late;
      await core.settle();
      assert.deepEqual(socket.closed, { code: 1001, reason: 'host no longer served' });
      assert.equal(core.gateway.hub.size, 0);
      assert.equal(core.gateway.hub.get(socket.client.id), undefined);
      assert.deepEqual(ran, [], 'no hook of a host that is gone');
    } finally {
      await core.stop();
    }
  });

  it("takes its host's new route, as the sockets open at the reload did", async () => {
    const { core, ran, answer } = slowAuthCore(['a.test']);
    try {
      const late = core.connect('a.test', 'late');
      await core.settle();
      const next = { ...core.config, hosts: [...core.config.hosts] };
      const route: Route = { config: next.hosts[0]!, runner: new ModuleRunner({ connect: ({ token }) => void ran.push(`new connect ${token}`) }, moduleCast(core.gateway)) };
      core.gateway.reload(next, new Map([['a.test', route]]));
      answer();
      const socket = await late;
      await core.settle();
      assert.equal(socket.closed, undefined);
      assert.equal(socket.client.route, route);
      assert.deepEqual(ran, ['new connect late']);
    } finally {
      await core.stop();
    }
  });
});
