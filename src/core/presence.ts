/** Who is in a channel, as GET /presence and a client's own presence request say it: tokens only as their sha256. */
export interface Presence {
  sockets: number;
  tokens: Record<string, number>;
  members: Array<{ socket: string; token: string; info?: unknown }>;
}
