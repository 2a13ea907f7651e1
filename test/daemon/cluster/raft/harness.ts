/**
 * Test-only: a simulated fleet in the style of hashicorp/raft's fuzzy tests. Every node is a
 * RaftNode driven exactly as the daemon's driver will drive it (ready -> persist -> send ->
 * apply -> advance), with simulated durable storage (hardState, snapshot, log), a state machine
 * (the applied entries; a snapshot is a copy of them), a MemoryNetwork on a SimClock, crashes
 * (the node object is thrown away and rebuilt from its storage; an unpersisted Ready is lost or
 * half written), storage failures (persistFailed after a partial write) and slow fsyncs.
 *
 * The Verifier below checks Raft's safety properties over the whole timeline; runSchedule()
 * plays one randomized schedule from a seed.
 */
import { MemoryNetwork, SimClock, type LinkFaults, type MemoryTransport } from '../../../../daemon/src/cluster/memory-transport.js';
import { RaftNode, type RaftNodeOptions } from '../../../../daemon/src/cluster/raft/node.js';
import type { ClusterConfig, HardState, LogEntry, Member, RaftMessage, Ready, Snapshot } from '../../../../daemon/src/cluster/raft/types.js';
import { NotLeaderError, RaftError } from '../../../../daemon/src/cluster/raft/types.js';
import { createSeededRandom } from '../../../../daemon/src/lib/random.js';

// ---------------------------------------------------------------------------------------------
// The verifier: Raft's safety properties over a whole timeline (fed events by the cluster, or a
// deliberately broken history by its own unit test).
//
// - election safety: at most one leader per term;
// - log matching: an (index, term) always names the same entry with the same predecessor, so
//   equal (index, term) means identical prefixes;
// - leader completeness: every committed entry is in the log of every later leader;
// - state machine safety: every node applies a prefix of one common sequence, each index once;
// - no acknowledged write lost: what a proposer saw applied is applied everywhere in the end.
// ---------------------------------------------------------------------------------------------

export interface AppliedItem {
  index: number;
  term: number;
  type: string;
  data?: unknown;
}

/** Does this node's log hold (index, term)? */
export type HasEntry = (index: number, term: number) => boolean;

function key(it: { type: string; data?: unknown }): string {
  return `${it.type}|${JSON.stringify(it.data ?? null)}`;
}

export class Verifier {
  readonly errors: string[] = [];
  #leaders = new Map<number, string>();
  #leaderLogs: Array<{ term: number; id: string; has: HasEntry }> = [];
  #entries = new Map<string, { content: string; prevTerm: number }>();
  #canon: Array<{ term: number; content: string } | undefined> = [];
  /** index -> the lowest term at which some node knew it committed, and its term. */
  #commits = new Map<number, { term: number; knownAt: number }>();
  #acked = new Map<string, { index: number; term: number }>();

  fail(msg: string): void {
    if (this.errors.length < 50 && !this.errors.includes(msg)) this.errors.push(msg);
  }

  get ok(): boolean {
    return this.errors.length === 0;
  }

  /** `id` acts as leader of `term`; `has` looks into its log (for leader completeness). */
  leader(term: number, id: string, has?: HasEntry): void {
    const prev = this.#leaders.get(term);
    if (prev !== undefined && prev !== id) this.fail(`election safety: two leaders in term ${term}: ${prev} and ${id}`);
    if (prev !== undefined) return;
    this.#leaders.set(term, id);
    if (!has) return;
    this.#leaderLogs.push({ term, id, has });
    for (const [index, c] of this.#commits) {
      if (c.knownAt < term && !has(index, c.term)) this.fail(`leader completeness: ${id}, leader of term ${term}, lacks entry ${index} (term ${c.term}) committed by term ${c.knownAt}`);
    }
  }

  get leaders(): ReadonlyMap<number, string> {
    return this.#leaders;
  }

  /** `node` wrote entry (index, term) after an entry of prevTerm to its disk. */
  persisted(node: string, e: AppliedItem, prevTerm: number): void {
    const k = `${e.index}/${e.term}`;
    const content = key(e);
    const seen = this.#entries.get(k);
    if (!seen) {
      this.#entries.set(k, { content, prevTerm });
      return;
    }
    if (seen.content !== content) this.fail(`log matching: ${node} holds a different entry at index ${e.index} term ${e.term}: ${content} vs ${seen.content}`);
    else if (seen.prevTerm !== prevTerm) this.fail(`log matching: ${node} has entry ${e.index}/${e.term} after an entry of term ${prevTerm}, elsewhere after term ${seen.prevTerm}`);
  }

  /** `node` applied `it` while its term was `nodeTerm` (so it was committed by then). */
  applied(node: string, it: AppliedItem, nodeTerm: number): void {
    const content = key(it);
    const c = this.#canon[it.index];
    if (c === undefined) this.#canon[it.index] = { term: it.term, content };
    else if (c.term !== it.term || c.content !== content) this.fail(`state machine safety: ${node} applied ${it.index}/${it.term} ${content}, another node ${it.index}/${c.term} ${c.content}`);
    const known = this.#commits.get(it.index);
    if (known && known.term !== it.term) this.fail(`state machine safety: ${node} applied ${it.index} with term ${it.term}, committed with term ${known.term}`);
    if (!known || nodeTerm < known.knownAt) {
      this.#commits.set(it.index, { term: it.term, knownAt: nodeTerm });
      for (const l of this.#leaderLogs) {
        if (l.term > nodeTerm && !l.has(it.index, it.term)) this.fail(`leader completeness: ${l.id}, leader of term ${l.term}, lacks entry ${it.index} (term ${it.term}) committed by term ${nodeTerm}`);
      }
    }
  }

  /** The common sequence so far (index -> term), for final checks. */
  canonAt(index: number): { term: number; content: string } | undefined {
    return this.#canon[index];
  }

  get canonLength(): number {
    return this.#canon.length - 1;
  }

  /** The proposer of `value` saw it applied at (index, term): it must never be lost. */
  acked(value: string, index: number, term: number): void {
    this.#acked.set(value, { index, term });
  }

  get ackedCount(): number {
    return this.#acked.size;
  }

  /**
   * A proposal the core reported dropped: it must not be in the common sequence. With atomic
   * appends a leader may put a later proposal at the same (index, term): compared by content.
   */
  droppedNeverApplied(index: number, term: number, node: string, value?: string): void {
    const c = this.#canon[index];
    if (c && c.term === term && (value === undefined || c.content === `ops|${JSON.stringify(value)}`)) this.fail(`dropped proposal ${index}/${term} of ${node} was committed`);
  }

  /** After healing: every live member applied every acknowledged write, in place. */
  finalCheck(members: Array<{ id: string; applied: AppliedItem[] }>): void {
    for (const m of members) {
      for (const [value, at] of this.#acked) {
        const it = m.applied[at.index - 1];
        if (!it || it.index !== at.index || it.term !== at.term || it.data !== value) {
          this.fail(`acknowledged write lost: ${value} (${at.index}/${at.term}) is not applied on ${m.id} (it has ${it ? `${it.index}/${it.term} ${JSON.stringify(it.data)}` : 'nothing'} there)`);
          break;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Driving one RaftNode by hand (unit tests)
// ---------------------------------------------------------------------------------------------

export function config(...ids: string[]): ClusterConfig {
  return { members: ids.map((id) => (id.endsWith('~') ? { id: id.slice(0, -1), voter: false } : { id, voter: true })) };
}

/** A node for direct tests: `entries` become its disk (after the bootstrap config unless `raw`). */
export function makeNode(id: string, opts: Partial<RaftNodeOptions> & { cfg?: ClusterConfig; term?: number; votedFor?: string; log?: Array<[term: number, data?: unknown]> } = {}): RaftNode {
  const { cfg, term, votedFor, log, ...rest } = opts;
  const entries: LogEntry[] = cfg ? [{ index: 1, term: 1, type: 'config', data: cfg }] : [];
  for (const [t, data] of log ?? []) entries.push({ index: entries.length + 1, term: t, type: 'ops', data });
  const hs: HardState = { term: Math.max(term ?? 0, entries.length ? entries[entries.length - 1].term : 0) };
  if (votedFor) hs.votedFor = votedFor;
  let seed = 7;
  return new RaftNode({
    id,
    random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647),
    initial: { hardState: hs, entries },
    snapshotSource: () => ({ meta: { index: 0 }, data: null }),
    now: 0,
    ...rest,
  });
}

/** Drain every Ready, persisting and advancing each (a disk that never fails); returns them. */
export function drain(node: RaftNode, now: number): Ready[] {
  const out: Ready[] = [];
  for (let rd = node.ready(); rd && out.length < 100; rd = node.ready()) {
    out.push(rd);
    node.advance(rd, now);
  }
  return out;
}

export function messagesOf(readies: Ready[], type?: RaftMessage['type']): RaftMessage[] {
  return readies.flatMap((r) => r.messages).filter((m) => !type || m.type === type);
}

/** Make `node` leader through pre-vote and vote, granted by `voters`; returns the time after. */
export function elect(node: RaftNode, voters: string[], now: number): number {
  node.tick(now + 1_000_000);
  now += 1_000_000;
  for (let round = 0; round < 2 && node.role !== 'leader'; round++) {
    const reqs = messagesOf(drain(node, now)).filter((m) => m.type === 'preVote' || m.type === 'vote');
    for (const m of reqs) if (voters.includes(m.to)) node.step({ type: m.type === 'preVote' ? 'preVoteResp' : 'voteResp', term: m.term, from: m.to, to: node.id, granted: true }, now);
  }
  if (node.role !== 'leader') throw new Error(`elect: ${node.id} is ${node.role}`);
  return now;
}

// ---------------------------------------------------------------------------------------------
// The simulated fleet
// ---------------------------------------------------------------------------------------------

export interface Storage {
  hardState: HardState;
  snapshot?: Snapshot;
  entries: LogEntry[];
}

export interface StorageFaults {
  /** Probability that persisting a Ready fails (after writing a random part of it). */
  failRate: number;
  /** Probability that persisting a Ready takes time (steps and ticks go on meanwhile). */
  slowRate: number;
  maxPersistMs: number;
}

export interface ClusterOptions {
  seed: number;
  /** Voters at the start (all bootstrapped with the same config). Default 3. */
  size?: number;
  /** 'all': every initial node holds the initial config; 'first': only n1 does, as the single voter. */
  bootstrap?: 'all' | 'first';
  electionTimeoutMs?: number;
  heartbeatMs?: number;
  maxEntriesPerAppend?: number;
  maxBytesPerAppend?: number;
  maxInflightAppends?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  faults?: Partial<LinkFaults>;
  storage?: Partial<StorageFaults>;
  serialize?: boolean;
  start?: number;
  /** Called with every Ready a node hands out (before it is persisted). */
  onReady?: (node: SimNode, rd: Ready) => void;
  /** Deliberate driver bugs, to prove that the verifier catches what they break. */
  bugs?: { forgetVotes?: boolean };
  /** Appends are all or nothing (the real DiskLog): a failed Ready leaves no entry of it on disk, and leaders stay. */
  atomicAppend?: boolean;
}

export class SimNode {
  storage: Storage;
  raft!: RaftNode;
  /** The state machine: every applied entry, by index (sm[i - 1].index === i). */
  sm: AppliedItem[] = [];
  alive = false;
  incarnation = 0;
  transport: MemoryTransport | undefined;
  timer: { cancel(): void } | undefined;
  timerAt: number | undefined;
  persisting: Ready | undefined;
  /** Ticks at one simulated instant (livelock guard). */
  ticksAt = { at: -1, n: 0 };
  readies = 0;

  constructor(readonly id: string, storage: Storage) {
    this.storage = storage;
  }

  get lastIndex(): number {
    const e = this.storage.entries;
    return e.length ? e[e.length - 1].index : this.storage.snapshot?.meta.index ?? 0;
  }

  get lastTerm(): number {
    const e = this.storage.entries;
    return e.length ? e[e.length - 1].term : this.storage.snapshot?.meta.term ?? 0;
  }
}

export interface ClusterStats {
  proposals: number;
  acked: number;
  notLeader: number;
  persistFailed: number;
  slowPersists: number;
  crashes: number;
  restarts: number;
  compactions: number;
  configChanges: number;
  transfers: number;
  readies: number;
  dropped: number;
}

const DEFAULT_STORAGE: StorageFaults = { failRate: 0, slowRate: 0, maxPersistMs: 30 };

export class Cluster {
  readonly clock: SimClock;
  readonly net: MemoryNetwork;
  readonly rnd: () => number;
  readonly verifier = new Verifier();
  readonly nodes = new Map<string, SimNode>();
  readonly opts: ClusterOptions;
  storageFaults: StorageFaults;
  readonly stats: ClusterStats = { proposals: 0, acked: 0, notLeader: 0, persistFailed: 0, slowPersists: 0, crashes: 0, restarts: 0, compactions: 0, configChanges: 0, transfers: 0, readies: 0, dropped: 0 };
  /** `${node}:${index}:${term}` -> value proposed there. */
  readonly proposals = new Map<string, string>();
  readonly drops: Array<{ node: string; index: number; term: number; value?: string | undefined }> = [];
  #valueSeq = 0;
  #nodeSeq = 0;

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.rnd = createSeededRandom(opts.seed).float;
    this.clock = new SimClock(opts.start ?? 1_000_000);
    this.net = new MemoryNetwork({ clock: this.clock, random: this.rnd, faults: opts.faults, serialize: opts.serialize ?? true });
    this.storageFaults = { ...DEFAULT_STORAGE, ...opts.storage };
    const size = opts.size ?? 3;
    const ids = Array.from({ length: size }, () => this.#newId());
    const config: ClusterConfig = { members: (opts.bootstrap === 'first' ? ids.slice(0, 1) : ids).map((id) => ({ id, voter: true })) };
    for (const id of ids) {
      const boot = opts.bootstrap === 'first' && id !== ids[0] ? { hardState: { term: 0 }, entries: [] } : RaftNode.bootstrap(id, config);
      this.#spawn(id, { hardState: boot.hardState, entries: boot.entries });
    }
  }

  get now(): number {
    return this.clock.now();
  }

  #newId(): string {
    return `n${++this.#nodeSeq}`;
  }

  nextValue(): string {
    return `v${++this.#valueSeq}`;
  }

  node(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  alive(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  // ---- lifecycle ----

  #spawn(id: string, storage: Storage): SimNode {
    const n = new SimNode(id, storage);
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  /** A joiner: empty disk, not in any config yet. */
  addJoiner(): SimNode {
    return this.#spawn(this.#newId(), { hardState: { term: 0 }, entries: [] });
  }

  start(n: SimNode): void {
    const o = this.opts;
    const st = n.storage;
    n.incarnation++;
    n.alive = true;
    n.persisting = undefined;
    n.sm = st.snapshot ? (st.snapshot.data as AppliedItem[]).slice() : [];
    n.raft = new RaftNode({
      id: n.id,
      random: createSeededRandom(Math.floor(this.rnd() * 2 ** 32)).float,
      electionTimeoutMs: o.electionTimeoutMs,
      heartbeatMs: o.heartbeatMs,
      preVote: o.preVote,
      checkQuorum: o.checkQuorum,
      maxEntriesPerAppend: o.maxEntriesPerAppend,
      maxBytesPerAppend: o.maxBytesPerAppend,
      maxInflightAppends: o.maxInflightAppends,
      atomicAppend: o.atomicAppend ?? false,
      initial: { hardState: { ...st.hardState }, snapshot: st.snapshot?.meta, entries: st.entries.slice() },
      snapshotSource: () => ({ meta: { index: n.sm.length }, data: n.sm.slice() }),
      now: this.now,
    });
    const t = this.net.transport(n.id);
    n.transport = t;
    const inc = n.incarnation;
    t.onMessage((from, msg) => {
      if (!n.alive || n.incarnation !== inc) return;
      if ((msg as RaftMessage | undefined)?.from !== from) return; // the driver checks the authenticated sender
      n.raft.step(msg, this.now);
      this.pump(n);
    });
    this.pump(n);
  }

  /** Throw the node away; what it had not persisted is lost (or half written, when `partial`). */
  crash(id: string, partial = this.rnd() < 0.5): void {
    const n = this.node(id);
    if (!n.alive) return;
    if (n.persisting && partial) this.#write(n, n.persisting, Math.floor(this.rnd() * (this.#opsOf(n.persisting) + 1)));
    n.alive = false;
    n.persisting = undefined;
    n.timer?.cancel();
    n.timer = undefined;
    n.timerAt = undefined;
    n.transport?.closeNow();
    n.transport = undefined;
    this.stats.crashes++;
  }

  restart(id: string): void {
    const n = this.node(id);
    if (n.alive) return;
    this.stats.restarts++;
    this.start(n);
  }

  // ---- the driver loop ----

  pump(n: SimNode): void {
    if (!n.alive) return;
    for (let guard = 0; !n.persisting; guard++) {
      if (guard > 200) {
        this.verifier.fail(`${n.id}: more than 200 Readies in a row at ${this.now}`);
        break;
      }
      const rd = n.raft.ready();
      if (!rd) break;
      n.readies++;
      this.stats.readies++;
      this.opts.onReady?.(n, rd);
      if (rd.softState?.role === 'leader') this.verifier.leader(rd.softState.term, n.id, this.#has(n));
      const f = this.storageFaults;
      if (f.failRate > 0 && this.rnd() < f.failRate) {
        // a failed append writes a prefix of the Ready's operations; with atomic appends none of its entries
        const upTo = this.opts.atomicAppend ? this.#opsOf(rd) - rd.entries.length : this.#opsOf(rd);
        this.#write(n, rd, Math.floor(this.rnd() * (upTo + 1)));
        this.stats.persistFailed++;
        n.raft.persistFailed(rd, this.now);
        continue;
      }
      if (f.slowRate > 0 && this.rnd() < f.slowRate) {
        this.stats.slowPersists++;
        n.persisting = rd;
        const inc = n.incarnation;
        this.clock.setTimeout(() => {
          if (!n.alive || n.incarnation !== inc || n.persisting !== rd) return;
          n.persisting = undefined;
          this.#complete(n, rd);
          this.pump(n);
        }, 1 + Math.floor(this.rnd() * f.maxPersistMs));
        break;
      }
      this.#complete(n, rd);
    }
    this.#scheduleTick(n);
  }

  #scheduleTick(n: SimNode): void {
    if (!n.alive) return;
    const d = n.raft.nextDeadline();
    if (n.timer && n.timerAt === d) return;
    n.timer?.cancel();
    n.timerAt = d;
    const inc = n.incarnation;
    n.timer = this.clock.setTimeout(() => {
      if (!n.alive || n.incarnation !== inc) return;
      n.timer = undefined;
      n.timerAt = undefined;
      const now = this.now;
      if (n.ticksAt.at === now) {
        if (++n.ticksAt.n > 50) {
          this.verifier.fail(`${n.id}: nextDeadline() stays at ${now} after tick() (livelock)`);
          return;
        }
      } else {
        n.ticksAt = { at: now, n: 1 };
      }
      n.raft.tick(now);
      this.pump(n);
    }, Math.max(0, d - this.now));
  }

  #opsOf(rd: Ready): number {
    return (rd.hardState ? 1 : 0) + (rd.snapshot ? 1 : 0) + (rd.truncateFrom !== undefined ? 1 : 0) + rd.entries.length;
  }

  /** Write the first `limit` operations of rd to the node's disk, in the order the driver must use. */
  #write(n: SimNode, rd: Ready, limit = Infinity): void {
    const st = n.storage;
    let ops = 0;
    if (rd.hardState) {
      if (ops++ >= limit) return;
      st.hardState = this.opts.bugs?.forgetVotes ? { term: rd.hardState.term } : { ...rd.hardState };
    }
    if (rd.snapshot) {
      if (ops++ >= limit) return;
      st.snapshot = rd.snapshot;
      st.entries = [];
    }
    if (rd.truncateFrom !== undefined) {
      if (ops++ >= limit) return;
      const from = rd.truncateFrom;
      if (st.entries.length && st.entries[st.entries.length - 1].index >= from) st.entries = st.entries.filter((e) => e.index < from);
    }
    for (const e of rd.entries) {
      if (ops++ >= limit) return;
      const last = n.lastIndex;
      if (e.index !== last + 1) {
        this.verifier.fail(`${n.id}: Ready entry ${e.index} does not follow the disk's last index ${last} (truncateFrom ${rd.truncateFrom})`);
        return;
      }
      const prevTerm = n.lastTerm;
      st.entries.push(e);
      this.verifier.persisted(n.id, e, prevTerm);
    }
  }

  #complete(n: SimNode, rd: Ready): void {
    this.#write(n, rd);
    for (const m of rd.messages) {
      if (m.type === 'append') this.verifier.leader(m.term, m.from);
      n.transport?.send(m.to, m);
    }
    if (rd.applySnapshot) {
      const items = rd.applySnapshot.data as AppliedItem[];
      items.forEach((it, i) => {
        if (it.index !== i + 1) this.verifier.fail(`${n.id}: snapshot item ${i} has index ${it.index}`);
      });
      if (items.length !== rd.applySnapshot.meta.index) this.verifier.fail(`${n.id}: snapshot at ${rd.applySnapshot.meta.index} holds ${items.length} entries`);
      for (const it of items) this.verifier.applied(n.id, it, n.raft.term);
      n.sm = items.slice();
    }
    for (const e of rd.committed) {
      if (e.index !== n.sm.length + 1) {
        this.verifier.fail(`${n.id}: applied ${e.index} after ${n.sm.length} (each entry once, in order)`);
        continue;
      }
      const it: AppliedItem = { index: e.index, term: e.term, type: e.type };
      if (e.data !== undefined) it.data = e.data;
      n.sm.push(it);
      this.verifier.applied(n.id, it, n.raft.term);
      const v = this.proposals.get(`${n.id}:${e.index}:${e.term}`);
      if (v !== undefined) {
        if (e.data !== v) this.verifier.fail(`${n.id}: committed ${e.index}/${e.term} holds ${JSON.stringify(e.data)}, proposed ${v}`);
        this.verifier.acked(v, e.index, e.term);
        this.stats.acked++;
      }
    }
    for (const d of rd.dropped ?? []) {
      const key = `${n.id}:${d.index}:${d.term}`;
      this.drops.push({ node: n.id, ...d, value: this.opts.atomicAppend ? this.proposals.get(key) : undefined });
      // definitively lost: a later entry at the same place (an atomic append's leader stays) is another one
      this.proposals.delete(key);
      this.stats.dropped++;
    }
    n.raft.advance(rd, this.now);
  }

  /** Does n's log (memory, state machine or snapshot) hold (index, term)? */
  #has(n: SimNode): HasEntry {
    return (index, term) => {
      const t = n.raft.termAt(index);
      if (t !== undefined) return t === term;
      const it = n.sm[index - 1];
      if (it) return it.term === term;
      for (const s of [n.storage.snapshot, n.persisting?.snapshot]) {
        const items = s?.data as AppliedItem[] | undefined;
        if (items && items[index - 1]) return items[index - 1].term === term;
      }
      return false;
    };
  }

  // ---- time ----

  run(ms: number): void {
    this.clock.advance(ms, 5_000_000);
  }

  /** Run until pred() holds (checked every stepMs), at most maxMs; true when it held. */
  runUntil(pred: () => boolean, maxMs: number, stepMs = 10): boolean {
    const end = this.now + maxMs;
    while (this.now < end) {
      if (pred()) return true;
      this.clock.runUntil(Math.min(this.now + stepMs, end), 5_000_000);
    }
    return pred();
  }

  // ---- the fleet from the outside ----

  /** The live node that leads at the highest term. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) if (n.alive && n.raft.role === 'leader' && (!best || n.raft.term > best.raft.term)) best = n;
    return best;
  }

  readyLeader(): SimNode | undefined {
    const l = this.leader();
    return l && l.raft.status(this.now).leaderReady ? l : undefined;
  }

  /** Propose at `at` (default: the leader); undefined when refused. */
  propose(at?: SimNode, value = this.nextValue()): { index: number; term: number; value: string } | undefined {
    const n = at ?? this.leader();
    if (!n || !n.alive) return undefined;
    try {
      const r = n.raft.propose(value, this.now);
      this.proposals.set(`${n.id}:${r.index}:${r.term}`, value);
      this.stats.proposals++;
      this.pump(n);
      return { ...r, value };
    } catch (err) {
      if (err instanceof NotLeaderError) this.stats.notLeader++;
      else if (!(err instanceof RaftError)) throw err;
      return undefined;
    }
  }

  /** Propose a config derived from the leader's current one; undefined when refused. */
  changeConfig(f: (members: Member[]) => Member[] | undefined): { index: number; term: number } | undefined {
    const l = this.leader();
    const cfg = l?.raft.status(this.now).config;
    if (!l || !cfg) return undefined;
    const next = f(cfg.members.map((m) => ({ ...m })));
    if (!next) return undefined;
    try {
      const r = l.raft.proposeConfig({ members: next }, this.now);
      this.stats.configChanges++;
      this.pump(l);
      return r;
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      return undefined;
    }
  }

  /** Add a fresh node as a learner (the leader promotes it once it caught up). */
  addLearner(): SimNode | undefined {
    const id = `n${this.#nodeSeq + 1}`;
    const r = this.changeConfig((ms) => [...ms, { id, voter: false }]);
    if (!r) return undefined;
    return this.addJoiner();
  }

  removeMember(id: string): boolean {
    return !!this.changeConfig((ms) => (ms.some((m) => m.id === id) ? ms.filter((m) => m.id !== id) : undefined));
  }

  /** What the driver does after writing a snapshot file: snapshot at the applied index, then compact. */
  compact(id: string): boolean {
    const n = this.node(id);
    if (!n.alive) return false;
    const index = n.sm.length;
    if (index <= (n.storage.snapshot?.meta.index ?? 0) || n.raft.status(this.now).appliedIndex < index) return false;
    let meta;
    try {
      meta = n.raft.snapshotMetaAt(index);
    } catch {
      return false;
    }
    n.storage.snapshot = { meta, data: n.sm.slice(0, index) };
    n.storage.entries = n.storage.entries.filter((e) => e.index > index);
    n.raft.compact(index);
    this.stats.compactions++;
    return true;
  }

  transfer(): string | undefined {
    const l = this.leader();
    if (!l) return undefined;
    try {
      const to = l.raft.transferLeadership(undefined, this.now);
      this.stats.transfers++;
      this.pump(l);
      return to;
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      return undefined;
    }
  }

  /** Heal the network, restart every crashed node, stop storage faults and loss. */
  healAll(): void {
    this.net.heal();
    this.net.setFaults({ dropRate: 0, minDelayMs: 1, maxDelayMs: 10, reorderRate: 0 });
    this.storageFaults = { ...DEFAULT_STORAGE };
    for (const n of this.nodes.values()) if (!n.alive) this.restart(n.id);
  }

  /** Members of the leader's config (the fleet as it stands). */
  members(): string[] {
    const l = this.leader();
    return (l?.raft.status(this.now).config?.members ?? []).map((m) => m.id);
  }

  /**
   * Liveness after healing: a leader ready to serve within maxMs, a final proposal that commits,
   * and every member applying it. Then the final safety checks. Returns the final value.
   */
  settle(maxMs = 60_000): string | undefined {
    if (!this.runUntil(() => !!this.readyLeader(), maxMs)) {
      this.verifier.fail(`liveness: no leader ready to serve ${maxMs} ms after healing (${this.describe()})`);
      return undefined;
    }
    const deadline = this.now + maxMs;
    const isCommitted = (f: { index: number; value: string }) => this.verifier.canonAt(f.index)?.content === `ops|${JSON.stringify(f.value)}`;
    let final: { index: number; term: number; value: string } | undefined;
    for (let attempt = 0; attempt < 10_000 && this.now < deadline; attempt++) {
      const l = this.readyLeader();
      final = l ? this.propose(l) : undefined;
      if (!final) {
        this.run(10);
        continue;
      }
      const f = final;
      this.runUntil(() => isCommitted(f) || this.leader()?.raft.term !== f.term, deadline - this.now);
      if (isCommitted(f)) break;
      final = undefined;
    }
    if (!final) {
      this.verifier.fail(`liveness: a final proposal did not commit within ${maxMs} ms after healing (${this.describe()})`);
      return undefined;
    }
    const value = final.value;
    const at = final.index;
    const applied = this.runUntil(() => {
      const ms = this.members();
      return ms.length > 0 && ms.every((id) => this.nodes.get(id)?.alive && (this.nodes.get(id)?.sm.length ?? 0) >= at);
    }, maxMs);
    if (!applied) {
      this.verifier.fail(`liveness: not every member applied the final proposal within ${maxMs} ms (${this.describe()})`);
      return value;
    }
    this.finalChecks();
    return value;
  }

  finalChecks(): void {
    const members = this.members().map((id) => this.node(id));
    this.verifier.finalCheck(members.map((n) => ({ id: n.id, applied: n.sm })));
    for (const d of this.drops) this.verifier.droppedNeverApplied(d.index, d.term, d.node, d.value);
  }

  describe(): string {
    return [...this.nodes.values()].map((n) => {
      if (!n.alive) return `${n.id}:down`;
      const s = n.raft.status(this.now);
      return `${n.id}:${s.role[0]}${s.term}${s.leader ? `>${s.leader}` : ''} c${s.commitIndex} a${s.appliedIndex} l${s.lastIndex}/${s.lastTerm}${s.config?.members.some((m) => m.id === n.id && m.voter) ? '' : s.config?.members.some((m) => m.id === n.id) ? ' learner' : ' out'}`;
    }).join(', ');
  }
}

// ---------------------------------------------------------------------------------------------
// Randomized schedules
// ---------------------------------------------------------------------------------------------

export interface ScheduleOptions {
  size: number;
  /** Chaos events before healing. */
  events: number;
}

export interface ScheduleResult {
  seed: number;
  size: number;
  errors: string[];
  events: number;
  /** Simulated ms, and messages sent. */
  simMs: number;
  messages: number;
  leaders: number;
  stats: ClusterStats;
  actions: Record<string, number>;
}

/**
 * One randomized schedule: proposals mixed with partitions (minority and majority splits, the
 * leader cut off, one-way blocks), loss, delay and reordering, crashes and restarts (half
 * written Readies), storage failures and slow fsyncs, membership changes (learner added and
 * promoted, members removed, the leader included), compactions and leadership transfers; then
 * everything heals and the fleet must elect a leader and commit a final proposal everywhere.
 */
export function runSchedule(seed: number, opts: ScheduleOptions): ScheduleResult {
  const c = new Cluster({
    seed,
    size: opts.size,
    faults: { dropRate: 0, minDelayMs: 1, maxDelayMs: 20 },
    maxEntriesPerAppend: [1, 3, 8, 64][seed % 4],
    maxInflightAppends: [1, 4, 16][seed % 3],
    serialize: seed % 8 === 0, // JSON copies as on the wire (slower; the core never aliases what it receives)
    atomicAppend: seed % 2 === 1, // half the schedules as the daemon runs it: all-or-nothing appends, leaders stay after a failed one
  });
  const r = c.rnd;
  const pick = <T>(xs: T[]): T | undefined => (xs.length ? xs[Math.floor(r() * xs.length)] : undefined);
  const actions: Record<string, number> = {};
  const did = (a: string) => { actions[a] = (actions[a] ?? 0) + 1; };
  const maxNodes = opts.size + 3;
  const start = c.now;
  c.run(2500);
  for (let i = 0; i < opts.events; i++) {
    const x = r();
    const alive = c.alive();
    const ids = [...c.nodes.keys()];
    if (x < 0.3) {
      // at the newest leader, at any node that believes it leads (stale minority leaders build
      // uncommitted tails that must be overwritten), or at a random node (NotLeader)
      const y = r();
      const leaders = alive.filter((n) => n.raft.role === 'leader');
      const at = y < 0.6 ? c.leader() : y < 0.85 ? pick(leaders) : pick(alive);
      const n = 1 + Math.floor(r() * (r() < 0.2 ? 12 : 3));
      for (let k = 0; k < n; k++) c.propose(at);
      did('propose');
    } else if (x < 0.37) {
      const shuffled = ids.slice();
      for (let k = shuffled.length - 1; k > 0; k--) {
        const j = Math.floor(r() * (k + 1));
        [shuffled[k], shuffled[j]] = [shuffled[j], shuffled[k]];
      }
      const cut = 1 + Math.floor(r() * (shuffled.length - 1));
      c.net.partition(shuffled.slice(0, cut), shuffled.slice(cut));
      did('partition');
    } else if (x < 0.41) {
      const l = c.leader();
      if (l) c.net.isolate(l.id);
      did('isolate-leader');
    } else if (x < 0.45) {
      const a = pick(ids);
      const b = pick(ids);
      if (a && b && a !== b) c.net.block(a, b);
      did('block');
    } else if (x < 0.52) {
      c.net.heal();
      did('heal');
    } else if (x < 0.57) {
      const drop = pick([0, 0, 0.05, 0.2]) ?? 0;
      const maxDelay = pick([5, 20, 80, 200]) ?? 20;
      c.net.setFaults({ dropRate: drop, minDelayMs: 1, maxDelayMs: maxDelay, reorderRate: r() < 0.3 ? 0.2 : 0, reorderDelayMs: 100 });
      did('link-faults');
    } else if (x < 0.63) {
      const n = r() < 0.4 ? c.leader() : pick(alive);
      if (n) c.crash(n.id);
      did('crash');
    } else if (x < 0.69) {
      const n = pick([...c.nodes.values()].filter((m) => !m.alive));
      if (n) c.restart(n.id);
      did('restart');
    } else if (x < 0.73) {
      c.storageFaults = { failRate: pick([0, 0, 0.05, 0.2]) ?? 0, slowRate: pick([0, 0.3, 0.7]) ?? 0, maxPersistMs: pick([5, 30, 150]) ?? 30 };
      did('storage-faults');
    } else if (x < 0.77) {
      if (c.nodes.size < maxNodes && c.addLearner()) did('add-learner');
    } else if (x < 0.8) {
      const l = c.leader();
      const cfg = l?.raft.status(c.now).config;
      const voters = cfg?.members.filter((m) => m.voter) ?? [];
      const learners = cfg?.members.filter((m) => !m.voter) ?? [];
      // down to two voters, and now and then to one (a leader of two removing itself)
      const victim = (voters.length > 2 || (voters.length === 2 && r() < 0.3)) && r() < 0.7 ? pick(voters) : pick(learners);
      if (victim && c.removeMember(victim.id)) did(victim.id === l?.id ? 'remove-leader' : 'remove');
    } else if (x < 0.86) {
      const n = pick(alive);
      if (n && c.compact(n.id)) did('compact');
    } else if (x < 0.88) {
      if (c.transfer()) did('transfer');
    } else {
      did('idle');
    }
    c.run(20 + Math.floor(r() * 600));
  }
  c.healAll();
  c.settle(60_000);
  return {
    seed,
    size: opts.size,
    errors: c.verifier.errors,
    events: opts.events,
    simMs: c.now - start,
    messages: c.net.stats.sent,
    leaders: c.verifier.leaders.size,
    stats: c.stats,
    actions,
  };
}
