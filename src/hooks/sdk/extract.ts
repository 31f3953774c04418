/**
 * The plain-PHP SDK travels inside wsgate; PHP needs it as a file. It is
 * written once per content (the name carries its hash) to the temp folder.
 */
import { stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { sha256Hex } from '../../core/ids.ts';
import { WSGATE_PHP } from './wsgate-php.ts';

export async function sdkPath(): Promise<string> {
  const path = `${tmpdir().replace(/\/$/, '')}/wsgate-sdk-${sha256Hex(WSGATE_PHP).slice(0, 12)}.php`;
  if (!(await stat(path).then((s) => s.isFile(), () => false))) {
    // Write then rename would need one more call; a partial file is rewritten by the next start.
    await writeFile(path, WSGATE_PHP);
  }
  return path;
}

export { WSGATE_PHP };
