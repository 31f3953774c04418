/**
 * Resident hosts that share an app may each set their own `timeout`: their
 * hooks keep their own, and a /dispatch (or scheduled) job of that app gets
 * the longest of them. It took whichever host came last in the config.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/config.ts';
import { Dispatcher } from '../../src/hooks/dispatch.ts';
import { Pools } from '../../src/hooks/pool/pools.ts';
import { HookSlots } from '../../src/hooks/runners/slots.ts';
import type { Spawn } from '../../src/hooks/runners/oneshot.ts';
import { createLogger } from '../../src/ops/log.ts';
import { scriptedChild } from '../support/scripted-worker.ts';

/** A worker that answers each job `answerMs` after it gets it. */
const slowWorkers =
  (answerMs: number): Spawn =>
  () => {
    const { child, say } = scriptedChild({
      onWrite(text, say) {
        const { id } = JSON.parse(text) as { id: string };
        setTimeout(() => say(`{"id":"${id}","t":"done","result":"late"}\n`), answerMs);
      },
    });
    setTimeout(() => say('{"t":"ready"}\n'), 1);
    return child;
  };

async function dispatchWith(timeouts: number[], answerMs: number) {
  const hosts = Object.fromEntries(timeouts.map((timeout, i) => [`h${i}.test`, { app: '/srv/app.php', build: false, timeout }]));
  const config = parseConfig({ timeout: 0.05, hosts }, 'f.json', '/');
  const pools = new Pools(2, 'php', slowWorkers(answerMs), createLogger(() => {}, 'error'));
  const slots = new HookSlots({ processes: 1, queue: 1, authsPerHost: 1 });
  const dispatcher = await Dispatcher.create(config, pools, slowWorkers(answerMs), async (path) => path, slots);
  try {
    return await dispatcher.run({ app: '/srv/app.php', target: 'jobs::slow', args: [], build: false });
  } finally {
    await pools.capacity.stop();
  }
}

describe("a /dispatch job of an app that hosts with different timeouts share", () => {
  it('gets the longest of the hosts\' timeouts, whichever host comes last', async () => {
    // The job takes 150 ms: within the first host's 5 s, past the last host's 50 ms (and the global 50 ms).
    for (const timeouts of [[5, 0.05], [0.05, 5]]) {
      const outcome = await dispatchWith(timeouts, 150);
      assert.deepEqual(outcome.ok && outcome.result, 'late', `timeouts ${timeouts.join(', ')}: ${JSON.stringify(outcome)}`);
    }
  });

  it('still ends a job that runs past every host\'s timeout', async () => {
    const outcome = await dispatchWith([0.05, 0.1], 300);
    assert.equal(outcome.ok, false);
  });
});
