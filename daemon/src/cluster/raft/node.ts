/**
 * RaftNode: the pure election and replication state machine of one fleet member.
 *
 * No timers, no clock, no randomness of its own, no I/O: time comes in as `now` (ms) on every
 * call, randomness from the injected `random`. Inputs (tick, step, propose, ...) change state;
 * the driver then drains the output, one Ready at a time:
 *
 *   for (let rd = node.ready(); rd; rd = node.ready()) {
 *     try { await persist(rd.hardState, rd.snapshot, rd.truncateFrom, rd.entries) } // fsync
 *     catch { node.persistFailed(rd, now); continue }
 *     for (const m of rd.messages) transport.send(m.to, m);
 *     if (rd.applySnapshot) stateMachine.load(rd.applySnapshot);
 *     for (const e of rd.committed) stateMachine.apply(e);
 *     node.advance(rd, now);
 *   }
 *   // and call node.tick(now) at node.nextDeadline()
 *
 * While a Ready is outstanding (handed out, not yet advanced or failed) ready() returns
 * undefined; step() and tick() may still be called, their output waits for the next Ready.
 *
 * Raft as in the dissertation, with etcd's refinements: pre-vote, check-quorum, leader stickiness
 * (within the election timeout of hearing from its leader a follower ignores (pre)votes, except
 * for a leadership transfer), a noop opening every term, fast conflict backtracking, bounded
 * pipelined appends, snapshots, learners, single-server config changes effective when appended.
 */
import { countVotes, LeaderState, snapshotAt, voterIds, type LeaderHost } from './leader.js';
import { entrySize, RaftLog, type ConfigAt } from './log.js';
import { considersVoteRequest, mayCampaign } from './membership.js';
import { Proposals } from './proposals.js';
import { Outbox } from './ready.js';
import {
  ConfigChangeError, LeadershipTransferError, NotLeaderError, ProposalDroppedError,
  type AppendMessage, type ClusterConfig, type HardState, type LogEntry, type PeerStatus, type PreVoteMessage,
  type RaftMessage, type RaftNodeOptions, type RaftStatus, type Ready, type Role, type SnapshotMessage,
  type SnapshotMeta, type SnapshotSourceResult, type SoftState, type VoteMessage,
} from './types.js';
import { isId, isIndex, parseConfig, parseMessage } from './validate.js';

export type { RaftNodeOptions } from './types.js';

export class RaftNode {
  readonly id: string;
  readonly #random: () => number;
  readonly #T: number;
  readonly #preVote: boolean;
  readonly #checkQuorum: boolean;
  readonly #atomicAppend: boolean;
  readonly #snapshotSource: () => SnapshotSourceResult;
  readonly #limits: { electionTimeoutMs: number; heartbeatMs: number; maxEntriesPerAppend: number; maxBytesPerAppend: number; maxInflightAppends: number };
  readonly #log: RaftLog;

  #term: number;
  #votedFor: string | undefined;
  #role: Role = 'follower';
  #leader: string | undefined;
  #commit: number;
  #applied: number;

  #now = 0;
  #timeKnown = false;
  #electionDeadline = 0;
  /** When a follower last heard from its leader (leader stickiness). */
  #leaderContact = -Infinity;
  #votes = new Map<string, boolean>();
  #lead: LeaderState | undefined;
  #cfg: ConfigAt | undefined;
  #members = new Map<string, boolean>(); // id -> voter, for #cfg

  #proposals = new Proposals();
  #outbox: Outbox;

  constructor(opts: RaftNodeOptions) {
    if (!isId(opts.id)) throw new TypeError('RaftNode: id must be a non-empty string');
    this.id = opts.id;
    this.#random = opts.random;
    this.#T = opts.electionTimeoutMs ?? 800;
    this.#preVote = opts.preVote ?? true;
    this.#checkQuorum = opts.checkQuorum ?? true;
    this.#atomicAppend = opts.atomicAppend ?? false;
    this.#snapshotSource = opts.snapshotSource;
    this.#limits = {
      electionTimeoutMs: this.#T,
      heartbeatMs: opts.heartbeatMs ?? 100,
      maxEntriesPerAppend: opts.maxEntriesPerAppend ?? 64,
      maxBytesPerAppend: opts.maxBytesPerAppend ?? 256 * 1024,
      maxInflightAppends: opts.maxInflightAppends ?? 16,
    };
    const { hardState, snapshot, entries, applied } = opts.initial;
    if (!isIndex(hardState.term)) throw new RangeError('RaftNode: initial hardState.term must be a non-negative integer');
    if (snapshot && (!isIndex(snapshot.index) || !isIndex(snapshot.term) || !parseConfig(snapshot.config))) throw new RangeError('RaftNode: invalid initial snapshot meta');
    this.#log = new RaftLog(snapshot ?? { index: 0, term: 0 }, entries);
    this.#term = hardState.term;
    this.#votedFor = hardState.votedFor;
    this.#outbox = new Outbox(hardState);
    if (this.#log.lastTerm > this.#term) {
      // The disk holds entries of a term its hardState does not: never vote twice in that term.
      this.#term = this.#log.lastTerm;
      this.#votedFor = this.id;
    }
    const start = Math.max(this.#log.snapIndex, applied ?? 0);
    if (start > this.#log.lastIndex) throw new RangeError(`RaftNode: applied ${start} is beyond the last index ${this.#log.lastIndex}`);
    this.#commit = this.#applied = start;
    this.#syncConfig();
    if (opts.now !== undefined) this.#observe(opts.now);
    // A fleet of one elects itself at once.
    if (this.#canCampaign() && this.#voters().length === 1) this.#campaign('elect');
  }

  /** The disk content of a brand-new fleet: its config at index 1, term 1. */
  static bootstrap(id: string, config: ClusterConfig): { hardState: HardState; entries: LogEntry[] } {
    const cfg = parseConfig(config);
    if (!cfg || !cfg.members.some((m) => m.voter)) throw new ConfigChangeError('bootstrap: the config needs at least one voter', 'invalid');
    if (!cfg.members.some((m) => m.id === id)) throw new ConfigChangeError(`bootstrap: ${id} is not in the config`, 'invalid');
    return { hardState: { term: 1 }, entries: [{ index: 1, term: 1, type: 'config', data: cfg }] };
  }

  // ---- inputs ----

  tick(now: number): void {
    this.#observe(now);
    if (this.#lead) {
      const lead = this.#lead;
      if (this.#checkQuorum && this.#now >= lead.quorumExpiry(this.#voters())) {
        this.#becomeFollower(this.#term, undefined); // cannot reach a majority: stop leading
        return;
      }
      if (lead.transferee && this.#now >= lead.transferDeadline) lead.transferee = undefined;
      if (this.#now >= lead.heartbeatDue) lead.heartbeat();
      return;
    }
    if (this.#now >= this.#electionDeadline) {
      if (this.#canCampaign()) this.#campaign(this.#preVote ? 'pre' : 'elect');
      else this.#resetElectionTimer();
    }
  }

  /** An incoming message; anything malformed, misaddressed or unknown is ignored. */
  step(raw: unknown, now: number): void {
    const m = parseMessage(raw, this.id);
    if (!m) return;
    this.#observe(now);
    if (m.term > this.#term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        if (!this.#considers(m)) return;
        if (!(m.type === 'vote' && m.transfer) && this.#inLease()) return; // stickiness: we have a live leader
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && m.granted)) {
        // a pre-vote never changes terms; a granted answer carries the term we would campaign at
      } else {
        this.#becomeFollower(m.term, m.type === 'append' || m.type === 'snapshot' ? m.from : undefined);
      }
    } else if (m.term < this.#term) {
      if (m.type === 'append' && (this.#checkQuorum || this.#preVote)) {
        // a stale leader (or one partitioned away): tell it our term so that it steps down
        this.#send({ type: 'appendResp', term: this.#term, from: this.id, to: m.from, success: false, index: m.prevIndex, hintIndex: this.#log.lastIndex, hintTerm: this.#log.lastTerm });
      } else if (m.type === 'preVote') {
        this.#send({ type: 'preVoteResp', term: this.#term, from: this.id, to: m.from, granted: false });
      }
      return;
    }
    switch (m.type) {
      case 'preVote':
      case 'vote':
        this.#handleVoteRequest(m);
        break;
      case 'preVoteResp':
        if (this.#role === 'precandidate' && (m.granted ? m.term === this.#term + 1 : m.term === this.#term)) this.#countVote(m.from, m.granted);
        break;
      case 'voteResp':
        if (this.#role === 'candidate' && m.term === this.#term) this.#countVote(m.from, m.granted);
        break;
      case 'append':
      case 'snapshot':
        if (this.#role === 'leader') return; // two leaders in one term cannot happen
        if (this.#role !== 'follower') this.#becomeFollower(m.term, m.from);
        this.#leader = m.from;
        this.#leaderContact = this.#now;
        this.#resetElectionTimer();
        if (m.type === 'append') this.#handleAppend(m);
        else this.#handleSnapshot(m);
        break;
      case 'appendResp':
      case 'snapshotResp':
        if (this.#lead?.handleResponse(m)) this.#maybeCommit();
        this.#maybePromote();
        break;
      case 'timeoutNow':
        // from our leader (which may have just removed itself from the config) or a member
        if (this.#role !== 'leader' && (m.from === this.#leader || this.#members.has(m.from)) && this.#canCampaign()) this.#campaign('transfer');
        break;
    }
  }

  /** Append an 'ops' entry (leader only). */
  propose(data: unknown, now: number): { index: number; term: number } {
    this.#observe(now);
    this.#checkProposal();
    const e: LogEntry = { index: this.#log.lastIndex + 1, term: this.#term, type: 'ops', time: this.#now };
    if (data !== undefined) e.data = data;
    try {
      entrySize(e);
    } catch (err) {
      throw new ProposalDroppedError(`the proposal cannot be serialized (${(err as Error).message})`);
    }
    this.#appendAsLeader(e);
    this.#proposals.add(e.index, e.term);
    return { index: e.index, term: e.term };
  }

  /**
   * Append a new configuration (leader only). One change at a time: refused while a config entry
   * is uncommitted or before this leader committed an entry of its term, and when more than one
   * voter would be added or removed. Learners (voter: false) can be added and removed freely.
   */
  proposeConfig(config: ClusterConfig, now: number): { index: number; term: number } {
    this.#observe(now);
    this.#checkProposal();
    const next = parseConfig(config);
    if (!next || !next.members.some((m) => m.voter)) throw new ConfigChangeError('invalid config: it needs unique member ids and at least one voter', 'invalid');
    if (!this.#leaderReady()) throw new ConfigChangeError('the leader has not committed an entry of its term yet', 'not-ready');
    if (this.#configPending()) throw new ConfigChangeError('a configuration change is still being committed', 'pending');
    const before = new Set(voterIds(this.#cfg));
    const after = new Set(next.members.filter((m) => m.voter).map((m) => m.id));
    let changes = 0;
    for (const v of after) if (!before.has(v)) changes++;
    for (const v of before) if (!after.has(v)) changes++;
    if (changes > 1) throw new ConfigChangeError(`one voter at a time: this config changes ${changes} voters`, 'too-many-changes');
    return this.#appendConfig(next);
  }

  /**
   * Hand leadership to `to` (default: the most up-to-date voter) with TimeoutNow, e.g. before a
   * graceful shutdown. Returns the target, undefined when there is no other voter. Proposals are
   * refused while the transfer runs (at most one election timeout).
   */
  transferLeadership(to: string | undefined, now: number): string | undefined {
    this.#observe(now);
    if (!this.#lead) throw new NotLeaderError(this.#leader, this.#term);
    const voters = this.#voters();
    if (to !== undefined && (to === this.id || !voters.includes(to))) throw new LeadershipTransferError(`${to} is not another voter of the fleet`);
    const target = to ?? this.#lead.bestVoter(voters);
    if (target) this.#lead.transfer(target);
    return target;
  }

  // ---- output ----

  ready(): Ready | undefined {
    return this.#outbox.take({ hardState: this.#hardState(), softState: this.#softState(), log: this.#log, commit: this.#commit, applied: this.#applied, dropped: this.#proposals.dropped });
  }

  /** The driver persisted rd, sent its messages and applied it. */
  advance(rd: Ready, now: number): void {
    const out = this.#outbox.advanced(rd);
    this.#observe(now);
    this.#applied = Math.max(this.#applied, out.appliedTo);
    this.#proposals.reported(out.droppedCount);
    this.#log.persisted();
    this.#maybeCommit(); // a leader counts its own entries now
    this.#maybePromote();
  }

  /**
   * Persisting rd failed: nothing of it was sent or applied. Unpersisted entries are forgotten
   * (a leader reports its proposals among them as dropped); everything else is offered again.
   */
  persistFailed(rd: Ready, now: number): void {
    const out = this.#outbox.failed(rd);
    this.#observe(now);
    const lost = this.#log.persistFailed(out.wroteLog);
    if (!lost.length) return;
    this.#commit = Math.min(this.#commit, this.#log.lastIndex);
    for (const e of lost) this.#proposals.lost(e.index, e.term);
    this.#syncConfig();
    // A leader steps down (as hashicorp/raft's does when storing logs fails): it must never put
    // another entry at an (index, term) it already handed out, half written as it may be. The one
    // exception: the only voter of its fleet with all-or-nothing appends. Nothing of the dropped
    // entries is on its disk and it sent them to nobody, and stepping down would only leave the
    // fleet without a leader (a full disk then answers every write with its own error).
    if (this.#lead && !(this.#atomicAppend && this.#voters().length === 1)) this.#becomeFollower(this.#term, undefined);
  }

  /** The driver wrote a snapshot at `index` (<= applied): forget the entries up to it. */
  compact(index: number): void {
    if (index > this.#applied) throw new RangeError(`compact(${index}): only applied entries (up to ${this.#applied}) can be compacted`);
    this.#log.compact(index);
  }

  /** Index, term and config at `index` (from the last snapshot point to the last index), for the driver's snapshot file. */
  snapshotMetaAt(index: number): SnapshotMeta {
    const term = this.#log.term(index);
    const cfg = this.#log.configAt(index);
    if (term === undefined || !cfg) throw new RangeError(`snapshotMetaAt(${index}): not in the log (${this.#log.snapIndex}..${this.#log.lastIndex})`);
    return { index, term, config: cfg.config };
  }

  /** When tick() must be called next. */
  nextDeadline(): number {
    if (!this.#timeKnown) return this.#now;
    if (this.#lead) {
      let t = this.#lead.heartbeatDue;
      if (this.#checkQuorum) t = Math.min(t, this.#lead.quorumExpiry(this.#voters()));
      if (this.#lead.transferee) t = Math.min(t, this.#lead.transferDeadline);
      return t;
    }
    return this.#electionDeadline;
  }

  status(now: number): RaftStatus {
    const peers: Record<string, PeerStatus> = {};
    for (const m of this.#cfg?.config.members ?? []) {
      if (m.id === this.id) continue;
      const pr = this.#lead?.progress.get(m.id);
      peers[m.id] = pr ? { match: pr.match, next: pr.next, voter: m.voter, state: pr.state, lastContactMs: Math.max(0, now - pr.lastContact) } : { match: 0, next: 0, voter: m.voter };
    }
    return {
      id: this.id, role: this.#role, term: this.#term, leader: this.#leader, leaderReady: this.#leaderReady(), votedFor: this.#votedFor,
      commitIndex: this.#commit, appliedIndex: this.#applied, firstIndex: this.#log.firstIndex, lastIndex: this.#log.lastIndex, lastTerm: this.#log.lastTerm,
      config: this.#cfg?.config, configPending: this.#configPending(), transferringTo: this.#lead?.transferee, peers,
    };
  }

  /** Ms since the leader last heard from peer (undefined when not leader or not a peer). */
  lastContact(peer: string, now: number): number | undefined {
    const pr = this.#lead?.progress.get(peer);
    return pr ? Math.max(0, now - pr.lastContact) : undefined;
  }

  get role(): Role { return this.#role; }
  get term(): number { return this.#term; }
  get leader(): string | undefined { return this.#leader; }

  /** Term of the entry at index, when the in-memory log has it (or it is the snapshot point). */
  termAt(index: number): number | undefined {
    return this.#log.term(index);
  }

  // ---- internals: time, state ----

  #observe(now: number): void {
    if (!Number.isFinite(now)) return;
    if (!this.#timeKnown) {
      this.#timeKnown = true;
      this.#now = now;
      this.#resetElectionTimer();
      this.#lead?.restartClock(now);
      return;
    }
    if (now > this.#now) this.#now = now;
  }

  #resetElectionTimer(): void {
    this.#electionDeadline = this.#now + this.#T + Math.floor(this.#random() * this.#T);
  }

  #hardState(): HardState {
    return this.#votedFor === undefined ? { term: this.#term } : { term: this.#term, votedFor: this.#votedFor };
  }

  #leaderReady(): boolean {
    return !!this.#lead && this.#commit >= this.#lead.termStart;
  }

  #softState(): SoftState {
    const s: SoftState = { role: this.#role, term: this.#term, leaderReady: this.#leaderReady() };
    if (this.#leader !== undefined) s.leader = this.#leader;
    return s;
  }

  #send(m: RaftMessage): void {
    this.#outbox.send(m);
  }

  #inLease(): boolean {
    if (!this.#checkQuorum) return false;
    return this.#role === 'leader' || (this.#leader !== undefined && this.#now - this.#leaderContact < this.#T);
  }

  #voters(): string[] {
    return voterIds(this.#cfg);
  }

  #canCampaign(): boolean {
    return mayCampaign(this.id, this.#log, this.#cfg, this.#commit);
  }

  #considers(m: PreVoteMessage | VoteMessage): boolean {
    return considersVoteRequest(this.#cfg, this.#members, this.#log, m);
  }

  #configPending(): boolean {
    return !!this.#cfg && this.#cfg.index > this.#commit;
  }

  /** Follow the latest config in the log after any change to the log. */
  #syncConfig(): void {
    const cfg = this.#log.latestConfig();
    if (cfg === this.#cfg) return;
    this.#cfg = cfg;
    this.#members = new Map((cfg?.config.members ?? []).map((m) => [m.id, m.voter]));
    this.#lead?.syncMembers(cfg, cfg ? cfg.index : this.#log.lastIndex + 1);
    if ((this.#role === 'candidate' || this.#role === 'precandidate') && !this.#canCampaign()) this.#becomeFollower(this.#term, undefined);
    else if (this.#votes.size) this.#tally();
  }

  #becomeFollower(term: number, leader: string | undefined): void {
    if (term > this.#term) {
      this.#term = term;
      this.#votedFor = undefined;
    }
    this.#role = 'follower';
    this.#leader = leader;
    if (leader !== undefined) this.#leaderContact = this.#now;
    this.#votes.clear();
    this.#lead = undefined;
    this.#resetElectionTimer();
  }

  /** 'pre': ask whether we could win (term unchanged); 'elect': a real campaign; 'transfer': one that overrides stickiness. */
  #campaign(kind: 'pre' | 'elect' | 'transfer'): void {
    this.#lead = undefined;
    this.#leader = undefined;
    this.#votes = new Map([[this.id, true]]);
    this.#resetElectionTimer();
    if (kind === 'pre') {
      this.#role = 'precandidate';
    } else {
      this.#role = 'candidate';
      this.#term++;
      this.#votedFor = this.id;
    }
    if (this.#tally()) return;
    const term = kind === 'pre' ? this.#term + 1 : this.#term;
    for (const to of this.#voters()) {
      if (to === this.id) continue;
      const base = { term, from: this.id, to, lastIndex: this.#log.lastIndex, lastTerm: this.#log.lastTerm };
      if (kind === 'pre') this.#send({ type: 'preVote', ...base });
      else this.#send({ type: 'vote', ...base, ...(kind === 'transfer' ? { transfer: true } : {}) });
    }
  }

  #countVote(from: string, granted: boolean): void {
    if (this.#members.get(from) !== true) return;
    this.#votes.set(from, granted);
    this.#tally();
  }

  /** Act on the votes so far: true when the campaign ended (won or lost). */
  #tally(): boolean {
    const result = countVotes(this.#voters(), this.#votes);
    if (result === 'won') {
      if (this.#role === 'precandidate') this.#campaign('elect');
      else if (this.#role === 'candidate') this.#becomeLeader();
      return true;
    }
    if (result === 'lost') {
      this.#becomeFollower(this.#term, undefined);
      return true;
    }
    return false;
  }

  #handleVoteRequest(m: PreVoteMessage | VoteMessage): void {
    if (!this.#considers(m)) return;
    const pre = m.type === 'preVote';
    const canVote = this.#votedFor === m.from || (this.#votedFor === undefined && this.#leader === undefined) || (pre && m.term > this.#term);
    const type = pre ? 'preVoteResp' : 'voteResp';
    if (canVote && this.#log.isUpToDate(m.lastIndex, m.lastTerm)) {
      // a granted vote is sent in the Ready whose hardState carries it
      if (!pre) {
        this.#votedFor = m.from;
        this.#resetElectionTimer();
      }
      this.#send({ type, term: m.term, from: this.id, to: m.from, granted: true });
    } else {
      this.#send({ type, term: this.#term, from: this.id, to: m.from, granted: false });
    }
  }

  #becomeLeader(): void {
    this.#role = 'leader';
    this.#leader = this.id;
    this.#votes.clear();
    const lead = new LeaderState(this.#host(), this.#limits);
    this.#lead = lead;
    lead.syncMembers(this.#cfg, this.#log.lastIndex + 1);
    this.#appendNoop();
  }

  #appendNoop(): void {
    if (!this.#lead) return;
    const e: LogEntry = { index: this.#log.lastIndex + 1, term: this.#term, type: 'noop', time: this.#now };
    this.#lead.termStart = e.index;
    this.#appendAsLeader(e);
  }

  #appendAsLeader(e: LogEntry): void {
    this.#log.append(e);
    if (e.type === 'config') this.#syncConfig();
    this.#lead?.broadcast();
  }

  #appendConfig(config: ClusterConfig): { index: number; term: number } {
    const e: LogEntry = { index: this.#log.lastIndex + 1, term: this.#term, type: 'config', data: config, time: this.#now };
    this.#appendAsLeader(e);
    return { index: e.index, term: e.term };
  }

  #checkProposal(): void {
    if (!this.#lead) throw new NotLeaderError(this.#leader, this.#term);
    if (this.#lead.transferee) throw new ProposalDroppedError(`leadership is being transferred to ${this.#lead.transferee}`);
  }

  #host(): LeaderHost {
    const read = () => ({ term: this.#term, commit: this.#commit, now: this.#now });
    const snapshot = () => snapshotAt(this.#log, this.#commit, this.#snapshotSource);
    return { id: this.id, get term() { return read().term; }, get commit() { return read().commit; }, get now() { return read().now; }, log: this.#log, send: (m) => this.#send(m), snapshot };
  }

  // ---- internals: replication ----

  #handleAppend(m: AppendMessage): void {
    const reply = { type: 'appendResp' as const, term: this.#term, from: this.id, to: m.from };
    if (m.prevIndex < this.#commit) {
      // what we committed matches the leader: continue after it
      this.#send({ ...reply, success: true, index: this.#commit });
      return;
    }
    const last = this.#log.maybeAppend(m.prevIndex, m.prevTerm, m.entries, this.#commit);
    if (last === 'bad') return;
    if (last === undefined) {
      const hint = this.#log.findConflictByTerm(m.prevIndex, m.prevTerm);
      this.#send({ ...reply, success: false, index: m.prevIndex, hintIndex: hint.index, hintTerm: hint.term });
      return;
    }
    this.#syncConfig();
    this.#commitTo(Math.min(m.commit, last));
    this.#send({ ...reply, success: true, index: last });
  }

  #handleSnapshot(m: SnapshotMessage): void {
    const meta = m.snapshot.meta;
    const reply = { type: 'snapshotResp' as const, term: this.#term, from: this.id, to: m.from };
    if (meta.index <= this.#commit) {
      this.#send({ ...reply, index: this.#commit });
      return;
    }
    if (this.#log.term(meta.index) === meta.term) {
      this.#commitTo(meta.index); // our log already has it: fast-forward
      this.#send({ ...reply, index: this.#commit });
      return;
    }
    this.#proposals.forgetUpTo(meta.index); // covered by the snapshot: their outcome is unknown
    this.#log.restore(meta.index, meta.term, meta.config);
    this.#commit = meta.index;
    this.#outbox.snapshot = m.snapshot;
    this.#outbox.apply = m.snapshot;
    this.#syncConfig();
    this.#send({ ...reply, index: meta.index });
  }

  #commitTo(index: number): void {
    const c = Math.min(index, this.#log.lastIndex);
    if (c <= this.#commit) return;
    const from = this.#commit + 1;
    this.#commit = c;
    this.#proposals.committed(from, c, (i) => this.#log.term(i));
  }

  #maybeCommit(): void {
    const lead = this.#lead;
    if (!lead) return;
    const idx = lead.quorumIndex(this.#voters());
    if (idx <= this.#commit || this.#log.term(idx) !== this.#term) return; // only entries of our term by counting
    this.#commitTo(idx);
    if (this.#cfg && this.#cfg.index <= this.#commit && this.#members.get(this.id) !== true) {
      // we removed (or demoted) ourselves and that is committed: hand over and step down
      lead.handOff(lead.bestVoter(this.#voters()));
      this.#becomeFollower(this.#term, undefined);
    }
  }

  /** Promote a learner whose log caught up (one config change at a time). */
  #maybePromote(): void {
    const lead = this.#lead;
    if (!lead || !this.#cfg || lead.transferee || this.#configPending() || !this.#leaderReady()) return;
    for (const m of this.#cfg.config.members) {
      if (m.voter || m.id === this.id) continue;
      const pr = lead.progress.get(m.id);
      if (pr && pr.match >= this.#commit) {
        this.#appendConfig({ members: this.#cfg.config.members.map((x) => (x.id === m.id ? { ...x, voter: true } : x)) });
        return;
      }
    }
  }
}
