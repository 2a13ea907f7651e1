/**
 * What only a leader has: per-peer replication progress, heartbeats, flow control, snapshot
 * sends, commit counting and leadership transfer. It lives only while its node leads, and
 * talks to the node through the narrow LeaderHost interface.
 */
import type { ConfigAt, RaftLog } from './log.js';
import { Progress } from './progress.js';
import type { AppendResponse, LogEntry, RaftMessage, Snapshot, SnapshotResponse, SnapshotSourceResult } from './types.js';
import { isIndex } from './validate.js';

export interface LeaderHost {
  readonly id: string;
  readonly term: number;
  readonly commit: number;
  readonly now: number;
  readonly log: RaftLog;
  send(m: RaftMessage): void;
  /** The state machine's snapshot with meta filled in, or undefined when none can be had now. */
  snapshot(): Snapshot | undefined;
}

export interface LeaderLimits {
  electionTimeoutMs: number;
  heartbeatMs: number;
  maxEntriesPerAppend: number;
  maxBytesPerAppend: number;
  maxInflightAppends: number;
}

export function voterIds(cfg: ConfigAt | undefined): string[] {
  return cfg ? cfg.config.members.filter((m) => m.voter).map((m) => m.id) : [];
}

export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** The outcome of an election among `voters` so far (votes of others are not counted). */
export function countVotes(voters: string[], votes: ReadonlyMap<string, boolean>): 'won' | 'lost' | 'pending' {
  let yes = 0;
  let no = 0;
  for (const v of voters) {
    const g = votes.get(v);
    if (g === true) yes++;
    else if (g === false) no++;
  }
  const q = quorum(voters.length);
  return yes >= q ? 'won' : no > voters.length - q ? 'lost' : 'pending';
}

/** The state machine's snapshot for a follower, with meta filled in from the log; undefined when none fits. */
export function snapshotAt(log: RaftLog, commit: number, source: () => SnapshotSourceResult): Snapshot | undefined {
  let src: SnapshotSourceResult;
  try {
    src = source();
  } catch {
    return undefined;
  }
  const index = src?.meta?.index;
  const term = isIndex(index) ? log.term(index) : undefined;
  const cfg = isIndex(index) ? log.configAt(index) : undefined;
  if (!isIndex(index) || index < 1 || index < log.snapIndex || index > commit || term === undefined || !cfg) return undefined;
  return { meta: { index, term, config: cfg.config }, data: src.data };
}

export class LeaderState {
  readonly progress = new Map<string, Progress>();
  /** Index of the noop this leader appended when elected. */
  termStart = 0;
  heartbeatDue: number;
  transferee: string | undefined;
  transferDeadline = 0;

  constructor(private readonly host: LeaderHost, private readonly limits: LeaderLimits) {
    this.heartbeatDue = host.now + limits.heartbeatMs;
  }

  /** Track exactly the members of cfg; new ones start probing at `next` (the entry that added them). */
  syncMembers(cfg: ConfigAt | undefined, next: number): void {
    const ids = new Set((cfg?.config.members ?? []).map((m) => m.id));
    ids.delete(this.host.id);
    for (const id of this.progress.keys()) if (!ids.has(id)) this.progress.delete(id);
    for (const id of ids) if (!this.progress.has(id)) this.progress.set(id, new Progress(Math.max(1, next), this.host.now));
    if (this.transferee && !this.progress.has(this.transferee)) this.transferee = undefined;
  }

  /** Restart the timers' reference point (the node learned the time only now). */
  restartClock(now: number): void {
    this.heartbeatDue = now;
    for (const pr of this.progress.values()) pr.lastContact = now;
  }

  /**
   * Send `to` what it needs: entries when the flow control allows, an empty append when
   * `heartbeat` (to carry the commit index and probe), a snapshot when its next entry was
   * compacted away. True when entries (or a snapshot) went out.
   */
  sendAppend(to: string, heartbeat: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr) return false;
    const { host, limits } = this;
    const log = host.log;
    if (pr.state === 'snapshot') {
      if (!heartbeat || host.now - pr.snapshotSentAt < limits.electionTimeoutMs) return false;
      pr.becomeProbe(); // the snapshot or its answer was lost: start over
    }
    if (heartbeat) {
      if (pr.state === 'probe') pr.probeSent = false;
      else if (pr.paused(limits.maxInflightAppends)) pr.becomeProbe(); // a full pipeline for a whole heartbeat: assume losses
    }
    if (pr.next > log.lastIndex + 1) pr.next = log.lastIndex + 1;
    const prevIndex = pr.next - 1;
    const prevTerm = log.term(prevIndex);
    if (prevTerm === undefined) return this.#sendSnapshot(to, pr);
    let entries: LogEntry[] = [];
    if (!pr.paused(limits.maxInflightAppends)) entries = log.slice(pr.next, log.lastIndex + 1, limits.maxEntriesPerAppend, limits.maxBytesPerAppend);
    if (!entries.length && !heartbeat) return false;
    host.send({ type: 'append', term: host.term, from: host.id, to, prevIndex, prevTerm, entries, commit: host.commit });
    if (entries.length) pr.sent(entries[entries.length - 1].index);
    return entries.length > 0;
  }

  #sendSnapshot(to: string, pr: Progress): boolean {
    const snapshot = this.host.snapshot();
    if (!snapshot) return false;
    this.host.send({ type: 'snapshot', term: this.host.term, from: this.host.id, to, snapshot });
    pr.becomeSnapshot(snapshot.meta.index, this.host.now);
    return true;
  }

  /** New entries: offer them to every peer whose flow control allows. */
  broadcast(): void {
    for (const id of this.progress.keys()) this.sendAppend(id, false);
  }

  heartbeat(): void {
    this.heartbeatDue = this.host.now + this.limits.heartbeatMs;
    for (const id of this.progress.keys()) this.sendAppend(id, true);
  }

  /** Fill the pipeline to `to` (bounded by the in-flight limit). */
  #fill(to: string): void {
    for (let i = 0; i <= this.limits.maxInflightAppends && this.sendAppend(to, false); i++) { /* keep sending */ }
  }

  /** An append or snapshot response at our term. True when the peer's match index grew. */
  handleResponse(m: AppendResponse | SnapshotResponse): boolean {
    const pr = this.progress.get(m.from);
    if (!pr) return false;
    const log = this.host.log;
    pr.lastContact = this.host.now;
    if (m.type === 'snapshotResp' || m.success) {
      const grew = pr.maybeUpdate(Math.min(m.index, log.lastIndex));
      if (pr.state === 'snapshot') {
        if (pr.match >= pr.snapshotIndex) pr.becomeReplicate();
      } else if (pr.state === 'probe') {
        pr.becomeReplicate();
      }
      if (this.transferee === m.from && pr.match === log.lastIndex) this.#timeoutNow(m.from);
      this.#fill(m.from);
      return grew;
    }
    const hintIndex = m.hintIndex ?? 0;
    const hintTerm = m.hintTerm ?? 0;
    const guess = hintTerm > 0 ? log.findConflictByTerm(hintIndex, hintTerm).index : hintIndex;
    if (pr.maybeDecrTo(m.index, guess + 1)) this.sendAppend(m.from, false);
    return false;
  }

  /** The highest index stored on a majority of voters (our own entries count once persisted). */
  quorumIndex(voters: string[]): number {
    const matches = voters.map((v) => (v === this.host.id ? this.host.log.stable : this.progress.get(v)?.match ?? 0));
    matches.sort((a, b) => b - a);
    return matches[quorum(voters.length) - 1] ?? 0;
  }

  /** When the voters' majority contact goes stale (check-quorum), counting ourselves as fresh. */
  quorumExpiry(voters: string[]): number {
    const times = voters.map((v) => (v === this.host.id ? Infinity : this.progress.get(v)?.lastContact ?? -Infinity));
    times.sort((a, b) => b - a);
    return (times[quorum(voters.length) - 1] ?? -Infinity) + this.limits.electionTimeoutMs;
  }

  /** The voter (other than us) with the highest match index. */
  bestVoter(voters: string[]): string | undefined {
    let best: string | undefined;
    let bestMatch = -1;
    for (const v of voters) {
      const pr = this.progress.get(v);
      if (v !== this.host.id && pr && pr.match > bestMatch) {
        best = v;
        bestMatch = pr.match;
      }
    }
    return best;
  }

  /** Hand leadership to `to`: TimeoutNow once its log is complete. */
  transfer(to: string): void {
    this.transferee = to;
    this.transferDeadline = this.host.now + this.limits.electionTimeoutMs;
    const pr = this.progress.get(to);
    if (pr && pr.match === this.host.log.lastIndex) this.#timeoutNow(to);
    else this.sendAppend(to, true);
  }

  /** Tell `to` to campaign now when its log is complete (used when stepping down after removal). */
  handOff(to: string | undefined): void {
    const pr = to ? this.progress.get(to) : undefined;
    if (to && pr && pr.match === this.host.log.lastIndex) this.#timeoutNow(to);
  }

  #timeoutNow(to: string): void {
    this.host.send({ type: 'timeoutNow', term: this.host.term, from: this.host.id, to });
  }
}
