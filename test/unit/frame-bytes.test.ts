/**
 * A client frame weighs its UTF-8 bytes: text of multi-byte characters is
 * not under-counted by its UTF-16 length, against limits.frame (for runtimes
 * that do not check it themselves) and the bounds of frames waiting for auth.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deliver, frameBytes } from '../../src/protocols/incoming.ts';
import type { Connections } from '../../src/core/connections.ts';
import type { Client } from '../../src/core/client.ts';

/** The two calls deliver() makes, recorded. */
function fakeCore(frame: number) {
  const seen: Array<['message', string] | ['tooBig', number]> = [];
  const core = {
    limits: { frame },
    message: (_client: Client, text: string) => void seen.push(['message', text]),
    tooBig: (_client: Client, bytes: number) => void seen.push(['tooBig', bytes]),
    failed: (_client: Client, error: unknown) => assert.fail(String(error)),
  } as unknown as Connections;
  return { core, seen };
}
const client = {} as Client;

describe('frameBytes', () => {
  it('counts text in UTF-8 bytes, binary frames by their length', () => {
    assert.equal(frameBytes('abc'), 3);
    assert.equal(frameBytes('é'), 2);
    assert.equal(frameBytes('€'.repeat(1000)), 3000);
    assert.equal(frameBytes('😀'), 4, 'a surrogate pair');
    assert.equal(frameBytes(''), 0);
    assert.equal(frameBytes(new ArrayBuffer(7)), 7);
    assert.equal(frameBytes(new Uint8Array(5)), 5);
  });

  it('counts a lone surrogate as the 3 bytes of U+FFFD it is written as, and does not skip the unit after it', () => {
    // JSON's "\ud800" escapes make such strings out of a client's text (a Pusher client event's string data).
    for (const text of ['\ud800\u0800', '\ud800a', '\udc00', 'a\ud800', '\ud800\ud800\udc00', '\udc00\ud800', '\ud800€'.repeat(100)]) {
      assert.equal(frameBytes(text), Buffer.byteLength(text, 'utf8'), JSON.stringify(text));
    }
  });
});

describe('deliver', () => {
  it('closes a text frame whose UTF-8 bytes pass limits.frame though its UTF-16 length does not', () => {
    const { core, seen } = fakeCore(10);
    deliver(core, client, '€€€€');
    assert.deepEqual(seen, [['tooBig', 12]]);
  });

  it('passes a frame up to the limit in bytes, text short or long or binary, and stops one byte over it', () => {
    const { core, seen } = fakeCore(12);
    deliver(core, client, '€€€€');
    deliver(core, client, 'abc');
    deliver(core, client, 'x'.repeat(12));
    deliver(core, client, 'x'.repeat(11) + 'é');
    deliver(core, client, new Uint8Array(12).fill(0x61));
    deliver(core, client, new Uint8Array(13));
    assert.deepEqual(seen, [['message', '€€€€'], ['message', 'abc'], ['message', 'x'.repeat(12)], ['tooBig', 13], ['message', 'a'.repeat(12)], ['tooBig', 13]]);
  });
});
