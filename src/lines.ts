/**
 * Splits a byte stream into text lines as they complete. Every runtime hands
 * a child's stdout over in arbitrary chunks; this is the one place that turns
 * them into lines.
 */
export class LineSplitter {
  readonly #decoder = new TextDecoder();
  #rest = '';

  /** Feeds a chunk; calls `onLine` for each line it completes (without \n or \r\n). */
  push(chunk: Uint8Array, onLine: (line: string) => void): void {
    const text = this.#rest + this.#decoder.decode(chunk, { stream: true });
    let start = 0;
    let nl = text.indexOf('\n', start);
    while (nl >= 0) {
      onLine(text.charCodeAt(nl - 1) === 13 ? text.slice(start, nl - 1) : text.slice(start, nl));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    this.#rest = text.slice(start);
  }

  /** Flushes the last, unterminated line if any. */
  end(onLine: (line: string) => void): void {
    const text = this.#rest + this.#decoder.decode();
    this.#rest = '';
    if (text) onLine(text.endsWith('\r') ? text.slice(0, -1) : text);
  }
}
