/**
 * closeTimeout: how long a close waits for the client's answer before the
 * connection is dropped. Node's ws waits 30 s of its own, so more cannot be
 * kept there; a client closed for a limit that never answers must not keep
 * its connection longer than the config says.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/config.ts';

const HOSTS = { hosts: { 'a.test': '/srv/a/app.php' } };

function problems(input: unknown): string[] {
  try {
    parseConfig(input, 'f.json', '/');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  return [];
}

describe('closeTimeout', () => {
  it('is 30 s unless set, and takes seconds from 0.1 to 30', () => {
    assert.equal(parseConfig(HOSTS, 'f.json', '/').closeTimeout, 30);
    assert.equal(parseConfig({ ...HOSTS, closeTimeout: 0.5 }, 'f.json', '/').closeTimeout, 0.5);
    assert.equal(parseConfig({ ...HOSTS, closeTimeout: 30 }, 'f.json', '/').closeTimeout, 30);
  });

  it('refuses 0, more than 30 and what is not a number, naming the field', () => {
    assert.match(problems({ ...HOSTS, closeTimeout: 0 }).join('\n'), /f\.json: closeTimeout: expected at least 0\.1 seconds/);
    assert.match(problems({ ...HOSTS, closeTimeout: 31 }).join('\n'), /f\.json: closeTimeout: expected at most 30 seconds \(ws, on Node, waits no longer\)/);
    assert.match(problems({ ...HOSTS, closeTimeout: '5' }).join('\n'), /f\.json: closeTimeout: expected seconds/);
  });
});
