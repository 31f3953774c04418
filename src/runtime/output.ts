/**
 * A child's stdout or stderr as Bun and Deno give it (a ReadableStream), read
 * through one reader that `close()` cancels. Iterating the stream itself
 * would lock it for good: nothing could then stop a read that waits on a
 * pipe some process outside the hook's group still holds, and wsgate's end
 * of it would stay open as long as that process lives.
 */
export interface ClosableOutput {
  chunks: AsyncIterable<Uint8Array>;
  /** Ends the read under way (the iteration ends) and closes wsgate's end of the pipe. */
  close(): void;
}

export function closableOutput(stream: ReadableStream<Uint8Array>): ClosableOutput {
  const reader = stream.getReader();
  return {
    chunks: {
      async *[Symbol.asyncIterator]() {
        let ended = false;
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if ((ended = done)) return;
            yield value;
          }
        } finally {
          // Left early (a reader that threw, a break): cancelled, as the stream's own iterator does.
          if (!ended) void reader.cancel().catch(() => {});
        }
      },
    },
    // Rejects only when the stream already failed, whose read has told the reader so.
    close: () => void reader.cancel().catch(() => {}),
  };
}
