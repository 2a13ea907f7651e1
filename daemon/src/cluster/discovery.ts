/**
 * Bootstrap discovery over mDNS (bonjour-service 1.4.4): every board advertises
 * `_pifleet._tcp` with TXT cluster, node, peer (port), v (version), fleet, leader, and reports
 * the boards of its own cluster on its own LAN.
 *
 * For bootstrap only: a board that loses power never sends a goodbye and mDNS caches live for
 * hours, so nothing here says a peer is gone. Liveness comes from the peer channel; `seenAt`
 * is the last time a board was heard of, for information.
 *
 * What bonjour-service does for us: the multicast socket on the given interface, probing for a
 * name conflict, announcing (again after 1, 3, 9 ... s), answering queries, the goodbye.
 * What it gets wrong for us, and is done here instead:
 *  - it advertises an A record for every interface, docker0 (172.17.0.1 on every board) and
 *    veth included: our service carries its own record set, with only this node's LAN address;
 *  - its Browser keeps every service name it ever saw (unbounded), does not refresh lastSeen and
 *    emits nothing on repeated answers: we read the responses ourselves, validate every field,
 *    keep only our cluster, our LAN subnet and at most MAX_PEERS boards;
 *  - a TXT change needs a fresh announcement, which it has no API for: the TXT record object it
 *    was given is updated in place (so answers and re-announcements carry the new one) and
 *    announced at once and 1 s later. This uses two non-public parts (the server's mdns socket
 *    and the records of a published Service), checked at start: the version is pinned.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIPv4 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { Bonjour } from 'bonjour-service';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { LogLimiter } from './peer-conn.js';
import { isClusterName, isNodeName, logSafe } from './peer-protocol.js';

export interface DiscoveredPeer {
  node: string;
  cluster: string;
  /** Its LAN IPv4 address (on our subnet). */
  host: string;
  peerPort: number;
  version?: string;
  fleet?: string;
  leader?: string;
  /** clock.now() when it was last heard of (announcement or answer). */
  seenAt: number;
}

export interface DiscoveryOptions {
  cluster: string;
  node: string;
  peerPort: number;
  /** This node's LAN IPv4: advertised, and the multicast interface. */
  address: string;
  version: string;
  txt?: { fleet?: string; leader?: string };
  logger: Logger;
  clock: Clock;
  /** A bonjour-service Bonjour instance (tests); default: one of our own on `address`, destroyed by stop(). */
  bonjour?: unknown;
  /** os.networkInterfaces, replaceable in tests. */
  networkInterfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
}

export const SERVICE_TYPE = '_pifleet._tcp';
const TYPE_FQDN = `${SERVICE_TYPE}.local`;
const SERVICES_FQDN = '_services._dns-sd._udp.local';
/** The peer table's cap; when full, the board heard of longest ago makes room. */
export const MAX_PEERS = 256;
const MAX_RECORDS_PER_PACKET = 256;
const MAX_INSTANCES_PER_PACKET = 32;
const MAX_TXT_VALUE = 200;
/** Queries after start (ms), then one every QUERY_EVERY_MS: mostly to refresh seenAt. */
const QUERY_AT_MS = [0, 1000, 3000];
const QUERY_EVERY_MS = 60_000;
/** Interfaces whose addresses are never ours to advertise: container bridges, veths, overlays. */
const VIRTUAL_IFACE = /^(docker\d*|br-[0-9a-f]+|veth.*|virbr\d*|cni\d*|flannel.*|cali.*|vxlan.*|lxcbr\d*|lxdbr\d*|podman\d*|kube.*|cilium.*|weave.*)$/;

type Txt = { fleet?: string; leader?: string };

interface OwnRecord { name: string; type: 'PTR' | 'SRV' | 'TXT' | 'A'; ttl: number; data: unknown; flush?: boolean }

interface RR { name?: unknown; type?: unknown; ttl?: unknown; data?: unknown }
interface RInfo { address?: unknown }

/** The parts of bonjour-service 1.4.4 we rely on beyond its typings. */
interface MdnsSocket {
  on(ev: 'response', fn: (packet: { answers?: unknown; additionals?: unknown }, rinfo: RInfo) => void): unknown;
  on(ev: 'error' | 'warning', fn: (err: Error) => void): unknown;
  removeListener(ev: string, fn: (...a: never[]) => void): unknown;
  query(q: unknown, cb?: (err?: Error | null) => void): void;
  respond(r: unknown, cb?: (err?: Error | null) => void): void;
}
interface PublishedService {
  records: () => unknown[];
  txt?: unknown;
  published: boolean;
  activated: boolean;
  destroyed: boolean;
  stop(cb?: () => void): void;
}
interface BonjourLike {
  publish(o: Record<string, unknown>): PublishedService;
  destroy(cb?: () => void): void;
  server: { mdns: MdnsSocket };
}

function asBonjour(b: unknown): BonjourLike {
  const x = b as Partial<BonjourLike> | undefined;
  const m = x?.server?.mdns as Partial<MdnsSocket> | undefined;
  if (typeof x?.publish !== 'function' || typeof x.destroy !== 'function' || typeof m?.on !== 'function'
    || typeof m.query !== 'function' || typeof m.respond !== 'function') {
    throw new Error('bonjour-service is not the expected 1.4.4 (server.mdns with query/respond)');
  }
  return x as BonjourLike;
}

function ipToInt(a: string): number {
  const p = a.split('.').map(Number);
  return (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0);
}

/** `<cluster>-<node>` when that is a DNS label (≤ 63, no dots), else a cut form with a hash of the node name. */
export function instanceName(cluster: string, node: string): string {
  const plain = `${cluster}-${node}`;
  if (plain.length <= 63 && !node.includes('.')) return plain;
  const hash = createHash('sha256').update(node).digest('hex').slice(0, 8);
  return `${plain.replace(/\./g, '-').slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

function printable(v: string, max: number): boolean {
  return v.length > 0 && v.length <= max && !/[\u0000-\u001f\u007f]/.test(v);
}

function encodeTxt(t: Record<string, string | undefined>): Buffer[] {
  return Object.entries(t).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => Buffer.from(`${k}=${v}`));
}

/** TXT strings to key -> value (lower-case keys, first one wins), bounded. */
export function decodeTxt(data: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const items = Array.isArray(data) ? data : [data];
  for (const item of items.slice(0, 32)) {
    const b = Buffer.isBuffer(item) ? item : typeof item === 'string' ? Buffer.from(item) : undefined;
    if (!b || b.length > 255) continue;
    const eq = b.indexOf(0x3d);
    if (eq <= 0) continue;
    const key = b.subarray(0, eq).toString('latin1').toLowerCase();
    if (!out.has(key)) out.set(key, b.subarray(eq + 1).toString('utf8'));
  }
  return out;
}

function sameName(a: unknown, b: string): boolean {
  return typeof a === 'string' && a.toLowerCase() === b;
}

export interface Discovery {
  on(event: 'peer', listener: (peer: DiscoveredPeer) => void): this;
  once(event: 'peer', listener: (peer: DiscoveredPeer) => void): this;
  off(event: 'peer', listener: (peer: DiscoveredPeer) => void): this;
  emit(event: 'peer', peer: DiscoveredPeer): boolean;
}

/** Events: 'peer' (DiscoveredPeer, new or changed). No "gone" event: see above. */
export class Discovery extends EventEmitter {
  readonly #o: DiscoveryOptions;
  readonly #log: Logger;
  readonly #limiter: LogLimiter;
  readonly #bonjour: BonjourLike;
  readonly #owned: boolean;
  readonly #service: PublishedService;
  readonly #records: OwnRecord[];
  readonly #txtRecord: OwnRecord;
  readonly #network: number;
  readonly #mask: number;
  readonly #peers = new Map<string, DiscoveredPeer>();
  readonly #onResponse: (packet: { answers?: unknown; additionals?: unknown }, rinfo: RInfo) => void;
  #txt: Txt;
  readonly #timers: TimerHandle[] = [];
  #queryTimer: TimerHandle | undefined;
  #announceTimer: TimerHandle | undefined;
  #stopped = false;

  private constructor(o: DiscoveryOptions) {
    super();
    if (!isClusterName(o.cluster)) throw new TypeError('cluster must be a DNS-1123 label');
    if (!isNodeName(o.node) || o.node.length > 240) throw new TypeError(`invalid node name '${logSafe(o.node)}'`);
    if (!Number.isInteger(o.peerPort) || o.peerPort <= 0 || o.peerPort > 65535) throw new TypeError('peerPort must be 1..65535');
    if (!isIPv4(o.address) || o.address.startsWith('127.') || o.address === '0.0.0.0') {
      throw new TypeError(`address must be this node's LAN IPv4 address (got '${logSafe(o.address)}')`);
    }
    if (!printable(o.version, MAX_TXT_VALUE)) throw new TypeError('version must be a short printable string');
    this.#o = o;
    this.#log = o.logger.child({ component: 'discovery' });
    this.#limiter = new LogLimiter(o.clock);

    // The LAN: the interface holding `address` (never a container bridge), else its /24.
    let iface: { name: string; info: NetworkInterfaceInfo } | undefined;
    for (const [name, infos] of Object.entries((o.networkInterfaces ?? networkInterfaces)())) {
      const info = infos?.find((i) => i.family === 'IPv4' && i.address === o.address);
      if (info) { iface = { name, info }; break; }
    }
    if (iface && VIRTUAL_IFACE.test(iface.name)) {
      throw new Error(`address ${o.address} is on ${iface.name}, a container or virtual interface: give the LAN address`);
    }
    if (!iface) this.#log.warn({ address: o.address }, 'address not found on any interface (yet): assuming a /24 LAN');
    this.#mask = iface && isIPv4(iface.info.netmask) ? ipToInt(iface.info.netmask) : 0xffffff00;
    this.#network = (ipToInt(o.address) & this.#mask) >>> 0;

    this.#owned = o.bonjour === undefined;
    // The bonjour-service typings call these options ServiceConfig; they go to multicast-dns.
    const opts = { interface: o.address, bind: '0.0.0.0' } as unknown as ConstructorParameters<typeof Bonjour>[0];
    const raw = o.bonjour ?? new Bonjour(opts, (err: Error) => this.#log.warn({ err: err.message }, 'mDNS answer failed'));
    try {
      this.#bonjour = asBonjour(raw);
    } catch (err) {
      if (this.#owned) (raw as Bonjour).destroy();
      throw err;
    }
    const mdns = this.#bonjour.server.mdns;
    mdns.on('error', (err) => this.#log.error({ err: err.message }, 'mDNS socket error'));
    mdns.on('warning', (err) => { if (this.#limiter.allow('warning')) this.#log.warn({ err: err.message }, 'mDNS warning (logged once a minute)'); });
    this.#onResponse = (packet, rinfo) => {
      try {
        this.#read(packet, rinfo);
      } catch (err) {
        if (this.#limiter.allow('read')) this.#log.warn({ err: (err as Error).message }, 'unreadable mDNS response (logged once a minute)');
      }
    };
    mdns.on('response', this.#onResponse);

    // Our own record set: one A record, for the LAN address only.
    this.#txt = this.#cleanTxt(o.txt ?? {});
    const instance = instanceName(o.cluster, o.node);
    const fqdn = `${instance}.${TYPE_FQDN}`;
    const host = `${instance}.local`;
    this.#txtRecord = { name: fqdn, type: 'TXT', ttl: 4500, data: encodeTxt(this.#txtFields()), flush: true };
    this.#records = [
      { name: TYPE_FQDN, type: 'PTR', ttl: 28800, data: fqdn },
      { name: fqdn, type: 'SRV', ttl: 120, data: { port: o.peerPort, target: host }, flush: true },
      this.#txtRecord,
      { name: SERVICES_FQDN, type: 'PTR', ttl: 120, data: TYPE_FQDN },
      { name: host, type: 'A', ttl: 120, data: o.address, flush: true },
    ];
    // publish() probes for a conflict first (asynchronously), so the record set is in place
    // before bonjour-service reads it for the announcement.
    this.#service = this.#bonjour.publish({
      name: instance, type: 'pifleet', protocol: 'tcp', port: o.peerPort, host, txt: this.#txtFields(), disableIPv6: true,
    });
    this.#service.records = () => this.#records;
    this.#timers.push(o.clock.setTimeout(() => {
      if (!this.#stopped && !this.#service.activated) {
        this.#log.error({ instance, node: o.node }, 'mDNS name conflict: another process advertises this node (a second board or daemon with the same node name?); not advertised');
      }
    }, 5000));
    for (const at of QUERY_AT_MS) this.#timers.push(o.clock.setTimeout(() => this.#query(), at));
    const every = (): void => { this.#query(); this.#queryTimer = o.clock.setTimeout(every, QUERY_EVERY_MS); };
    this.#queryTimer = o.clock.setTimeout(every, QUERY_EVERY_MS);
    const n = this.#network;
    const lan = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${Math.clz32(~this.#mask >>> 0)}`;
    this.#log.info({ instance, address: o.address, peerPort: o.peerPort, lan }, 'mDNS discovery started');
  }

  static start(opts: DiscoveryOptions): Discovery {
    return new Discovery(opts);
  }

  #cleanTxt(t: Txt): Txt {
    const out: Txt = {};
    if (t.fleet !== undefined && t.fleet !== '') {
      if (printable(t.fleet, MAX_TXT_VALUE)) out.fleet = t.fleet;
      else this.#log.warn('fleet is not a short printable string: not advertised');
    }
    if (t.leader !== undefined && t.leader !== '') {
      if (isNodeName(t.leader) && t.leader.length <= 240) out.leader = t.leader;
      else this.#log.warn('leader is not a valid node name: not advertised');
    }
    return out;
  }

  #txtFields(): Record<string, string | undefined> {
    const o = this.#o;
    return { cluster: o.cluster, node: o.node, peer: String(o.peerPort), v: o.version, fleet: this.#txt.fleet, leader: this.#txt.leader };
  }

  #query(): void {
    if (this.#stopped) return;
    this.#bonjour.server.mdns.query([{ name: TYPE_FQDN, type: 'PTR' }], (err) => {
      if (err && this.#limiter.allow('query')) this.#log.warn({ err: err.message }, 'mDNS query failed');
    });
  }

  #announce(again: boolean): void {
    if (this.#stopped || !this.#service.published) return; // still probing: the first announcement will carry it
    this.#bonjour.server.mdns.respond({ answers: this.#records }, (err) => {
      if (err && this.#limiter.allow('announce')) this.#log.warn({ err: err.message }, 'mDNS announcement failed');
    });
    if (again) this.#announceTimer = this.#o.clock.setTimeout(() => this.#announce(false), 1000);
  }

  /** fleet and leader become exactly these (an absent one is no longer advertised); re-announced only if that changed the TXT. */
  update(txt: Txt): void {
    if (this.#stopped) return;
    const next = this.#cleanTxt(txt);
    if (next.fleet === this.#txt.fleet && next.leader === this.#txt.leader) return;
    this.#txt = next;
    this.#txtRecord.data = encodeTxt(this.#txtFields());
    this.#service.txt = this.#txtFields();
    this.#announceTimer?.cancel();
    this.#announce(true);
  }

  peers(): DiscoveredPeer[] {
    return [...this.#peers.values()].map((p) => ({ ...p }));
  }

  #inLan(a: string): boolean {
    return isIPv4(a) && ((ipToInt(a) & this.#mask) >>> 0) === this.#network && a !== this.#o.address;
  }

  /** The sender's address as advertised (A record) or as seen (packet source), on our LAN only. */
  #pickHost(advertised: string[], source: string): string | undefined {
    const ok = advertised.filter((a) => this.#inLan(a));
    if (ok.includes(source)) return source;
    if (ok.length > 0) return ok[0];
    return this.#inLan(source) ? source : undefined;
  }

  #read(packet: { answers?: unknown; additionals?: unknown }, rinfo: RInfo): void {
    if (this.#stopped) return;
    const rrs: RR[] = [
      ...(Array.isArray(packet.answers) ? packet.answers : []),
      ...(Array.isArray(packet.additionals) ? packet.additionals : []),
    ].slice(0, MAX_RECORDS_PER_PACKET).filter((r): r is RR => typeof r === 'object' && r !== null);
    const live = (r: RR): boolean => typeof r.ttl === 'number' && r.ttl > 0; // ttl 0: a goodbye, ignored
    const names = new Set<string>();
    for (const r of rrs) {
      if (names.size >= MAX_INSTANCES_PER_PACKET) break;
      if (r.type === 'PTR' && sameName(r.name, TYPE_FQDN) && typeof r.data === 'string' && live(r)) names.add(r.data.toLowerCase());
      else if ((r.type === 'SRV' || r.type === 'TXT') && typeof r.name === 'string' && r.name.toLowerCase().endsWith(`.${TYPE_FQDN}`)) names.add(r.name.toLowerCase());
    }
    const source = typeof rinfo?.address === 'string' ? rinfo.address : '';
    for (const name of names) {
      const srv = rrs.find((r) => r.type === 'SRV' && sameName(r.name, name) && live(r));
      const txtRR = rrs.find((r) => r.type === 'TXT' && sameName(r.name, name) && live(r));
      if (!srv || !txtRR) continue;
      const txt = decodeTxt(txtRR.data);
      const cluster = txt.get('cluster');
      if (cluster !== this.#o.cluster) continue; // another cluster (or none): not ours to report
      const node = txt.get('node');
      if (!isNodeName(node)) continue;
      const sd = srv.data as { port?: unknown; target?: unknown } | undefined;
      const target = typeof sd?.target === 'string' ? sd.target.toLowerCase() : '';
      const advertised = rrs
        .filter((r) => r.type === 'A' && sameName(r.name, target) && typeof r.data === 'string')
        .map((r) => r.data as string);
      if (node === this.#o.node) {
        if (source !== this.#o.address && !advertised.includes(this.#o.address) && this.#limiter.allow(`dup:${source}`)) {
          this.#log.warn({ node, from: logSafe(source) }, 'another board announces our node name in our cluster (logged once a minute)');
        }
        continue;
      }
      const port = Number(txt.get('peer') ?? sd?.port);
      if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
      const host = this.#pickHost(advertised, source);
      if (!host) {
        if (this.#limiter.allow(`nolan:${node}`)) {
          this.#log.info({ node: logSafe(node), advertised: advertised.slice(0, 4).map((a) => logSafe(a, 16)) }, 'board of our cluster with no address on our LAN: ignored (logged once a minute)');
        }
        continue;
      }
      const peer: DiscoveredPeer = { node, cluster, host, peerPort: port, seenAt: this.#o.clock.now() };
      const v = txt.get('v');
      if (v !== undefined && printable(v, 64)) peer.version = v;
      const fleet = txt.get('fleet');
      if (fleet !== undefined && printable(fleet, MAX_TXT_VALUE)) peer.fleet = fleet;
      const leader = txt.get('leader');
      if (isNodeName(leader)) peer.leader = leader;
      this.#see(peer);
    }
  }

  #see(p: DiscoveredPeer): void {
    const old = this.#peers.get(p.node);
    if (old && old.host === p.host && old.peerPort === p.peerPort && old.version === p.version && old.fleet === p.fleet && old.leader === p.leader) {
      old.seenAt = p.seenAt;
      return;
    }
    if (!old && this.#peers.size >= MAX_PEERS) {
      let oldest: DiscoveredPeer | undefined;
      for (const q of this.#peers.values()) if (!oldest || q.seenAt < oldest.seenAt) oldest = q;
      if (oldest) this.#peers.delete(oldest.node);
      if (this.#limiter.allow('full')) this.#log.warn({ max: MAX_PEERS }, 'peer table full: forgetting the board heard of longest ago (logged once a minute)');
    }
    this.#peers.set(p.node, p);
    if (!old) this.#log.info({ node: p.node, host: p.host, peerPort: p.peerPort }, 'discovered a board of our cluster');
    try {
      this.emit('peer', { ...p });
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, "a 'peer' listener threw");
    }
  }

  /** Stops browsing and sends the goodbye if the service was announced (bounded: 1 s per step). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) t.cancel();
    this.#queryTimer?.cancel();
    this.#announceTimer?.cancel();
    this.#bonjour.server.mdns.removeListener('response', this.#onResponse as (...a: never[]) => void);
    const bounded = (fn: (done: () => void) => void): Promise<void> => new Promise((resolve) => {
      const t = this.#o.clock.setTimeout(resolve, 1000);
      try {
        fn(() => { t.cancel(); resolve(); });
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'mDNS shutdown step failed');
        t.cancel();
        resolve();
      }
    });
    if (this.#service.published) {
      await bounded((done) => this.#service.stop(done));
    } else {
      // Still probing, nothing announced: no goodbye (bonjour-service would send one, and its own
      // running probe would take that goodbye for a name conflict). `destroyed` ends the probe
      // and cancels the announcement.
      this.#service.destroyed = true;
    }
    if (this.#owned) await bounded((done) => this.#bonjour.destroy(done));
  }
}
