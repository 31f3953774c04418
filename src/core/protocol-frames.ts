/**
 * A cast's frame as the sockets of each protocol get it, wrapped and encoded
 * once per protocol. The selected sockets come interleaved (Pusher and
 * wsgate.js sockets in one channel): remembering only the last protocol's
 * frame, each change of protocol would wrap and encode again, a copy of the
 * whole frame per socket on Node.
 */
import type { ClientProtocol } from './protocol.ts';
import type { OutFrame, Wire } from '../runtime/types.ts';

/** The frame for a protocol's sockets; undefined: nothing for them. */
export type FrameFor = (protocol: ClientProtocol) => OutFrame | undefined;

export function framesByProtocol(frame: string, out: OutFrame, wrap: (protocol: ClientProtocol) => string | undefined, wire: Wire): FrameFor {
  let last: ClientProtocol | undefined;
  let lastFrame: OutFrame | undefined;
  // Only once the sockets speak more than one protocol.
  let made: Map<ClientProtocol, OutFrame | undefined> | undefined;
  return (protocol) => {
    if (protocol === last) return lastFrame;
    if (last !== undefined) (made ??= new Map()).set(last, lastFrame);
    last = protocol;
    if (made?.has(protocol)) return (lastFrame = made.get(protocol));
    const text = wrap(protocol);
    // A frame the protocol keeps as it is (a presence frame to wsgate.js) goes as already encoded.
    return (lastFrame = text === undefined ? undefined : text === frame ? out : wire.encode(text));
  };
}
