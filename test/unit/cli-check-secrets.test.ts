/**
 * `wsgate check` prints the resolved config for CI logs and tickets, so no
 * secret in it: a Pusher webhook URL's credentials (sent as Basic auth) included.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCommand } from 'citty';
import { buildCli } from '../../src/cli.ts';
import type { Runtime } from '../../src/runtime/types.ts';
import { tempDir } from '../support/server.ts';

async function checkOutput(config: unknown): Promise<string> {
  const file = join(tempDir(), 'wsgate.json');
  writeFileSync(file, JSON.stringify(config));
  let out = '';
  const write = process.stdout.write;
  // Only check's text: the test runner's own reports go through as bytes.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => (typeof chunk === 'string' ? ((out += chunk), true) : write.call(process.stdout, chunk, ...rest))) as typeof process.stdout.write;
  try {
    await runCommand(buildCli(async () => ({}) as Runtime), { rawArgs: ['check', '--config', file] });
  } finally {
    process.stdout.write = write;
  }
  return out;
}

describe('wsgate check', () => {
  it("prints no webhook URL's password", async () => {
    const out = await checkOutput({
      hosts: { 'a.test': { module: 'builtin:demo' } },
      pusher: { apps: [{ id: '1', key: 'app-key', secret: 'a-secret-of-at-least-16-characters', webhooks: [{ url: 'https://hooks:s3cr3t-pass@app.example.com/pusher/webhook?x=1' }] }] },
    });
    const shown = JSON.parse(out) as { pusher: { apps: Array<{ webhooks: Array<{ url: string }> }> } };
    assert.doesNotMatch(out, /s3cr3t-pass/);
    assert.equal(shown.pusher.apps[0]!.webhooks[0]!.url, 'https://hooks:***@app.example.com/pusher/webhook?x=1', 'which URL it is stays readable');
  });

  it("prints no webhook URL's token in its query", async () => {
    const out = await checkOutput({
      hosts: { 'a.test': { module: 'builtin:demo' } },
      pusher: { apps: [{ id: '1', key: 'app-key', secret: 'a-secret-of-at-least-16-characters', webhooks: [{ url: 'https://app.example.com/pusher/webhook?token=s3cr3t-token&x=1&api_key=s3cr3t-key' }] }] },
    });
    const shown = JSON.parse(out) as { pusher: { apps: Array<{ webhooks: Array<{ url: string }> }> } };
    assert.doesNotMatch(out, /s3cr3t/);
    assert.equal(shown.pusher.apps[0]!.webhooks[0]!.url, 'https://app.example.com/pusher/webhook?token=***&x=1&api_key=***');
  });
});
