/**
 * A reload step past reloadTimeout fails its reload, naming it; a file read
 * given up on holds every later reload until it settles (it holds one of the
 * runtime's few file-system threads); a hook module's top-level await does not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/ops/log.ts';
import { ReloadSteps } from '../../src/reload-steps.ts';

function steps(): { steps: ReloadSteps; written: string[] } {
  const written: string[] = [];
  return { steps: new ReloadSteps(createLogger((line) => written.push(line.slice(25)))), written };
}

describe('reload steps', () => {
  it('gives what a step gives within its time, and holds nothing', async () => {
    const { steps: s } = steps();
    assert.equal(await s.within('reading the config', Promise.resolve(7), 1000), 7);
    await assert.rejects(s.within('reading the config', Promise.reject(new Error('no such file')), 1000), /no such file/);
    assert.equal(s.held(), undefined);
  });

  it('fails a step past its time naming it, holds later reloads until it settles, then says so', async () => {
    const { steps: s, written } = steps();
    let finish!: () => void;
    const hanging = new Promise<void>((resolve) => (finish = resolve));
    await assert.rejects(s.within('reading the config', hanging, 20), /^Error: reading the config did not finish within 0\.02 s \(reloadTimeout\)$/);
    assert.match(s.held() ?? '', /^reading the config has not finished, given up by an earlier reload \d+ s ago/);
    finish();
    await hanging;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(s.held(), undefined, 'settled: reloads may start again');
    assert.ok(written.some((line) => /reload note="reading the config, given up \d+ s ago, finished after all"/.test(line)), written.join('\n'));
  });

  it('does not hold later reloads for a step that holds no thread (a module whose top-level await never settles)', async () => {
    const { steps: s } = steps();
    await assert.rejects(s.within('importing the hook modules', new Promise(() => {}), 20, false), /did not finish within/);
    assert.equal(s.held(), undefined);
  });
});
