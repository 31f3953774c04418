/**
 * Paths in the config are relative to the config file. Plain string work, not
 * node:path: the result must not depend on the platform the gateway runs on.
 */

export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '.') : path.slice(0, i);
}

export function resolvePath(path: string, base: string): string {
  if (path.startsWith('/')) return path;
  const joined = `${base.replace(/\/$/, '')}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.' && part !== '') parts.push(part);
  }
  return `/${parts.join('/')}`;
}
