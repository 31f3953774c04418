/**
 * JSON from peers is refused when nested deeper than MAX_JSON_DEPTH, at each
 * way in (core/json.ts), and a frame whose handling throws closes its
 * socket instead of reaching the runtime's listener.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_JSON_DEPTH, TOO_DEEP, jsonTooDeep, parsePeerJson } from '../../src/core/json.ts';
import { parseFrame } from '../../src/hooks/pool/frames.ts';
import { grantOf } from '../../src/hooks/runners/runner.ts';
import { readBatch } from '../../src/cluster/outbox.ts';
import { parseWith } from '../../src/cluster/messages.ts';
import { decodeInfo } from '../../src/cluster/member-held.ts';
import { readFrame } from '../../src/protocols/pusher/messages.ts';
import { deliver } from '../../src/protocols/incoming.ts';
import type { Connections } from '../../src/core/connections.ts';
import type { Client } from '../../src/core/client.ts';
import * as v from 'valibot';

const nested = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);
// Deep enough that JSON.stringify of the parsed value overflows the stack on every runtime.
const HUGE = 200_000;

describe('JSON from peers', () => {
  it('measures nesting outside strings only', () => {
    assert.equal(jsonTooDeep(nested(MAX_JSON_DEPTH)), false);
    assert.equal(jsonTooDeep(nested(MAX_JSON_DEPTH + 1)), true);
    assert.equal(jsonTooDeep(`{"a": "${'['.repeat(1000)}"}`), false, 'brackets in a string do not count');
    assert.equal(jsonTooDeep(`{"a": "\\"${'{'.repeat(1000)}"}`), false, 'an escaped quote does not end the string');
    assert.equal(jsonTooDeep(`[${'{"a":'.repeat(300)}1${'}'.repeat(300)}]`), true);
  });

  it('parses what is shallow enough, and says why not otherwise', () => {
    assert.deepEqual(parsePeerJson('{"a":[1,2]}'), { ok: true, value: { a: [1, 2] } });
    assert.deepEqual(parsePeerJson(nested(HUGE)), { ok: false, problem: TOO_DEEP });
    assert.deepEqual(parsePeerJson('{'), { ok: false, problem: 'not JSON' });
  });

  it("refuses a worker's frame nested too deep, which would throw where its data is written out", () => {
    const line = JSON.stringify({ id: '1.1', t: 'line', data: 0 }).replace('0', nested(HUGE));
    assert.throws(() => JSON.stringify(JSON.parse(line)), RangeError, 'the attack: parses, then cannot be written out');
    const parsed = parseFrame(line);
    assert.ok('problem' in parsed);
    assert.match(parsed.problem, /nested more than 256 levels/);
    assert.ok('frame' in parseFrame(JSON.stringify({ id: '1.1', t: 'line', data: JSON.parse(nested(10)) })));
  });

  it("refuses a grant whose info could not go out in presence lists: too deep, or a module's cycle", () => {
    const deep = grantOf(`{"channels": ["room:1"], "info": ${nested(HUGE)}}`);
    assert.equal(deep.grant, undefined);
    assert.match(deep.problem!, /nested more than 256 levels/);
    const cycle: Record<string, unknown> = { name: 'Ann' };
    cycle.self = cycle;
    const cyclic = grantOf({ channels: ['room:1'], info: cycle });
    assert.equal(cyclic.grant, undefined);
    assert.match(cyclic.problem!, /"info" cannot be written as JSON/);
    assert.deepEqual(grantOf({ channels: ['room:1'], info: { name: 'Ann' } }), { grant: { channels: ['room:1'], info: { name: 'Ann' } } });
  });

  it('refuses what comes from Redis nested too deep', () => {
    assert.deepEqual(readBatch(nested(HUGE)), { items: [], problem: TOO_DEEP });
    assert.deepEqual(parseWith(v.unknown(), nested(HUGE)), { ok: false, problem: TOO_DEEP });
    assert.deepEqual(decodeInfo(nested(HUGE)), { ok: false });
    assert.deepEqual(readBatch('[{"a":1},{"b":2}]'), { items: [{ a: 1 }, { b: 2 }] });
  });

  it("does not read a Pusher client's frame nested too deep", () => {
    assert.equal(readFrame(`{"event":"client-x","channel":"private-a","data":${nested(HUGE)}}`), undefined);
    assert.equal(readFrame('{"event":"client-x","channel":"private-a","data":[[1]]}')?.event, 'client-x');
  });
});

describe('a frame whose handling throws', () => {
  it('closes its socket through the core, not into the runtime', () => {
    const failed: unknown[] = [];
    const core = {
      limits: { frame: 1 << 20 },
      message() {
        throw new RangeError('Maximum call stack size exceeded');
      },
      failed(_client: Client, error: unknown) {
        failed.push(error);
      },
    } as unknown as Connections;
    assert.doesNotThrow(() => deliver(core, {} as Client, 'x'));
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]), /Maximum call stack/);
  });
});
