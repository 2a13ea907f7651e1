/**
 * The replicated desired-state log: the I/O driver around the pure election/replication core
 * (raft/node.ts). It owns the member's DiskLog and election state (term.json), feeds the core
 * time, peer messages and proposals one at a time, and for every Ready: persists (fsync) the
 * election state, a received snapshot, a truncation and new entries; only then sends the
 * messages; then applies committed entries to the Store (the state machine) in index order and
 * resolves the proposals they carry. It is the Store's Replicator: a commit is acknowledged only
 * once a majority of the members has it on disk and it is applied here.
 *
 * Heartbeats change no election state, so an idle fleet writes nothing. Snapshots are written
 * every `snapshotEvery` applied entries and the log compacted behind them; a follower that is
 * far behind gets the leader's snapshot.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import type { DiskLog, Entry, Op, Snapshot as DiskSnapshot } from '../state/log.js';
import type { Replicator, Store } from '../state/store.js';
import { StoreError } from '../state/store.js';
import type { Transport } from './transport.js';
import { writeTermFile, type TermFile } from './hardstate.js';
import { RaftNode } from './raft/node.js';
import { NotLeaderError, type ClusterConfig, type LogEntry, type RaftMessage, type RaftStatus, type Ready, type SoftState, type Snapshot } from './raft/types.js';

/** Why a write could not be committed; the API server turns these into its error reasons. */
export class ReplicationError extends Error {
  constructor(readonly reason: 'NotLeader' | 'NoQuorum' | 'StaleTerm' | 'Stopped', message: string, readonly leader?: string) {
    super(message);
    this.name = 'ReplicationError';
  }
}

/** A peer-channel message of the replication protocol. */
export interface RaftEnvelope {
  k: 'raft';
  fleet: string;
  m: RaftMessage;
}

export interface ReplicationOptions {
  self: string;
  /** Where term.json lives (the state directory). */
  stateDir: string;
  fleet: string;
  store: Store;
  log: DiskLog;
  /** What the log held at open (DiskLog.open). */
  snapshot: DiskSnapshot | undefined;
  entries: Entry[];
  hardState: TermFile;
  transport: Transport<unknown>;
  clock: Clock;
  random: Random;
  logger: Logger;
  electionTimeoutMs: number;
  heartbeatMs: number;
  snapshotEvery: number;
  /** Longest a proposal may wait to commit before it is refused (ms). */
  proposalTimeoutMs?: number;
}

interface Pending {
  term: number;
  resolve: (index: number) => void;
  reject: (err: Error) => void;
  timer: TimerHandle;
}

const MAX_READY_ROUNDS = 1000;

export function toRaftEntry(e: Entry): LogEntry {
  const type = e.type ?? 'ops';
  return { index: e.index, term: e.term, type, ...(e.time !== undefined ? { time: e.time } : {}), ...(type === 'ops' ? { data: e.ops ?? [] } : e.data !== undefined ? { data: e.data } : {}) };
}

export function toDiskEntry(e: LogEntry): Entry {
  const base = { index: e.index, term: e.term, time: e.time ?? 0 };
  if (e.type === 'ops') return { ...base, ops: (e.data as Op[] | undefined) ?? [] };
  return { ...base, type: e.type, ...(e.data !== undefined ? { data: e.data } : {}) };
}

function toDiskSnapshot(s: Snapshot): DiskSnapshot {
  const data = (s.data ?? {}) as { objects?: Record<string, unknown>[]; meta?: Record<string, unknown> };
  return { index: s.meta.index, term: s.meta.term, objects: Array.isArray(data.objects) ? data.objects : [], config: s.meta.config, ...(data.meta ? { meta: data.meta } : {}) };
}

/** The latest membership in a log (entries after the snapshot win). */
export function latestConfig(snapshot: DiskSnapshot | undefined, entries: Entry[]): ClusterConfig | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as Entry;
    if (e.type === 'config' && e.data) return e.data as ClusterConfig;
  }
  return snapshot?.config as ClusterConfig | undefined;
}

export class Replication extends EventEmitter implements Replicator {
  readonly #o: ReplicationOptions;
  readonly #log: Logger;
  readonly #node: RaftNode;
  #inbox: Array<() => void> = [];
  #busy = false;
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  #pending = new Map<number, Pending>();
  #soft: SoftState = { role: 'follower', term: 0, leaderReady: false };
  #hard: TermFile;
  #stopped = false;
  #idle: Array<() => void> = [];
  #snapshotting = false;

  constructor(opts: ReplicationOptions) {
    super();
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'replication' });
    this.#hard = { ...opts.hardState, fleet: opts.fleet };
    const { store, snapshot, entries } = opts;
    if (snapshot) store.loadSnapshot(snapshot);
    this.#node = new RaftNode({
      id: opts.self,
      random: () => opts.random.float(),
      electionTimeoutMs: opts.electionTimeoutMs,
      heartbeatMs: opts.heartbeatMs,
      // state/log.ts appends all or nothing (cut back and checked, read-only otherwise)
      atomicAppend: true,
      initial: {
        hardState: { term: opts.hardState.term, ...(opts.hardState.votedFor ? { votedFor: opts.hardState.votedFor } : {}) },
        ...(snapshot ? { snapshot: { index: snapshot.index, term: snapshot.term, config: (snapshot.config as ClusterConfig | undefined) ?? { members: [] } } } : {}),
        entries: entries.map(toRaftEntry),
      },
      snapshotSource: () => {
        const s = store.snapshot();
        return { meta: { index: s.index }, data: { objects: s.objects, meta: s.meta } };
      },
      now: opts.clock.now(),
    });
    opts.transport.onMessage((from, msg) => this.#onMessage(from, msg));
  }

  // ------------------------------------------------------------------ Replicator

  get term(): number { return this.#node.term; }
  get isLeader(): boolean { return this.#soft.role === 'leader'; }
  /** Leader whose first entry of its term is committed: it may serve reads and take writes. */
  get leaderReady(): boolean { return this.#soft.role === 'leader' && this.#soft.leaderReady; }
  get leader(): string | undefined { return this.#soft.leader; }
  get soft(): SoftState { return this.#soft; }
  get fleet(): string { return this.#o.fleet; }

  propose(ops: Op[], term: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#run(() => {
        if (this.#stopped) { reject(new ReplicationError('Stopped', 'the daemon is stopping')); return; }
        const now = this.#o.clock.now();
        if (term !== this.#node.term) {
          reject(term < this.#node.term
            ? new StoreError('Conflict', `write from stale term ${term} refused (current term ${this.#node.term})`)
            : new ReplicationError('StaleTerm', `write for term ${term} refused: this member is in term ${this.#node.term}`));
          return;
        }
        if (!this.leaderReady) { reject(this.#notLeader()); return; }
        let at: { index: number; term: number };
        try {
          at = this.#node.propose(ops, now);
        } catch (err) {
          reject(err instanceof NotLeaderError ? this.#notLeader() : err as Error);
          return;
        }
        const timeoutMs = this.#o.proposalTimeoutMs ?? Math.max(10_000, this.#o.electionTimeoutMs * 4);
        const timer = this.#o.clock.setTimeout(() => {
          const p = this.#pending.get(at.index);
          if (p?.term !== at.term) return;
          this.#pending.delete(at.index);
          p.reject(this.#noQuorum(`the write was not committed within ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs);
        this.#pending.set(at.index, { term: at.term, resolve, reject, timer });
      });
    });
  }

  #notLeader(): ReplicationError {
    const l = this.#soft.leader;
    if (this.#soft.role === 'leader') return new ReplicationError('NotLeader', 'this member was just elected and is not ready to take writes yet: retry', this.#o.self);
    return new ReplicationError('NotLeader', l ? `not the leader: the leader is ${l} (term ${this.#soft.term})` : `no leader (term ${this.#soft.term}): ${this.#reachability()}`, l);
  }

  #noQuorum(what: string): ReplicationError {
    return new ReplicationError('NoQuorum', `${what}: no quorum: ${this.#reachability()}`);
  }

  /** "reachable members a, b; unreachable c (a majority is 2 of 3)" from the core's view. */
  #reachability(): string {
    const st = this.#node.status(this.#o.clock.now());
    const voters = (st.config?.members ?? []).filter((m) => m.voter).map((m) => m.id);
    const window = this.#o.electionTimeoutMs;
    const reachable: string[] = [];
    const unreachable: string[] = [];
    for (const id of voters) {
      if (id === this.#o.self) { reachable.push(id); continue; }
      const ms = st.peers[id]?.lastContactMs;
      (ms !== undefined && ms <= window ? reachable : unreachable).push(id);
    }
    return `reachable members ${reachable.join(', ') || 'none'}${unreachable.length ? `; unreachable ${unreachable.join(', ')}` : ''} (a majority is ${Math.floor(voters.length / 2) + 1} of ${voters.length})`;
  }

  // ------------------------------------------------------------------ membership and control

  status(): RaftStatus {
    return this.#node.status(this.#o.clock.now());
  }

  /** Ms since the leader last heard from `peer` (undefined when unknown or not the leader). */
  lastContact(peer: string): number | undefined {
    if (peer === this.#o.self) return 0;
    return this.#node.lastContact(peer, this.#o.clock.now());
  }

  config(): ClusterConfig | undefined {
    return this.#node.status(this.#o.clock.now()).config;
  }

  /** Propose a new membership (leader only); resolves once it is committed. */
  changeConfig(config: ClusterConfig): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#run(() => {
        if (!this.leaderReady) { reject(this.#notLeader()); return; }
        let at: { index: number; term: number };
        try {
          at = this.#node.proposeConfig(config, this.#o.clock.now());
        } catch (err) {
          reject(err as Error);
          return;
        }
        const timer = this.#o.clock.setTimeout(() => {
          const p = this.#pending.get(at.index);
          if (p?.term !== at.term) return;
          this.#pending.delete(at.index);
          p.reject(this.#noQuorum('the membership change was not committed in time'));
        }, Math.max(10_000, this.#o.electionTimeoutMs * 4));
        this.#pending.set(at.index, { term: at.term, resolve, reject, timer });
      });
    });
  }

  /** Hand leadership to the most up-to-date voter (graceful stop); resolves when asked. */
  transferLeadership(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.#run(() => {
        try {
          resolve(this.#node.transferLeadership(undefined, this.#o.clock.now()));
        } catch {
          resolve(undefined);
        }
      });
    });
  }

  start(): void {
    this.#run(() => undefined);
  }

  /** Stop: pending proposals are refused, no more messages are sent or handled. */
  async stop(): Promise<void> {
    await this.idle();
    this.#stopped = true;
    this.#timer?.cancel();
    for (const p of this.#pending.values()) { p.timer.cancel(); p.reject(new ReplicationError('Stopped', 'the daemon is stopping')); }
    this.#pending.clear();
  }

  /** Resolves when no input is being processed (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#busy && this.#inbox.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  // ------------------------------------------------------------------ the loop

  #onMessage(from: string, msg: unknown): void {
    const env = msg as Partial<RaftEnvelope> | undefined;
    if (!env || env.k !== 'raft' || env.fleet !== this.#o.fleet || !env.m || typeof env.m !== 'object') return;
    if ((env.m as { from?: unknown }).from !== from) return; // the channel authenticated `from`: no spoofing
    const m = env.m;
    this.#run(() => this.#node.step(m, this.#o.clock.now()));
  }

  #run(fn: () => void): void {
    if (this.#stopped) return;
    this.#inbox.push(fn);
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#inbox.length && !this.#stopped) {
        const fn = this.#inbox.shift() as () => void;
        try {
          fn();
        } catch (err) {
          this.#log.error({ err: (err as Error).message }, 'replication input failed');
        }
        await this.#processReady();
      }
    } finally {
      this.#busy = false;
      this.#armTimer();
      if (this.#inbox.length === 0) for (const r of this.#idle.splice(0)) r();
      else void this.#drain();
    }
  }

  #armTimer(): void {
    if (this.#stopped) return;
    const at = this.#node.nextDeadline();
    if (!Number.isFinite(at)) return;
    if (this.#timer && this.#timerAt <= at) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#run(() => this.#node.tick(this.#o.clock.now()));
    }, Math.max(0, at - this.#o.clock.now()));
  }

  async #processReady(): Promise<void> {
    let persistErr: Error | undefined;
    for (let round = 0; round < MAX_READY_ROUNDS; round++) {
      const rd = this.#node.ready();
      if (!rd) return;
      try {
        await this.#persist(rd);
      } catch (err) {
        // nothing of rd is sent or applied; the core forgets its entries and reports the
        // proposals they carried as dropped in the next Ready, refused with this error
        this.#log.warn({ err: (err as Error).message }, 'persisting the replicated log failed: its entries are refused');
        this.#node.persistFailed(rd, this.#o.clock.now());
        persistErr = err as Error;
        continue;
      }
      this.#handle(rd, persistErr);
      persistErr = undefined;
      this.#node.advance(rd, this.#o.clock.now());
      await this.#maybeSnapshot();
    }
    this.#log.error('replication produced output for 1000 rounds in a row: yielding');
  }

  async #persist(rd: Ready): Promise<void> {
    const { log } = this.#o;
    if (rd.hardState && (rd.hardState.term !== this.#hard.term || rd.hardState.votedFor !== this.#hard.votedFor)) {
      const next: TermFile = { term: rd.hardState.term, ...(rd.hardState.votedFor ? { votedFor: rd.hardState.votedFor } : {}), fleet: this.#o.fleet };
      await writeTermFile(this.#o.stateDir, next);
      this.#hard = next;
    }
    if (rd.snapshot) await log.installSnapshot(toDiskSnapshot(rd.snapshot));
    if (rd.truncateFrom !== undefined && rd.truncateFrom <= log.lastIndex) {
      const before = rd.truncateFrom - 1;
      const termBefore = before <= log.snapshotIndex ? log.snapshotTerm : this.#node.termAt(before) ?? 0;
      await log.truncateFrom(rd.truncateFrom, termBefore);
    }
    if (rd.entries.length) await log.append(rd.entries.map(toDiskEntry));
  }

  /** Send, apply, resolve and report what a persisted Ready says. */
  #handle(rd: Ready, persistErr: Error | undefined): void {
    const { transport, store } = this.#o;
    for (const m of rd.messages) {
      const env: RaftEnvelope = { k: 'raft', fleet: this.#o.fleet, m };
      transport.send(m.to, env);
    }
    if (rd.applySnapshot) {
      const s = toDiskSnapshot(rd.applySnapshot);
      store.loadSnapshot(s);
      this.#log.info({ index: s.index, objects: s.objects.length }, 'loaded the leader\'s snapshot');
    }
    let configChanged = false;
    for (const e of rd.committed) {
      if (e.index <= store.revision) continue; // covered by a snapshot just loaded
      try {
        store.apply(toDiskEntry(e));
      } catch (err) {
        // the state machine must never diverge silently
        this.#log.fatal({ err: (err as Error).message, index: e.index }, 'applying a committed entry failed');
        throw err;
      }
      if (e.type === 'config') configChanged = true;
      const p = this.#pending.get(e.index);
      if (p) {
        this.#pending.delete(e.index);
        p.timer.cancel();
        if (p.term === e.term) p.resolve(e.index);
        else p.reject(new ReplicationError('NotLeader', 'leadership changed before the write was committed; it was not applied'));
      }
    }
    this.#reject(rd.dropped, persistErr ?? new ReplicationError('NotLeader', 'leadership changed before the write was committed; it was not applied'));
    if (rd.softState) this.#onSoft(rd.softState);
    if (configChanged || rd.applySnapshot) this.emit('config', this.config());
  }

  #reject(dropped: Ready['dropped'], err: Error): void {
    for (const d of dropped ?? []) {
      const p = this.#pending.get(d.index);
      if (!p || p.term !== d.term) continue;
      this.#pending.delete(d.index);
      p.timer.cancel();
      p.reject(err);
    }
  }

  #onSoft(s: SoftState): void {
    const was = this.#soft;
    this.#soft = { ...s };
    if (was.role === 'leader' && s.role !== 'leader') {
      // writes in flight may or may not commit under the next leader: their callers are told no
      const err = this.#noQuorum(`leadership was lost (term ${was.term})`);
      for (const p of this.#pending.values()) { p.timer.cancel(); p.reject(err); }
      this.#pending.clear();
    }
    this.#log.info({ fleet: this.#o.fleet, role: s.role, term: s.term, leader: s.leader, ready: s.leaderReady }, s.role === 'leader' ? (s.leaderReady ? 'leading' : 'elected') : 'following');
    this.emit('soft', this.#soft, was);
  }

  async #maybeSnapshot(): Promise<void> {
    const { log, store, snapshotEvery } = this.#o;
    if (this.#snapshotting || store.revision - log.snapshotIndex < snapshotEvery || store.revision > log.lastIndex) return;
    this.#snapshotting = true;
    try {
      const s = store.snapshot();
      const meta = this.#node.snapshotMetaAt(s.index);
      await log.writeSnapshot({ ...s, term: meta.term, config: meta.config });
      this.#node.compact(s.index);
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'snapshot failed; the log keeps growing until the next try');
    } finally {
      this.#snapshotting = false;
    }
  }
}
