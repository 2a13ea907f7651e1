/**
 * Membership: how a board becomes a member of the fleet and stays one.
 *
 * - A brand-new state directory bootstraps a fleet of one at once (`npm start`: elected in
 *   milliseconds). A store from before fleets becomes a fleet of one with this member.
 * - Boards of one cluster that share the token find each other with mDNS (discovery.ts) or
 *   static peer addresses, and ask each other `hello` over the authenticated peer channel.
 *   A board whose fleet is a *pristine fleet of one* (nothing but its bootstrap entries: no
 *   user data, no pods) gives it up and joins the best fleet it found: one holding data first,
 *   then the one with more members, then the lowest fleet id, so boards started together end
 *   in one fleet. A fleet that holds data never dissolves; two such fleets with one name and
 *   token are reported, never merged.
 * - Joining: the joiner starts with an empty log and asks a member to `join`; the leader adds
 *   it as a learner (it gets the log or a snapshot) and promotes it to a voter once it caught
 *   up. Every member also says `join` to the leader after it starts, so a changed address or
 *   port is updated in the membership.
 * - The membership (the config entries of the replicated log) is the address book of the
 *   peer channel. Liveness never comes from mDNS.
 */
import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import { backoffDelay, jittered } from '../lib/backoff.js';
import { DiskLog, LOG_FILE, SNAPSHOT_FILE, type Entry } from '../state/log.js';
import type { Store } from '../state/store.js';
import { readTermFile, writeTermFile, TERM_FILE, type TermFile } from './hardstate.js';
import { PeerTransport, type PeerAddress } from './peer.js';
import { Discovery, type DiscoveredPeer } from './discovery.js';
import { Replication, latestConfig, toDiskEntry } from './replication.js';
import { RaftNode } from './raft/node.js';
import type { ClusterConfig, Member, RaftStatus, SoftState } from './raft/types.js';

export interface FleetSettings {
  peerHost: string;
  peerPort: number;
  discovery: boolean;
  /** host:port of members to ask when multicast does not work. */
  peers: string[];
  electionTimeoutMs: number;
  heartbeatMs: number;
  snapshotEvery: number;
}

export interface FleetOptions {
  cluster: string;
  node: string;
  stateDir: string;
  token: string;
  /** This board's LAN address (advertised, and how members reach it). */
  address: string;
  /** The MQTT port this board's broker listens on when it leads. */
  mqttPort: number;
  version: string;
  settings: FleetSettings;
  store: Store;
  logger: Logger;
  clock: Clock;
  random: Random;
}

/** What a member says about itself (`hello`), and what the CLI reads when there is no leader. */
export interface MemberView {
  node: string;
  cluster: string;
  fleet: string;
  role: SoftState['role'];
  term: number;
  leader?: string;
  pristine: boolean;
  members: number;
  version: string;
  commitIndex: number;
  readOnly?: string;
}

export interface MemberStatus {
  name: string;
  voter: boolean;
  address?: string;
  /** As the leader sees it: heard from within an election timeout. */
  reachable: boolean;
  lastContactMs?: number;
  matchIndex?: number;
}

export interface FleetStatus extends MemberView {
  lastIndex: number;
  appliedIndex: number;
  memberList: MemberStatus[];
  quorum: { voters: number; needed: number; reachable: number; ok: boolean };
}

type Req = { op?: unknown; member?: unknown };

const SETTLE_MS = 1500;

function parseHostPort(s: string, defaultPort: number): PeerAddress | undefined {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(s.trim());
  if (!m) return undefined;
  return { host: m[1] as string, port: m[2] ? Number(m[2]) : defaultPort };
}

/** Better fleet first: one holding data, more members, lower id. */
function better(a: { pristine: boolean; members: number; fleet: string }, b: { pristine: boolean; members: number; fleet: string }): boolean {
  if (a.pristine !== b.pristine) return !a.pristine;
  if (a.members !== b.members) return a.members > b.members;
  return a.fleet < b.fleet;
}

export class Fleet extends EventEmitter {
  readonly #o: FleetOptions;
  readonly #log: Logger;
  readonly peer: PeerTransport;
  #repl!: Replication;
  #disk!: DiskLog;
  #discovery: Discovery | undefined;
  #candidates = new Map<string, { view: MemberView; addr: PeerAddress }>();
  #settle: TimerHandle | undefined;
  #probe: TimerHandle | undefined;
  #announce: TimerHandle | undefined;
  #announceAttempt = 0;
  #joining = false;
  #stopped = false;
  #warned = new Set<string>();

  private constructor(opts: FleetOptions, peer: PeerTransport) {
    super();
    this.#o = opts;
    this.#log = opts.logger.child({ component: 'fleet' });
    this.peer = peer;
  }

  static async open(opts: FleetOptions): Promise<Fleet> {
    const s = opts.settings;
    const peer = await PeerTransport.listen({
      self: opts.node, cluster: opts.cluster, token: opts.token, host: s.peerHost, port: s.peerPort,
      logger: opts.logger, clock: opts.clock, random: opts.random,
    });
    const fleet = new Fleet(opts, peer);
    try {
      await fleet.#openReplication(undefined);
    } catch (err) {
      await peer.close();
      throw err;
    }
    peer.onRequest((from, req) => fleet.#onRequest(from, req as Req));
    return fleet;
  }

  get replication(): Replication { return this.#repl; }
  /** Why this member's log refuses writes, when it does. */
  get readOnly(): string | undefined { return this.#disk.readOnly; }
  get fleetId(): string { return this.#repl.fleet; }
  get self(): Member {
    return { id: this.#o.node, voter: true, address: this.#o.address, peerPort: this.peer.port, ...(this.#o.mqttPort > 0 ? { mqttPort: this.#o.mqttPort } : {}) };
  }

  /** Start elections, discovery and static peers. */
  start(): void {
    this.#repl.start();
    if (this.#o.settings.discovery) {
      this.#discovery = Discovery.start({
        cluster: this.#o.cluster, node: this.#o.node, peerPort: this.peer.port, address: this.#o.address, version: this.#o.version,
        txt: { fleet: this.fleetId }, logger: this.#o.logger, clock: this.#o.clock,
      });
      this.#discovery.on('peer', (p: DiscoveredPeer) => { void this.#consider({ host: p.host, port: p.peerPort }, p.node, p.fleet); });
    }
    this.#probeStatic(1);
  }

  // ------------------------------------------------------------------ opening the log

  async #openReplication(joinFleet: string | undefined): Promise<void> {
    const o = this.#o;
    const storeDir = join(o.stateDir, 'store');
    const { log, snapshot, entries } = await DiskLog.open(storeDir, { logger: o.logger, clock: o.clock, stateDir: o.stateDir });
    try {
      await this.#startReplication(log, snapshot, entries, joinFleet);
    } catch (err) {
      await log.close();
      throw err;
    }
  }

  async #startReplication(log: DiskLog, snapshot: Awaited<ReturnType<typeof DiskLog.open>>['snapshot'], entries: Entry[], joinFleet: string | undefined): Promise<void> {
    const o = this.#o;
    let hs: TermFile = await readTermFile(o.stateDir);
    let fleet = joinFleet ?? hs.fleet;
    if (!latestConfig(snapshot, entries) && !joinFleet) {
      const now = o.clock.now();
      fleet = hs.fleet ?? o.random.uuid();
      const me = { members: [this.self] } satisfies ClusterConfig;
      let add: Entry[];
      if (snapshot || entries.length) {
        // a store from before fleets: it becomes a fleet of one, with its history
        add = [{ index: log.lastIndex + 1, term: Math.max(1, log.lastTerm, hs.term), time: now, type: 'config', data: me }];
        this.#log.info({ fleet }, 'this store predates fleets: it becomes a fleet of one');
      } else {
        add = RaftNode.bootstrap(o.node, me).entries.map((e) => toDiskEntry({ ...e, time: now }));
        this.#log.info({ fleet }, 'new state directory: bootstrapping a fleet of one');
      }
      await log.append(add);
      entries.push(...add);
      hs = { term: Math.max(hs.term, (add[add.length - 1] as Entry).term), fleet };
      await writeTermFile(o.stateDir, hs);
    } else if (!fleet) {
      fleet = o.random.uuid();
      hs = { ...hs, fleet };
      await writeTermFile(o.stateDir, hs);
    }
    this.#disk = log;
    this.#repl = new Replication({
      self: o.node, stateDir: o.stateDir, fleet: fleet as string, store: o.store, log, snapshot, entries, hardState: hs,
      transport: this.peer, clock: o.clock, random: o.random, logger: o.logger,
      electionTimeoutMs: o.settings.electionTimeoutMs, heartbeatMs: o.settings.heartbeatMs, snapshotEvery: o.settings.snapshotEvery,
    });
    o.store.attach(this.#repl);
    this.#repl.on('soft', (s: SoftState, was: SoftState) => this.#onSoft(s, was));
    this.#repl.on('config', (c: ClusterConfig | undefined) => this.#onConfig(c));
    this.#onConfig(this.#repl.config());
  }

  #onConfig(c: ClusterConfig | undefined): void {
    const ids = new Set<string>();
    for (const m of c?.members ?? []) {
      if (m.id === this.#o.node || !m.address || !m.peerPort) continue;
      ids.add(m.id);
      this.peer.setPeer(m.id, { host: m.address, port: m.peerPort });
    }
    for (const id of Object.keys(this.peer.stats())) if (!ids.has(id)) this.peer.removePeer(id);
    this.emit('config', c);
  }

  #onSoft(s: SoftState, was: SoftState): void {
    this.#discovery?.update({ fleet: this.fleetId, ...(s.leader ? { leader: s.leader } : {}) });
    // tell the leader where we are (a new member, or an address that changed)
    if (s.leader && s.leader !== was.leader) this.#scheduleAnnounce(true);
    this.emit('soft', s, was);
  }

  // ------------------------------------------------------------------ state

  members(): Member[] {
    return this.#repl.config()?.members ?? [];
  }

  member(id: string): Member | undefined {
    return this.members().find((m) => m.id === id);
  }

  view(): MemberView {
    const st = this.#repl.status();
    return {
      node: this.#o.node, cluster: this.#o.cluster, fleet: this.fleetId, role: st.role, term: st.term,
      ...(st.leader ? { leader: st.leader } : {}), pristine: this.#o.store.isPristine(),
      members: st.config?.members.length ?? 0, version: this.#o.version, commitIndex: st.commitIndex,
      ...(this.#disk.readOnly ? { readOnly: this.#disk.readOnly } : {}),
    };
  }

  status(): FleetStatus {
    const st: RaftStatus = this.#repl.status();
    const window = this.#o.settings.electionTimeoutMs;
    const leading = st.role === 'leader';
    const memberList: MemberStatus[] = (st.config?.members ?? []).map((m) => {
      const p = st.peers[m.id];
      const self = m.id === this.#o.node;
      const ms = self ? 0 : p?.lastContactMs;
      return {
        name: m.id, voter: m.voter, ...(m.address ? { address: m.address } : {}),
        reachable: self || (leading ? ms !== undefined && ms <= window : m.id === st.leader),
        ...(ms !== undefined ? { lastContactMs: ms } : {}),
        ...(p ? { matchIndex: self ? st.lastIndex : p.match } : {}),
      };
    });
    const voters = memberList.filter((m) => m.voter);
    const reachable = voters.filter((m) => m.reachable).length;
    const needed = Math.floor(voters.length / 2) + 1;
    return { ...this.view(), lastIndex: st.lastIndex, appliedIndex: st.appliedIndex, memberList, quorum: { voters: voters.length, needed, reachable, ok: reachable >= needed } };
  }

  /** Leader: remove a member from the fleet (its certificate of membership, not its containers). */
  async removeMember(name: string): Promise<void> {
    const cfg = this.#repl.config();
    if (!cfg?.members.some((m) => m.id === name)) throw new Error(`node "${name}" is not a member of this fleet`);
    if (name === this.#o.node && cfg.members.length === 1) throw new Error('the last member cannot remove itself');
    await this.#repl.changeConfig({ members: cfg.members.filter((m) => m.id !== name) });
    this.#log.info({ node: name }, 'member removed from the fleet');
  }

  // ------------------------------------------------------------------ requests from peers

  async #onRequest(from: { node: string; address: string }, req: Req): Promise<unknown> {
    switch (req?.op) {
      case 'hello': return this.view();
      case 'status': return this.status();
      case 'join': return this.#handleJoin(from, req.member, (req as { fresh?: unknown }).fresh === true);
      default: throw new Error(`unknown request ${JSON.stringify(String(req?.op)).slice(0, 40)}`);
    }
  }

  async #handleJoin(from: { node: string; address: string }, raw: unknown, fresh = false): Promise<unknown> {
    const m = raw as Partial<Member> | undefined;
    if (!m || m.id !== from.node || typeof m.address !== 'string' || !Number.isInteger(m.peerPort) || (m.mqttPort !== undefined && !Number.isInteger(m.mqttPort))) {
      throw new Error('join needs member {id (= the peer\'s own name), address, peerPort, mqttPort}');
    }
    if (!this.#repl.leaderReady) {
      const leader = this.#repl.leader ? this.member(this.#repl.leader) : undefined;
      if (leader?.address && leader.peerPort && leader.id !== this.#o.node) return { redirect: { host: leader.address, port: leader.peerPort }, leader: leader.id, fleet: this.fleetId };
      throw new Error('no leader right now: retry');
    }
    const cfg = this.#repl.config() ?? { members: [] };
    const cur = cfg.members.find((x) => x.id === m.id);
    // a member that comes back with an empty log catches up as a learner before it votes again
    // (its vote must never stand for entries it no longer holds)
    const next: Member = { id: m.id, voter: fresh ? false : cur?.voter ?? false, address: m.address, peerPort: m.peerPort as number, ...(m.mqttPort !== undefined ? { mqttPort: m.mqttPort } : {}) };
    if (cur && cur.voter === next.voter && cur.address === next.address && cur.peerPort === next.peerPort && cur.mqttPort === next.mqttPort) return { ok: true, fleet: this.fleetId, members: cfg.members };
    const members = cur ? cfg.members.map((x) => (x.id === m.id ? next : x)) : [...cfg.members, next];
    await this.#repl.changeConfig({ members });
    this.#log.info({ node: m.id, address: m.address, learner: !cur }, cur ? 'member address updated' : 'a new member joins (as a learner until it caught up)');
    // the joiner learns where everybody is before the log tells it
    return { ok: true, fleet: this.fleetId, members };
  }

  /** Tell the leader our address (after start, or when the leader changed); retried with backoff. */
  #scheduleAnnounce(reset: boolean): void {
    if (this.#stopped) return;
    if (reset) this.#announceAttempt = 0;
    this.#announce?.cancel();
    const delay = this.#announceAttempt === 0 ? 0 : jittered(backoffDelay(this.#announceAttempt, 500, 10_000), 0.3, () => this.#o.random.float());
    this.#announce = this.#o.clock.setTimeout(() => { void this.#sendAnnounce(); }, delay);
  }

  async #sendAnnounce(): Promise<void> {
    const leader = this.#repl.leader;
    if (this.#stopped || !leader) return;
    const me = this.member(this.#o.node);
    const self = this.self;
    // not a member (removed from the fleet): never ask to be added back by ourselves
    if (!me) return;
    if (me.address === self.address && me.peerPort === self.peerPort && me.mqttPort === self.mqttPort) return;
    if (leader === this.#o.node) {
      // the leader updates its own entry
      if (!this.#repl.leaderReady) { this.#announceAttempt++; this.#scheduleAnnounce(false); return; }
      try { await this.#handleJoin({ node: self.id, address: self.address ?? '' }, self); } catch { this.#announceAttempt++; this.#scheduleAnnounce(false); }
      return;
    }
    try {
      await this.peer.request(leader, { op: 'join', member: self }, 5000);
    } catch (err) {
      this.#announceAttempt++;
      this.#log.debug({ err: (err as Error).message }, 'telling the leader our address failed: retrying');
      this.#scheduleAnnounce(false);
    }
  }

  // ------------------------------------------------------------------ finding other boards

  #probeStatic(attempt: number): void {
    const peers = this.#o.settings.peers;
    if (this.#stopped || peers.length === 0) return;
    for (const p of peers) {
      const addr = parseHostPort(p, this.#o.settings.peerPort);
      if (addr) void this.#consider(addr, undefined, undefined);
    }
    // while we are a pristine fleet of one, keep asking (a board that starts later)
    this.#probe = this.#o.clock.setTimeout(() => this.#probeStatic(attempt + 1), backoffDelay(attempt, 2000, 30_000));
  }

  /** A board of our cluster (and token) was found: merge into its fleet when that is right. */
  async #consider(addr: PeerAddress, node: string | undefined, fleet: string | undefined): Promise<void> {
    if (this.#stopped || this.#joining || node === this.#o.node) return;
    if (fleet && fleet === this.fleetId) return;
    const mine = this.view();
    const single = mine.members <= 1 && mine.pristine;
    let view: MemberView;
    try {
      view = await this.peer.request(addr, { op: 'hello' }, 3000) as MemberView;
    } catch (err) {
      this.#log.debug({ host: addr.host, port: addr.port, err: (err as Error).message }, 'hello to a discovered board failed');
      return;
    }
    if (!view || typeof view.fleet !== 'string' || view.fleet === this.fleetId || view.node === this.#o.node || view.cluster !== this.#o.cluster) return;
    if (!single) {
      if (!view.pristine && !mine.pristine && !this.#warned.has(view.fleet)) {
        this.#warned.add(view.fleet);
        this.#log.error({ other: view.node, otherFleet: view.fleet, fleet: this.fleetId },
          'another fleet with the same cluster name and token holds data too: they are not merged; give one of them another cluster name, or remove one\'s state directory so it joins the other');
      }
      return;
    }
    this.#candidates.set(view.fleet, { view, addr });
    // wait until discovery is quiet, then pick the best fleet of all the boards seen
    this.#settle?.cancel();
    this.#settle = this.#o.clock.setTimeout(() => { void this.#decide(); }, SETTLE_MS);
  }

  async #decide(): Promise<void> {
    const mine = this.view();
    if (this.#stopped || this.#joining || mine.members > 1 || !mine.pristine) return;
    let best: { view: MemberView; addr: PeerAddress } | undefined;
    for (const c of this.#candidates.values()) if (!best || better(c.view, best.view)) best = c;
    this.#candidates.clear();
    if (!best || !better(best.view, { pristine: true, members: 1, fleet: this.fleetId })) return;
    await this.#abandonAndJoin(best.view, best.addr);
  }

  /** Give up our pristine fleet of one and join `target`'s fleet. */
  async #abandonAndJoin(target: MemberView, addr: PeerAddress): Promise<void> {
    this.#joining = true;
    const o = this.#o;
    this.#log.info({ fleet: target.fleet, via: target.node, leader: target.leader }, 'joining the fleet found on the network (ours was a new, empty fleet of one)');
    try {
      await this.#repl.stop();
      this.#repl.removeAllListeners();
      await this.#disk.close();
      const storeDir = join(o.stateDir, 'store');
      for (const f of [LOG_FILE, SNAPSHOT_FILE]) await fsp.rm(join(storeDir, f), { force: true });
      await fsp.rm(join(o.stateDir, TERM_FILE), { force: true });
      o.store.loadSnapshot({ index: 0, term: 0, objects: [] });
      // the answer names the fleet: it can differ from the hello's when that board joined another meanwhile
      const accepted = await this.#requestJoin(addr);
      if (accepted) await writeTermFile(o.stateDir, { term: 0, fleet: accepted.fleet });
      await this.#openReplication(accepted?.fleet);
      for (const m of accepted?.members ?? []) {
        if (m && typeof m.id === 'string' && m.id !== o.node && typeof m.address === 'string' && Number.isInteger(m.peerPort)) this.peer.setPeer(m.id, { host: m.address, port: m.peerPort as number });
      }
      this.#discovery?.update({ fleet: this.fleetId });
      this.#repl.start();
      this.emit('replaced', this.#repl);
      if (accepted) this.#log.info({ fleet: accepted.fleet }, 'join accepted: catching up from the leader');
      else this.#log.error('could not join the fleet: running as a new fleet of one again');
    } finally {
      this.#joining = false;
    }
  }

  /** Ask `addr` (and whoever it redirects to) to let us join; bounded. */
  async #requestJoin(addr: PeerAddress): Promise<{ fleet: string; members: Member[] } | undefined> {
    const o = this.#o;
    let to: PeerAddress = addr;
    for (let attempt = 1; attempt <= 60 && !this.#stopped; attempt++) {
      try {
        const r = await this.peer.request(to, { op: 'join', member: this.self, fresh: true }, 5000) as { ok?: boolean; fleet?: string; redirect?: PeerAddress; members?: Member[] };
        if (r?.ok && typeof r.fleet === 'string') return { fleet: r.fleet, members: Array.isArray(r.members) ? r.members : [] };
        if (r?.redirect && typeof r.redirect.host === 'string' && Number.isInteger(r.redirect.port)) { to = r.redirect; continue; }
      } catch (err) {
        this.#log.debug({ err: (err as Error).message, attempt }, 'join request failed: retrying');
      }
      await new Promise<void>((r) => { o.clock.setTimeout(r, jittered(backoffDelay(attempt, 300, 5000), 0.3, () => o.random.float())); });
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#settle?.cancel();
    this.#probe?.cancel();
    this.#announce?.cancel();
    await this.#discovery?.stop();
    await this.#repl.stop();
    await this.peer.close();
    await this.#disk.close();
  }
}
