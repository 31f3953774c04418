/**
 * Splits a byte stream into text lines as they complete. Every runtime hands
 * a child's stdout over in arbitrary chunks; this is the one place that turns
 * them into lines, and the one place that bounds how long a line may grow:
 * a child that prints without a newline would otherwise be buffered without
 * end and go out as one huge frame.
 */

/** Thrown by push() or end() when a line grows past the splitter's maximum. */
export class LineTooLong extends Error {
  constructor(readonly limit: number) {
    super(`a line of output is longer than ${limit} bytes`);
  }
}

const NEWLINE = 10;

export class LineSplitter {
  readonly #decoder = new TextDecoder();
  /** Bytes of the line not yet complete: split on bytes, as 0x0A never occurs inside a UTF-8 character. */
  #rest: Uint8Array[] = [];
  #restBytes = 0;

  /** `maxLine`: bytes a line may have, its \n not counted; a longer one throws LineTooLong. */
  constructor(readonly maxLine = Number.POSITIVE_INFINITY) {}

  /** Feeds a chunk; calls `onLine` for each line it completes (without \n or \r\n). Throws LineTooLong. */
  push(chunk: Uint8Array, onLine: (line: string) => void): void {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl >= 0) {
      onLine(this.#take(chunk.subarray(start, nl)));
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      this.#restBytes += tail.length;
      // Checked before keeping it: what is over the bound is never held (one byte more may be the \r of a \r\n).
      if (this.#restBytes > this.maxLine + 1) throw this.#tooLong();
      // A copy: a runtime may reuse the chunk's buffer for the next read.
      this.#rest.push(tail.slice());
    }
  }

  /** Flushes the last, unterminated line if any. Throws LineTooLong. */
  end(onLine: (line: string) => void): void {
    if (this.#restBytes === 0) return;
    onLine(this.#take(new Uint8Array(0)));
  }

  /** The line made of what was kept and `last`, with a trailing \r dropped; empties the rest. */
  #take(last: Uint8Array): string {
    const size = this.#restBytes + last.length;
    let bytes = last;
    if (this.#rest.length > 0) {
      bytes = new Uint8Array(size);
      let at = 0;
      for (const part of this.#rest) {
        bytes.set(part, at);
        at += part.length;
      }
      bytes.set(last, at);
      this.#rest = [];
      this.#restBytes = 0;
    }
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    if (end > this.maxLine) throw this.#tooLong();
    return this.#decoder.decode(bytes.subarray(0, end));
  }

  #tooLong(): LineTooLong {
    this.#rest = [];
    this.#restBytes = 0;
    return new LineTooLong(this.maxLine);
  }
}
