/**
 * The `token` cookie, read as the old servers read it: the last `token=`
 * pair wins, its value URL-decoded. Undefined when absent, empty or malformed.
 */
export function tokenFromCookie(header: string | null | undefined, name = 'token'): string | undefined {
  if (!header) return undefined;
  let raw: string | undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) raw = part.slice(eq + 1).trim();
  }
  if (!raw) return undefined;
  try {
    return decodeURIComponent(raw) || undefined;
  } catch {
    return undefined;
  }
}
