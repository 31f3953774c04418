import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { frameOf, payloadOf } from '../../src/runtime/wsframe.ts';

// ws exports its frame parser, but its type declarations leave it out.
const { Receiver } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean }) => NodeJS.WritableStream & { on(event: string, listener: (...args: never[]) => void): void };
};

/** What ws's own parser (as a client would run it) makes of the bytes. */
function parse(bytes: Uint8Array): Promise<{ text: string; binary: boolean }> {
  return new Promise((resolve, reject) => {
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data: Buffer, binary: boolean) => resolve({ text: data.toString('utf8'), binary }));
    receiver.on('error', reject);
    receiver.write(Buffer.from(bytes));
  });
}

describe('frameOf', () => {
  // The three header sizes, around each boundary, with multi-byte UTF-8 so bytes and characters differ.
  for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    it(`builds a text frame a client parses, payload of ${length} bytes`, async () => {
      const text = length > 2 ? `é${'x'.repeat(length - 2)}` : 'x'.repeat(length);
      const frame = frameOf(text);
      assert.equal(Buffer.from(payloadOf(frame)).toString('utf8'), text);
      assert.deepEqual(await parse(frame), { text, binary: false });
    });
  }
});
