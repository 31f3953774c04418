/**
 * A module's cast() options as the app wrote them: a mistaken shape must not
 * widen who gets the data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { moduleCast } from '../../src/hooks/runners/module-cast.ts';
import type { Caster } from '../../src/hooks/runners/module-cast.ts';
import type { Selection } from '../../src/core/targets.ts';

function recording(): { caster: Caster; casts: Selection[] } {
  const casts: Selection[] = [];
  const caster: Caster = {
    cast: (_host, selection) => (casts.push(selection), 1),
    castText: (_host, selection) => (casts.push(selection), 1),
    castEverywhere: async (_host, selection) => (casts.push(selection), { value: 1 }),
  };
  return { caster, casts };
}

describe('module cast() options', () => {
  // As PHP's wsCast($data, 'token:' . $token) reads: the old code took the string's missing .target for "all".
  for (const options of ['token:bob', 'socket:0123456789abcdef', ['0123456789abcdef'], 7, null]) {
    it(`${JSON.stringify(options)} in place of {target} is refused, not cast to every socket`, async () => {
      const { caster, casts } = recording();
      const cast = moduleCast(caster);
      assert.throws(() => cast.now('h', { secret: 1 }, options as never), /options must be an object/);
      await assert.rejects(cast.everywhere('h', { secret: 1 }, options as never), /options must be an object/);
      assert.deepEqual(casts, []);
    });
  }

  it('no options, or an object, casts as before', () => {
    const { caster, casts } = recording();
    const cast = moduleCast(caster);
    cast.now('h', 1);
    cast.now('h', 1, {});
    cast.now('h', 1, { target: 'token:bob' });
    assert.deepEqual(casts, [{ kind: 'all' }, { kind: 'all' }, { kind: 'token', token: 'bob' }]);
  });
});
