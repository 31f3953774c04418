/**
 * The cluster's outbox (src/cluster/outbox.ts): what a node writes within
 * two turns goes out as one PUBLISH per channel, in order, cut at BATCH_MAX, and a
 * failed PUBLISH tells each of its messages' writers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BATCH_MAX, Outbox, batchText, unbatch } from '../../src/cluster/outbox.ts';

describe('the cluster outbox', () => {
  it('writes one message as it is and several as a JSON array, and reads both back', () => {
    assert.equal(batchText(['{"a":1}']), '{"a":1}');
    assert.equal(batchText(['{"a":1}', '{"b":2}']), '[{"a":1},{"b":2}]');
    assert.deepEqual(unbatch(JSON.parse('{"a":1}')), { items: [{ a: 1 }], dropped: 0 });
    assert.deepEqual(unbatch(JSON.parse('[{"a":1},{"b":2}]')), { items: [{ a: 1 }, { b: 2 }], dropped: 0 });
    assert.deepEqual(unbatch([1, 2, 3, 4], 3), { items: [1, 2, 3], dropped: 1 }, 'a peer cannot make a node take an unbounded batch');
  });

  it('sends what two turns wrote as one PUBLISH per channel, in the order written, at the end of the second turn', async () => {
    const published: Array<[string, string]> = [];
    const outbox = new Outbox(async (channel, text) => void published.push([channel, text]));
    outbox.write('bus', '{"n":1}');
    outbox.write('reply:a', '{"r":1}');
    assert.deepEqual(published, [], 'nothing before the turn ends');
    await nextTurn();
    assert.deepEqual(published, [], 'nor at the end of the turn it was written in: a burst read over two turns shares a PUBLISH');
    outbox.write('bus', '{"n":2}');
    outbox.write('reply:a', '{"r":2}');
    outbox.write('reply:b', '{"r":3}');
    await nextTurn();
    assert.deepEqual(published, [
      ['bus', '[{"n":1},{"n":2}]'],
      ['reply:a', '[{"r":1},{"r":2}]'],
      ['reply:b', '{"r":3}'],
    ]);
    outbox.write('bus', '{"n":3}');
    await nextTurn();
    await nextTurn();
    assert.deepEqual(published.at(-1), ['bus', '{"n":3}'], 'what comes after is a PUBLISH of its own');
    assert.equal(published.length, 4);
  });

  it('flushes at once when asked (before a numbered publication), and cuts a burst at BATCH_MAX', async () => {
    const published: string[] = [];
    const outbox = new Outbox(async (_channel, text) => void published.push(text));
    for (let i = 0; i < BATCH_MAX + 1; i++) outbox.write('bus', String(i));
    outbox.flush();
    assert.equal(published.length, 2);
    assert.equal((JSON.parse(published[0]!) as number[]).length, BATCH_MAX);
    assert.equal(published[1], String(BATCH_MAX));
    await nextTurn();
    await nextTurn();
    assert.equal(published.length, 2, 'the scheduled flush finds nothing left');
  });

  it('tells every writer of a PUBLISH that failed, with the error', async () => {
    const failed: string[] = [];
    const outbox = new Outbox(async () => {
      throw new Error('Connection is closed.');
    });
    outbox.write('bus', '1', (error) => error && failed.push(`1 ${error.message}`));
    outbox.write('bus', '2');
    outbox.write('bus', '3', (error) => error && failed.push(`3 ${error.message}`));
    await Promise.all(outbox.flush());
    assert.deepEqual(failed, ['1 Connection is closed.', '3 Connection is closed.']);
  });
});
