/**
 * Config problems as people read them: the file, the field path and what was
 * expected, one line each. Valibot's issues are turned into those lines here
 * and nowhere else.
 */
import type * as v from 'valibot';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/**
 * A path for an issue raised by one of our own rules, relative to the schema
 * that raises it (valibot prepends the fields above it).
 */
export function at(...keys: [string, ...Array<string | number>]): [v.IssuePathItem, ...v.IssuePathItem[]] {
  // A number is an array's index, written [n].
  const items = keys.map((key): v.IssuePathItem => (typeof key === 'number' ? { type: 'array', origin: 'value', input: [], key, value: undefined } : { type: 'object', origin: 'value', input: {}, key, value: undefined }));
  return items as [v.IssuePathItem, ...v.IssuePathItem[]];
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function pathText(path: v.BaseIssue<unknown>['path']): string {
  let out = '';
  for (const [i, item] of (path ?? []).entries()) {
    const key = item.key;
    // A host key is quoted even when it could be bare: `hosts["a.test"]` reads as one name, and `hosts.a` would not match its neighbours.
    const hostKey = i === 1 && path![0]!.key === 'hosts';
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key) && !hostKey) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/**
 * A string as a problem may quote it: what comes before its last '@' may be
 * the user and password of a URL (a webhook's Basic auth, Redis's), and a
 * URL that does not parse cannot say where they end, so all of it goes.
 */
export const withoutCredentials = (text: string): string => text.replace(/^([A-Za-z][\w+.-]*:\/\/)?.*@/s, '$1***@');

/** Sets to *** each query option of `url` whose name `names` matches: a credential given as `?password=` or `?token=`. */
export function maskQueryOptions(url: URL, names: RegExp): void {
  for (const key of new Set(url.searchParams.keys())) if (names.test(key)) url.searchParams.set(key, '***');
}

/** Fields whose value is a credential: a problem says what kind of value it got, never the value. */
const CREDENTIAL = /secret|password/i;

/** What a value was, without what it said: `a number`, `a string of 12 characters`. */
function kindOf(input: unknown): string {
  if (typeof input === 'string') return `a string of ${input.length} characters`;
  if (Array.isArray(input)) return 'an array';
  if (input === null) return 'null';
  return typeof input === 'object' ? 'an object' : `a ${typeof input}`;
}

function describe(issue: v.BaseIssue<unknown>): string {
  // Our own rules (raw checks and transforms) write their whole sentence, "got" included.
  if (issue.type === 'raw_check' || issue.type === 'raw_transform') return issue.message;
  if (issue.type === 'strict_object' && issue.expected === 'never') return 'unknown field';
  if (issue.type === 'strict_object' && issue.received === 'undefined') return 'is required';
  const last = issue.path?.at(-1)?.key;
  // A secret written as a number or in a list would otherwise be quoted back, into stderr or a reload's answer.
  if (typeof last === 'string' && CREDENTIAL.test(last)) {
    const expected = issue.message.startsWith('Invalid type') ? `expected ${issue.expected}` : issue.message;
    return `${expected}, got ${kindOf(issue.input)}`;
  }
  // The message already says what was got ("..., got an empty string"); valibot's received is the length.
  if (issue.type === 'non_empty') return issue.message;
  // Valibot quotes a string whole: a URL written where an object belongs would bring its password along.
  const received = typeof issue.input === 'string' ? JSON.stringify(withoutCredentials(issue.input)) : issue.received;
  if (issue.message.startsWith('Invalid type') || issue.message.startsWith('Invalid key')) {
    return `expected ${issue.expected}, got ${received}`;
  }
  return `${issue.message}, got ${received}`;
}

export function issuesToProblems(where: string, issues: readonly v.BaseIssue<unknown>[]): string[] {
  return issues.map((issue) => {
    const path = pathText(issue.path);
    if (path) return `${where}: ${path}: ${describe(issue)}`;
    // A rule about the whole file names no field; a type issue at the top is said to be there.
    return issue.type === 'raw_check' || issue.type === 'raw_transform' ? `${where}: ${describe(issue)}` : `${where}: (top level): ${describe(issue)}`;
  });
}
