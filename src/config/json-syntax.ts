/**
 * Where a config file stops being JSON, said without quoting it. The
 * engines' own messages quote the file: V8 (Node, Deno) the text around the
 * mistake, JavaScriptCore (Bun) the whole unexpected word. An unquoted
 * secret would go into stderr, the log and POST /reload's answer. So when
 * JSON.parse fails, the text is walked again here for the line, the column
 * and what was expected there, the same on every runtime.
 */

type Expecting = 'value' | 'key' | 'after';

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD = /true|false|null/y;
const ESCAPED = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

/** The first mistake as `line L, column C: what`; undefined if none is found (the engine and this walk disagree). */
export function jsonSyntaxProblem(text: string): string | undefined {
  let i = 0;
  const at = (what: string): string => {
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    return `line ${line}, column ${i - before.lastIndexOf('\n')}: ${what}`;
  };
  const ended = () => at('the text ends before the JSON does');
  /** Past a string's closing quote, or what is wrong inside it (i left on the culprit). */
  const string = (): string | undefined => {
    i++;
    while (i < text.length) {
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        i++;
        return undefined;
      }
      if (code < 0x20) return at('a control character (a tab or line break) inside a string: write it as \\t or \\n');
      if (code !== 0x5c) {
        i++;
        continue;
      }
      const next = text[i + 1];
      if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
      else if (next !== undefined && ESCAPED.has(next)) i += 2;
      else return next === undefined ? ended() : at('a backslash that starts no escape (write \\\\ for a backslash)');
    }
    return ended();
  };
  const token = (pattern: RegExp): boolean => {
    pattern.lastIndex = i;
    if (!pattern.test(text)) return false;
    i = pattern.lastIndex;
    return true;
  };
  // Containers open on a stack rather than by recursion: a file of a million '[' must not overflow the call stack.
  const open: Array<'{' | '['> = [];
  let expecting: Expecting = 'value';
  for (;;) {
    while (i < text.length && WHITESPACE.has(text[i]!)) i++;
    const c = text[i];
    if (expecting === 'after') {
      const top = open.at(-1);
      if (top === undefined) return i < text.length ? at('more text after the JSON value ended') : undefined;
      const close = top === '{' ? '}' : ']';
      if (c === ',') {
        i++;
        expecting = top === '{' ? 'key' : 'value';
      } else if (c === close) {
        i++;
        open.pop();
      } else return c === undefined ? ended() : at(`expected ',' or '${close}'`);
      continue;
    }
    if (c === undefined) return ended();
    if (expecting === 'key') {
      if (c !== '"') return at('expected a property name in double quotes');
      const problem = string();
      if (problem) return problem;
      while (i < text.length && WHITESPACE.has(text[i]!)) i++;
      if (text[i] !== ':') return text[i] === undefined ? ended() : at("expected ':' after the property name");
      i++;
      expecting = 'value';
      continue;
    }
    if (c === '{' || c === '[') {
      i++;
      while (i < text.length && WHITESPACE.has(text[i]!)) i++;
      if (text[i] === (c === '{' ? '}' : ']')) {
        i++;
        expecting = 'after';
      } else {
        open.push(c);
        expecting = c === '{' ? 'key' : 'value';
      }
      continue;
    }
    if (c === '"') {
      const problem = string();
      if (problem) return problem;
    } else if (!token(NUMBER) && !token(WORD)) {
      return at('expected a value: a string in double quotes, a number, true, false, null, an object or an array');
    }
    expecting = 'after';
  }
}
