/**
 * The plain-PHP SDK travels inside wsgate; PHP needs it as a file, and runs
 * it as wsgate's user. So the file is one nobody else can have written: it
 * lives in a folder of wsgate's user that no one else may write to (in a
 * shared temp folder anyone could create a file of a known name first, and
 * its sticky bit would keep wsgate from replacing it), and its content is
 * checked on every use, so a file cut short by a crash is written again.
 */
import { lstat, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../core/ids.ts';
import { WSGATE_PHP } from './wsgate-php.ts';

/** This process's own folder, made when the shared one could not be trusted. */
let fallback: Promise<string> | undefined;

export async function sdkPath(): Promise<string> {
  const dir = (await ownFolder()) ?? (await (fallback ??= mkdtemp(`${tempRoot()}/wsgate-`)));
  const path = `${dir}/wsgate-sdk-${sha256Hex(WSGATE_PHP).slice(0, 12)}.php`;
  if ((await readFile(path, 'utf8').catch(() => undefined)) === WSGATE_PHP) return path;
  // A whole file or none under the name: two starts at once, or a crash mid-write, leave no half of one.
  const partial = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(partial, WSGATE_PHP, { mode: 0o600, flag: 'wx' });
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return path;
}

function tempRoot(): string {
  return tmpdir().replace(/\/$/, '');
}

/**
 * The folder kept across starts, `wsgate-<uid>` in the temp folder, when it
 * is wsgate's: a real folder (not a link) of this user, closed to others.
 * Undefined when another user made it first, or it is open to them.
 */
async function ownFolder(): Promise<string | undefined> {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const dir = `${tempRoot()}/wsgate-${uid}`;
  // Made before, by wsgate or by someone else: told apart below. Any other failure (a read-only /tmp) is the start's error.
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const info = await lstat(dir).catch(() => undefined);
  return info?.isDirectory() && info.uid === uid && (info.mode & 0o077) === 0 ? dir : undefined;
}

export { WSGATE_PHP };
