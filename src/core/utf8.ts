/** What text weighs on the wire. */

/** UTF-8 length without encoding: what a frame weighs on the wire. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff) {
      // A pair is 4 bytes for its 2 units; a lone surrogate (JSON's "\ud800" makes them) goes out as U+FFFD, 3 bytes, like any unit from 0x800.
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * `text` with each lone UTF-16 surrogate (JSON's "\ud800" makes them out of
 * a peer's text) replaced by U+FFFD, as it would go out in UTF-8 anyway:
 * written into JSON for PHP it stays a "\ud800" escape, and PHP's
 * json_decode() refuses the whole document that holds one.
 */
export function wellFormed(text: string): string {
  return hasLoneSurrogate(text) ? text.replace(LONE_SURROGATES, '\uFFFD') : text;
}

/** Whether `text` holds a UTF-16 surrogate without its other half (none has a UTF-8 form). */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** In unicode mode a pair is one code point: only a surrogate alone matches. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const LONE_SURROGATES = /[\uD800-\uDFFF]/gu;
