/**
 * After a burst of connections the gateway asks the runtime for one full
 * garbage collection (ops/memory-settle.ts): 1,000 sockets open, and once a
 * quarter second passes with no open or close, one `collected` line says
 * so, with every socket still open. Only Bun offers a collection without a
 * flag at start (runtime.collectGarbage): on Node and Deno there is none to
 * ask for, and the test says so instead of running.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import type { Client } from '../support/client.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';

const BURST = 1000;
const onBun = TARGET === 'bun' || TARGET === 'binary';
const skip = targetAvailable() ?? (onBun ? undefined : `${TARGET} has no garbage collection to ask for without a start flag`);

describe(`memory settles after a burst of connections on ${TARGET}`, { skip }, () => {
  it('one full collection once 1,000 sockets have opened and a quarter second passed with none', { timeout: 120_000 }, async () => {
    const server = await startServer({ config: { hosts: { 'm.test': { module: join(FIXTURES, 'hooks.ts') } } } });
    const clients: Client[] = [];
    try {
      // Half the burst, then a pause longer than a tick: not a burst yet, so no collection.
      const open = async (from: number, to: number) => {
        for (let i = from; i < to; i += 50) {
          const batch = Array.from({ length: Math.min(50, to - i) }, (_, k) => connect(server.port, { host: 'm.test', token: `t${i + k}` }));
          clients.push(...(await Promise.all(batch)));
        }
      };
      await open(0, BURST / 2);
      await server.waitForLog(new RegExp(`open host=m\\.test .*sockets=${BURST / 2}\\b`));
      // An absence cannot be awaited: two ticks and more pass, and 500 changes must still not make a burst.
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(server.logs.filter((line) => / collected /.test(line)).length, 0, 'no collection for half a burst');
      await open(BURST / 2, BURST);
      const line = await server.waitForLog(/ collected /, 10_000);
      assert.match(line, new RegExp(`collected sockets=${BURST} ms=\\d+`));
      const lastOpen = server.logs.findLastIndex((l) => / open host=m\.test /.test(l));
      assert.ok(server.logs.indexOf(line) > lastOpen, 'after the last open');
      assert.equal(clients.filter((c) => c.ws.readyState === c.ws.OPEN).length, BURST);
    } finally {
      for (const client of clients) client.ws.terminate();
      await server.stop();
    }
  });
});
