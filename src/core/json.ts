/**
 * JSON from peers (clients, hooks, workers, bridge callers, Redis), parsed
 * with a bound on nesting. JSON.parse takes any depth, but JSON.stringify
 * and every walk of the value recurse: a 400 KB frame of `[[[...]]]`
 * parses, then overflows the stack wherever the value is written out again
 * (a frame to other sockets, a presence list, a log line), far from the
 * input that caused it. So a text nested deeper than MAX_JSON_DEPTH is
 * refused where it comes in, with a clear reason, and what is taken can be
 * written out anywhere.
 */

/** Deeper than any payload an app sends, and far from where the engines' recursion gives out (thousands). */
export const MAX_JSON_DEPTH = 256;

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const OPEN_BRACKET = 91;
const CLOSE_BRACE = 125;
const CLOSE_BRACKET = 93;

/** Whether a JSON text nests arrays and objects deeper than `max` (strings are skipped; an invalid text is left to JSON.parse). */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/**
 * A value as JSON text, or undefined when it cannot be written out (a
 * cycle, or nesting deep enough that JSON.stringify's recursion throws):
 * for values that came from peers, whose errors must not reach the runtime.
 */
export function jsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** What refusing such a text says. */
export const TOO_DEEP = `JSON nested more than ${MAX_JSON_DEPTH} levels deep`;

/** A peer's JSON text parsed, or why not (not JSON, or nested too deep). */
export function parsePeerJson(text: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  if (jsonTooDeep(text)) return { ok: false, problem: TOO_DEEP };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
}
