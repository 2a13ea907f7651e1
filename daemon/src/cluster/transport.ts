/**
 * The link between fleet members, as small as hashicorp/raft's Transport: fire-and-forget
 * messages between named members. Delivery is best effort: a message may be lost, delayed or
 * reordered (across reconnects); the election and replication protocol copes with that, so a
 * transport never retries a message by itself and `send` never blocks or throws.
 *
 * Two implementations: the in-memory one (memory-transport.ts: drop, delay, reorder and
 * partition for the cluster tests) and the TCP peer channel (peer.ts: authenticated with the
 * cluster token, the one the daemons use).
 */
export interface Transport<M = unknown> {
  /** This member's name. */
  readonly self: string;
  /** Queue msg for member `to`; dropped silently when `to` is unknown or unreachable. */
  send(to: string, msg: M): void;
  /** The handler of messages from (authenticated) members; one handler, set once. */
  onMessage(handler: (from: string, msg: M) => void): void;
  close(): Promise<void>;
}
