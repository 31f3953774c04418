/**
 * What one node asks of all (its own included): the requests the bridge and
 * hooks make, as every node applies them to its own sockets. The Redis
 * broker carries them between nodes (src/cluster/messages.ts checks them
 * on the way in); a node alone applies them where it is.
 */
import type { Position } from './history/history.ts';
import type { Selection } from './targets.ts';

/** A cast: `frame` is the JSON text, serialised once by the node that took it. */
export interface CastRequest {
  t: 'cast';
  host: string;
  selection: Selection;
  frame: string;
  except?: string;
  /** Where the broker numbered it, for streams with history. */
  position?: Position;
  /** Reaches the channel's sockets but is not of its history (a Pusher client's event on a cache channel). */
  unkept?: true;
}

/** A join or leave event, cast to a channel's members as it is (no history, no envelope). */
export interface PresenceEventRequest {
  t: 'presenceEvent';
  host: string;
  channel: string;
  frame: string;
  except: string;
}

/** What reaches sockets: a cast or a presence event. */
export type Publication = CastRequest | PresenceEventRequest;

export type NodeRequest =
  | Publication
  | { t: 'subscribe'; host: string; selection: Selection; channel: string; join: boolean }
  | { t: 'disconnect'; host: string; selection: Selection; code: number; reason: string }
  | { t: 'presence'; host: string; channel: string }
  /** Sockets per occupied channel of a host: those named `prefix`..., or the one `channel`. */
  | { t: 'channels'; host: string; prefix?: string; channel?: string }
  | { t: 'health' }
  /** A token's last socket on the sender closed, on a host that replays: every node keeps what would have reached it. */
  | { t: 'replayLeft'; host: string; token: string; channels: string[] }
  /** A socket of the token opened (or was still open) on the sender: nobody keeps its frames any longer. */
  | { t: 'replayBack'; host: string; token: string }
  /** A node that joins asks the others what they keep for gone tokens. */
  | { t: 'replaySync'; sync: string };
