/**
 * What a close the app asks for may carry, from the bridge or from another
 * node over the bus: each runtime treats a code or reason outside these
 * differently (Node's ws throws, Bun puts 1005 or a code mod 65536 on the
 * wire, Deno drops the connection), so none of them reaches a runtime.
 */

/** Close codes an app may send: normal, going away, policy, try again later, and the private range. */
export const appCloseCode = (code: number): boolean => [1000, 1001, 1008, 1011, 1012, 1013].includes(code) || (Number.isInteger(code) && code >= 3000 && code <= 4999);

/** A close frame's payload is at most 125 bytes, two of them the code. */
export const closeReasonFits = (reason: string): boolean => new TextEncoder().encode(reason).byteLength <= 123;
