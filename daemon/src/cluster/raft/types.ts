/**
 * Types of the election and replication core (Raft with pre-vote, check-quorum, leader
 * stickiness, learners and single-server membership changes).
 *
 * The core is pure: no timers, no I/O. The driver feeds it time (`now`, ms), incoming
 * messages and proposals, then drains a Ready, persists it, sends its messages, applies its
 * committed entries and calls advance(). See node.ts for the driver's loop.
 */

export interface Member {
  id: string;
  /** Voters elect and count for quorum; learners (voter: false) only receive the log. */
  voter: boolean;
  address?: string;
  peerPort?: number;
  mqttPort?: number;
}

export interface ClusterConfig {
  members: Member[];
}

export type EntryType = 'ops' | 'noop' | 'config';

/** One log entry. `config` entries carry a ClusterConfig as data. */
export interface LogEntry {
  index: number;
  term: number;
  type: EntryType;
  data?: unknown;
  /** The leader's clock when it was proposed (ms). */
  time?: number;
}

/** What must be on disk before a vote or a term is acted upon. */
export interface HardState {
  term: number;
  votedFor?: string;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  /** The configuration in effect at `index`. */
  config: ClusterConfig;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: unknown;
}

/** What the state machine hands the core when a follower needs a snapshot; term and config are filled by the core. */
export interface SnapshotSourceResult {
  meta: { index: number; term?: number; config?: ClusterConfig };
  data: unknown;
}

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

export interface SoftState {
  role: Role;
  term: number;
  leader?: string;
  /** A leader that committed an entry of its own term (its noop): it may serve now. */
  leaderReady: boolean;
}

interface MessageBase {
  term: number;
  from: string;
  to: string;
}

/** "Could I win an election at `term`?" (term = the sender's term + 1; the sender's term is unchanged). */
export interface PreVoteMessage extends MessageBase {
  type: 'preVote';
  lastIndex: number;
  lastTerm: number;
}

export interface PreVoteResponse extends MessageBase {
  type: 'preVoteResp';
  granted: boolean;
}

export interface VoteMessage extends MessageBase {
  type: 'vote';
  lastIndex: number;
  lastTerm: number;
  /** Set for a campaign started by TimeoutNow (leadership transfer): overrides leader stickiness. */
  transfer?: boolean;
}

export interface VoteResponse extends MessageBase {
  type: 'voteResp';
  granted: boolean;
}

/** Log replication; with no entries it is the heartbeat. */
export interface AppendMessage extends MessageBase {
  type: 'append';
  prevIndex: number;
  prevTerm: number;
  entries: LogEntry[];
  commit: number;
}

export interface AppendResponse extends MessageBase {
  type: 'appendResp';
  success: boolean;
  /** On success the last index known to match the leader's log; on failure the rejected prevIndex. */
  index: number;
  /** On failure: the follower's guess of the last matching entry (fast backtracking). */
  hintIndex?: number;
  hintTerm?: number;
}

/** The whole snapshot in one message. */
export interface SnapshotMessage extends MessageBase {
  type: 'snapshot';
  snapshot: Snapshot;
}

export interface SnapshotResponse extends MessageBase {
  type: 'snapshotResp';
  /** The follower's commit index after handling the snapshot. */
  index: number;
}

/** Leadership transfer: "start an election now, without pre-vote". */
export interface TimeoutNowMessage extends MessageBase {
  type: 'timeoutNow';
}

export type RaftMessage =
  | PreVoteMessage
  | PreVoteResponse
  | VoteMessage
  | VoteResponse
  | AppendMessage
  | AppendResponse
  | SnapshotMessage
  | SnapshotResponse
  | TimeoutNowMessage;

export type RaftMessageType = RaftMessage['type'];

/**
 * The output accumulated since the last ready(). The driver handles the fields in this order:
 * persist hardState, snapshot, truncateFrom, entries (one fsync is enough, but all of it before
 * the next step); then send messages; then load applySnapshot and apply committed; then call
 * advance(rd). If persisting fails, it sends and applies nothing of rd and calls persistFailed(rd).
 */
export interface Ready {
  /** Persist (fsync) first when present. */
  hardState?: HardState;
  /**
   * Received from the leader: persist it. It replaces the whole log (our entry at meta.index did
   * not match the leader's, so none of ours can be kept; truncateFrom = meta.index + 1 comes with it).
   */
  snapshot?: Snapshot;
  /** Then drop persisted entries with index >= truncateFrom (entries that are not on disk: nothing to do). */
  truncateFrom?: number;
  /** Then append these (consecutive indexes). */
  entries: LogEntry[];
  /** Send only after the above are durable. */
  messages: RaftMessage[];
  /** The state machine loads this first. */
  applySnapshot?: Snapshot;
  /** Then applies these, in index order (each exactly once per process lifetime). */
  committed: LogEntry[];
  /** When role, term, leader or leaderReady changed since the last ready(). */
  softState?: SoftState;
  /** Own proposals that will never commit as such: dropped after persistFailed, or another entry committed at their index. */
  dropped?: Array<{ index: number; term: number }>;
}

/** What the disk holds when the node starts (after a restart, or from bootstrap()). */
export interface InitialState {
  hardState: HardState;
  snapshot?: SnapshotMeta;
  /** Entries after the snapshot, consecutive. */
  entries: LogEntry[];
  /** The index the state machine already reflects (default snapshot.index): entries up to it are not delivered again. */
  applied?: number;
}

export interface RaftNodeOptions {
  id: string;
  /** A float in [0, 1) (election timeout jitter). */
  random: () => number;
  /** Base election timeout T: the actual one is uniform in [T, 2T). Default 800. */
  electionTimeoutMs?: number;
  /** Default 100. */
  heartbeatMs?: number;
  /** Default true. */
  preVote?: boolean;
  /** Default true. */
  checkQuorum?: boolean;
  /** What the disk holds (RaftNode.bootstrap() for a brand-new fleet, an empty log for a joiner). */
  initial: InitialState;
  /** The state machine's current state at its applied index (meta.term and meta.config are filled by the core). */
  snapshotSource: () => SnapshotSourceResult;
  /** Default 64. */
  maxEntriesPerAppend?: number;
  /** Estimated by JSON length; default 256 KiB (one entry is always sent). */
  maxBytesPerAppend?: number;
  /** Appends in flight to one follower; default 16. */
  maxInflightAppends?: number;
  /**
   * The driver appends a Ready's entries all or nothing (a failed append leaves none of them on
   * disk, as state/log.ts does: it cuts the file back and checks it). The only voter of a fleet
   * then stays leader after a failed append (nobody else holds or was sent the dropped entries)
   * instead of leaving its fleet without one. Default false: a leader always steps down.
   */
  atomicAppend?: boolean;
  /** The time at construction; when omitted, timers start at the first call that passes `now`. */
  now?: number;
}

export interface PeerStatus {
  match: number;
  next: number;
  voter: boolean;
  /** Replication state (leader only). */
  state?: 'probe' | 'replicate' | 'snapshot';
  /** Ms since the last message from it (leader only). */
  lastContactMs?: number;
}

export interface RaftStatus {
  id: string;
  role: Role;
  term: number;
  leader: string | undefined;
  leaderReady: boolean;
  votedFor: string | undefined;
  commitIndex: number;
  appliedIndex: number;
  firstIndex: number;
  lastIndex: number;
  lastTerm: number;
  config: ClusterConfig | undefined;
  /** The config entry is not committed yet. */
  configPending: boolean;
  /** The target of a leadership transfer in progress. */
  transferringTo: string | undefined;
  peers: Record<string, PeerStatus>;
}

// ---- errors ----

export class RaftError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'RaftError';
  }
}

/** Proposals go to the leader; `leader` is the hint (undefined when unknown). */
export class NotLeaderError extends RaftError {
  constructor(readonly leader: string | undefined, readonly term: number) {
    super(leader ? `not the leader; the leader is ${leader} (term ${term})` : `not the leader, and no leader is known (term ${term})`, 'NOT_LEADER');
    this.name = 'NotLeaderError';
  }
}

/** A configuration change that cannot be proposed now (pending change, leader not ready) or is invalid. */
export class ConfigChangeError extends RaftError {
  constructor(message: string, readonly reason: 'pending' | 'not-ready' | 'invalid' | 'too-many-changes') {
    super(message, 'CONFIG_CHANGE');
    this.name = 'ConfigChangeError';
  }
}

/** The leader refuses a proposal for now (leadership transfer in progress, data not serializable). */
export class ProposalDroppedError extends RaftError {
  constructor(message: string) {
    super(message, 'PROPOSAL_DROPPED');
    this.name = 'ProposalDroppedError';
  }
}

export class LeadershipTransferError extends RaftError {
  constructor(message: string) {
    super(message, 'TRANSFER');
    this.name = 'LeadershipTransferError';
  }
}
