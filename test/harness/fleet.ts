/**
 * A pifleet fleet in the lab: N daemons (FleetNode) on lab nodes, an in-process API client that
 * finds the leader over the lab's uplink, member status over the peer channel, a writer that
 * keeps applying and records what was acknowledged, the election timeline from every node's
 * log, and what each member's disk holds. Cleanup: daemons by PID, containers by the cluster
 * label on every node's engine, state directories, then the lab itself (Lab's teardown).
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { FleetNode, Lab } from './lab.js';
import { cleanupByLabel } from './docker.js';
import { ensureTestImages } from './images.js';
import { ApiClient } from '../../daemon/src/cli/client.js';
import { peerRequest } from '../../daemon/src/cluster/peer-request.js';
import { parseLog, decodeSnapshot, keysOf } from '../../daemon/src/state/log-format.js';
import type { FleetStatus } from '../../daemon/src/cluster/fleet.js';

export const PEER_PORT = 7438;

export interface FleetOptions {
  env?: Record<string, string>;
  cluster?: string;
}

export class TestFleet {
  readonly nodes = new Map<number, FleetNode>();
  readonly cluster: string;
  readonly token: string;
  readonly stateRoot: string;

  constructor(readonly lab: Lab, readonly opts: FleetOptions = {}) {
    this.cluster = opts.cluster ?? `f${randomBytes(3).toString('hex')}`;
    this.token = `tok-${randomBytes(16).toString('hex')}`;
    this.stateRoot = mkdtempSync(join(tmpdir(), 'pifleet-fleet-'));
  }

  /** A fleet on `lab`; teardown stops every daemon, removes its containers and state. */
  static async create(t: Test, lab: Lab, opts: FleetOptions = {}): Promise<TestFleet> {
    const f = new TestFleet(lab, opts);
    t.teardown(() => f.destroy());
    if (lab.docker) for (let i = 1; i <= lab.nodes; i++) await ensureTestImages({ dockerHost: lab.dockerHost(i) });
    return f;
  }

  node(i: number): FleetNode {
    let n = this.nodes.get(i);
    if (!n) {
      n = new FleetNode(this.lab, i, {
        cluster: this.cluster, token: this.token, stateRoot: this.stateRoot,
        env: { ...(this.lab.docker ? { DOCKER_HOST: this.lab.dockerHost(i) } : { DOCKER_HOST: 'unix:///nonexistent.sock' }), ...this.opts.env },
      });
      this.nodes.set(i, n);
    }
    return n;
  }

  /** Start the daemons of these nodes at once. */
  async start(ids: number[]): Promise<void> {
    await Promise.all(ids.map((i) => this.node(i).start()));
  }

  /** A member's own view over the peer channel (via the uplink); undefined when it does not answer. */
  async status(i: number, timeoutMs = 1500): Promise<FleetStatus | undefined> {
    try {
      return await peerRequest({ host: this.lab.ip(i), port: PEER_PORT }, { cluster: this.cluster, token: this.token, self: `test-${randomBytes(3).toString('hex')}` }, { op: 'status' }, timeoutMs) as FleetStatus;
    } catch {
      return undefined;
    }
  }

  /** Until every given node reports one fleet, one leader and `members` voters, all reachable from the leader. */
  async formed(ids: number[], members = ids.length, timeoutMs = 60_000): Promise<{ leader: string; term: number; fleet: string }> {
    const until = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const st = await Promise.all(ids.map((i) => this.status(i)));
      const ok = st.every((s) => s);
      if (ok) {
        const fleets = new Set(st.map((s) => s!.fleet));
        const leaders = new Set(st.map((s) => s!.leader));
        const leader = st.find((s) => s!.role === 'leader');
        if (fleets.size === 1 && leaders.size === 1 && leader && leader.quorum.voters === members && leader.quorum.reachable === members && leader.memberList.length === members) {
          return { leader: leader.node, term: leader.term, fleet: leader.fleet };
        }
        last = JSON.stringify(st.map((s) => ({ n: s!.node, f: s!.fleet.slice(0, 8), r: s!.role, l: s!.leader, t: s!.term, q: s!.quorum })));
      } else {
        const silent = ids.filter((_, k) => !st[k]);
        last = `no answer from ${silent.join(', ')}: ${silent.map((i) => `node${i} ${this.node(i).running ? 'running' : 'NOT RUNNING'}:\n${this.node(i).tail(15)}`).join('\n')}`;
      }
      if (Date.now() > until) throw new Error(`the fleet did not form within ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Until one of `ids` leads with a quorum it can reach; its lab index. */
  async leaderAmong(ids: number[], timeoutMs = 30_000): Promise<number> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const st = await Promise.all(ids.map((i) => this.status(i)));
      const l = st.find((s) => s?.role === 'leader' && s.quorum.ok);
      if (l) return this.index(l.node);
      if (Date.now() > until) throw new Error(`no leader with a quorum among ${ids.join(', ')} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Until every given member has applied what the leader had committed when asked (bounded). */
  async caughtUp(ids: number[], timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let target: number | undefined;
    for (;;) {
      const st = await Promise.all(ids.map((i) => this.status(i)));
      target ??= st.find((s) => s?.role === 'leader')?.commitIndex;
      if (target !== undefined && st.every((s) => s && s.appliedIndex >= (target as number))) return;
      if (Date.now() > until) throw new Error(`members did not catch up to index ${target} within ${timeoutMs} ms: ${st.map((s, k) => `node${ids[k]}: ${s ? s.appliedIndex : 'no answer'}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The lab node index of a node name ("node3" -> 3). */
  index(name: string): number {
    return Number(name.replace(/^node/, ''));
  }

  /** An API client of the fleet from the test process: tries every node's broker. */
  async api(ids: number[] = [...this.nodes.keys()], timeoutMs = 3000): Promise<ApiClient> {
    return ApiClient.connect({
      server: `mqtt://${this.lab.ip(ids[0] as number)}:1883`,
      servers: ids.map((i) => `mqtt://${this.lab.ip(i)}:1883`),
      peers: ids.map((i) => `${this.lab.ip(i)}:${PEER_PORT}`),
      token: this.token, cluster: this.cluster, source: 'test',
    }, timeoutMs);
  }

  /**
   * Every election the nodes logged: "<fleet>/<term>" -> leaders (from 'leading' lines). Boards
   * started together lead fleets of one each until they merge: those are different fleets.
   */
  timeline(): Map<string, Set<string>> {
    const terms = new Map<string, Set<string>>();
    for (const n of this.nodes.values()) {
      for (const l of n.elections) {
        if (l.msg === 'leading' && typeof l.term === 'number') {
          const key = `${String(l.fleet)}/${l.term}`;
          const s = terms.get(key) ?? new Set<string>();
          s.add(String(l.node));
          terms.set(key, s);
        }
      }
    }
    return terms;
  }

  /** Object keys ("ConfigMap/default/x") a member has in its snapshot and log on disk. */
  keysOnDisk(i: number): Set<string> {
    const dir = join(this.node(i).stateDir, 'store');
    const keys = new Set<string>();
    const snapPath = join(dir, 'snapshot.json');
    let snapIndex = 0;
    if (existsSync(snapPath)) {
      const s = decodeSnapshot(readFileSync(snapPath, 'utf8'));
      if (!('error' in s)) {
        snapIndex = s.index;
        for (const o of s.objects) for (const k of keysOf({ index: 0, term: 0, time: 0, ops: [{ op: 'put', obj: o }] })) keys.add(k);
      }
    }
    const logPath = join(dir, 'log.jsonl');
    if (existsSync(logPath)) {
      for (const e of parseLog(readFileSync(logPath), snapIndex).entries) {
        for (const op of e.ops ?? []) {
          if (op.op === 'del') keys.delete(op.key);
          else if (op.op === 'put') for (const k of keysOf({ ...e, ops: [op] })) keys.add(k);
        }
      }
    }
    return keys;
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.kill9()));
    await this.lab.heal();
    if (this.lab.docker) {
      for (let i = 1; i <= this.lab.nodes; i++) {
        const prev = process.env.DOCKER_HOST;
        process.env.DOCKER_HOST = this.lab.dockerHost(i);
        try { await cleanupByLabel('pifleet.cluster', this.cluster); } catch { /* engine gone */ } finally {
          if (prev === undefined) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = prev;
        }
      }
    }
    rmSync(this.stateRoot, { recursive: true, force: true });
  }
}

/**
 * Applies ConfigMaps one after another while running; every acknowledged one is remembered
 * with its time, every failure with its message. Reconnects to whichever broker answers.
 */
export class Writer {
  readonly acknowledged: Array<{ name: string; at: number }> = [];
  readonly failures: Array<{ at: number; message: string }> = [];
  #stop = false;
  #done: Promise<void> | undefined;
  #seq = 0;

  constructor(private readonly fleet: TestFleet, private readonly ids: () => number[], private readonly prefix = 'w') {}

  start(): void {
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    let api: ApiClient | undefined;
    while (!this.#stop) {
      try {
        // short bounds: a cut board's broker never answers, the others refuse at once
        api ??= await this.fleet.api(this.ids(), 300);
        const name = `${this.prefix}-${this.#seq++}`;
        await api.request('apply', { objects: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { v: name } }] }, 1000);
        this.acknowledged.push({ name, at: Date.now() });
      } catch (err) {
        this.failures.push({ at: Date.now(), message: (err as Error).message });
        await api?.close().catch(() => undefined);
        api = undefined;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await api?.close().catch(() => undefined);
  }

  /** The first acknowledgement after time t (ms since epoch). */
  firstAckAfter(t: number): number | undefined {
    return this.acknowledged.find((a) => a.at > t)?.at;
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}
