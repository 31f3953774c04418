/**
 * Where wsgate writes the plain-PHP SDK, which PHP then runs as wsgate's
 * user: a file another local user could have put first, or a file cut short
 * by a crash mid-write, must never be the one PHP is given.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { sha256Hex } from '../../src/core/ids.ts';
import { WSGATE_PHP, sdkPath } from '../../src/hooks/sdk/extract.ts';
import { tempDir } from '../support/server.ts';

/** Where the SDK went before: a name anyone on the machine could compute and create first. */
const oldPath = (tmp: string) => join(tmp, `wsgate-sdk-${sha256Hex(WSGATE_PHP).slice(0, 12)}.php`);
const planted = '<?php echo "false\\n"; // someone else\'s code';

describe('the SDK file', () => {
  let saved: string | undefined;
  let tmp: string;
  beforeEach(() => {
    saved = process.env.TMPDIR;
    tmp = tempDir();
    process.env.TMPDIR = tmp;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  });

  it('is not a file someone else put at its name first', async () => {
    writeFileSync(oldPath(tmp), planted);
    const path = await sdkPath();
    assert.equal(readFileSync(path, 'utf8'), WSGATE_PHP);
  });

  it('is in a folder only wsgate\'s user may write to', { skip: process.getuid === undefined }, async () => {
    chmodSync(tmp, 0o1777); // as /tmp is
    const folder = lstatSync(dirname(await sdkPath()));
    assert.equal(folder.isDirectory(), true);
    assert.equal(folder.uid, process.getuid!());
    assert.equal(folder.mode & 0o077, 0, 'no one else may write (or read) there');
  });

  it('is written again when a crash left it cut short', async () => {
    const path = await sdkPath();
    writeFileSync(path, WSGATE_PHP.slice(0, 100));
    assert.equal(await sdkPath(), path);
    assert.equal(readFileSync(path, 'utf8'), WSGATE_PHP);
  });

  it('is not in a folder of its name that another user made first', { skip: process.getuid?.() !== 0 && 'needs root to make a folder of another user' }, async () => {
    chmodSync(tmp, 0o1777);
    const first = dirname(await sdkPath());
    assert.notEqual(first, tmp, 'the SDK is straight in the shared temp folder');
    // Another user made the folder before wsgate ever ran (here: root gives it to nobody) and put the file in it.
    const other = tempDir();
    chmodSync(other, 0o1777);
    process.env.TMPDIR = other;
    const squatted = join(other, first.slice(tmp.length + 1));
    mkdirSync(squatted);
    writeFileSync(join(squatted, 'x'), '');
    chmodSync(squatted, 0o777);
    chownSync(squatted, 65534, 65534);
    const path = await sdkPath();
    assert.ok(!path.startsWith(`${squatted}/`), `${path} is in a folder another user owns`);
    assert.equal(readFileSync(path, 'utf8'), WSGATE_PHP);
  });
});
