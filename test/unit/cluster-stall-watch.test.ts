/**
 * The bus link's watch on Redis's answers (src/cluster/stall-watch.ts): a
 * command left unanswered past its time fails at once and says the link
 * stalled; answers that came while the event loop was busy are no stall.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { StallWatch } from '../../src/cluster/stall-watch.ts';

describe('the stall watch', () => {
  it('fails the commands waiting when none is answered in time, and says so once', async () => {
    let stalls = 0;
    const watch = new StallWatch(30, () => stalls++);
    const never = new Promise<string>(() => {});
    const first = watch.watch(never);
    const second = watch.watch(never);
    await assert.rejects(first, /did not answer within 30 ms/);
    await assert.rejects(second, /did not answer within 30 ms/);
    assert.equal(stalls, 1);
  });

  it('passes answers and failures through, and sees no stall while Redis answers', async () => {
    let stalls = 0;
    const watch = new StallWatch(30, () => stalls++);
    assert.equal(await watch.watch(Promise.resolve('ok')), 'ok');
    await assert.rejects(watch.watch(Promise.reject(new Error('WRONGTYPE'))), /WRONGTYPE/);
    for (let i = 0; i < 5; i++) await watch.watch(new Promise((resolve) => setTimeout(resolve, 10, i)));
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(stalls, 0);
  });

  it('takes no answer read after a busy stretch of the event loop for a stall', async () => {
    // An answer that comes over a socket, as Redis's do: read in the poll phase, after the timers of its turn.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const [peer] = await accepted;
    let stalls = 0;
    const watch = new StallWatch(20, () => stalls++);
    const watched = watch.watch(once(client, 'data').then(([chunk]) => String(chunk)));
    peer.write('+OK');
    // The loop is busy past the watch's time while the answer waits to be read.
    const until = performance.now() + 60;
    while (performance.now() < until);
    try {
      assert.equal(await watched, '+OK');
      assert.equal(stalls, 0);
    } finally {
      client.destroy();
      peer.destroy();
      server.close();
    }
  });
});
