/**
 * The certificate pair as the listener takes it, read from the files the
 * config names (at start and at every reload), and what the log says of it.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from './config/config.ts';
import type { TlsPem } from './runtime/types.ts';

/** The certificate chain and key as the listener takes them (the config check has read them once already). */
export async function readTls(tls: NonNullable<Config['tls']>): Promise<TlsPem> {
  return { cert: await readFile(tls.cert, 'utf8'), key: await readFile(tls.key, 'utf8') };
}

/** What the log says of a certificate being served: whose it is and until when. */
export function certFields(pem: TlsPem, file: string): Record<string, string> {
  try {
    const cert = new X509Certificate(pem.cert);
    return { cert: file, subject: cert.subject.replace(/\n/g, ', '), expires: new Date(cert.validTo).toISOString() };
  } catch {
    return { cert: file };
  }
}
