/**
 * The plain-PHP SDK travels inside wsgate; PHP needs it as a file. It is
 * written once per content (the name carries its hash) to the temp folder.
 */
import { sha256Hex } from '../../core/ids.ts';
import { WSGATE_PHP } from './wsgate-php.ts';

export interface SdkIO {
  tempDir(): string;
  isFile(path: string): Promise<boolean>;
  writeTextFile(path: string, text: string): Promise<void>;
}

export async function sdkPath(io: SdkIO): Promise<string> {
  const path = `${io.tempDir().replace(/\/$/, '')}/wsgate-sdk-${sha256Hex(WSGATE_PHP).slice(0, 12)}.php`;
  if (!(await io.isFile(path))) {
    // Write then rename would need one more runtime call; a partial file is rewritten by the next start.
    await io.writeTextFile(path, WSGATE_PHP);
  }
  return path;
}

export { WSGATE_PHP };
