/**
 * The certificate and key must be readable PEM and belong together: checked at
 * start and at every reload, so a bad renewal fails the reload and the running
 * certificate stays. (node:crypto parses them the same on Bun, Deno and Node.)
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { ConfigIO } from './types.ts';

const BEGIN_CERTIFICATE = '-----BEGIN CERTIFICATE-----';
const BEGIN_PRIVATE_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

export async function tlsProblems(tls: { cert: string; key: string }, where: string, io: ConfigIO): Promise<string[]> {
  const problems: string[] = [];
  const read = async (field: 'cert' | 'key'): Promise<string | undefined> => {
    const file = tls[field];
    if (!(await io.isFile(file))) {
      problems.push(`${where}: tls.${field}: expected an existing file, but ${file} does not exist`);
      return undefined;
    }
    try {
      return await io.readTextFile(file);
    } catch (error) {
      problems.push(`${where}: tls.${field}: cannot read ${file}: ${(error as Error).message}`);
      return undefined;
    }
  };
  const certText = await read('cert');
  const keyText = await read('key');
  let cert: X509Certificate | undefined;
  if (certText !== undefined) {
    if (!certText.includes(BEGIN_CERTIFICATE)) problems.push(`${where}: tls.cert: expected a PEM certificate chain ("${BEGIN_CERTIFICATE}"), but ${tls.cert} holds none`);
    else {
      try {
        cert = new X509Certificate(certText);
      } catch (error) {
        problems.push(`${where}: tls.cert: ${tls.cert} does not hold a valid certificate: ${(error as Error).message}`);
      }
    }
  }
  let key: ReturnType<typeof createPrivateKey> | undefined;
  if (keyText !== undefined) {
    if (!BEGIN_PRIVATE_KEY.test(keyText)) problems.push(`${where}: tls.key: expected a PEM private key ("-----BEGIN PRIVATE KEY-----"), but ${tls.key} holds none`);
    else if (keyText.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(keyText)) {
      problems.push(`${where}: tls.key: ${tls.key} is encrypted with a passphrase, which wsgate cannot ask for: give it the key unencrypted (openssl pkey -in key.pem -out key-plain.pem), readable by wsgate's user only`);
    } else {
      try {
        key = createPrivateKey(keyText);
      } catch (error) {
        problems.push(`${where}: tls.key: ${tls.key} does not hold a usable private key: ${(error as Error).message}`);
      }
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) {
    problems.push(`${where}: tls.key: ${tls.key} is not the private key of the certificate in tls.cert (${tls.cert}); give the key that was issued with it`);
  }
  return problems;
}
