/**
 * The fleet plan: one YAML file describing the cluster, its network and its boards.
 * Owns the schema (zod), loading with FILE:LINE:COL positions (yaml LineCounter, the
 * approach of daemon/src/config.ts) and the cross-field rules: unique hostnames,
 * addresses and MACs, addresses inside the subnet and outside the DHCP range,
 * exactly one gateway board. Every problem is reported at once; nothing is written here.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { z } from 'zod';
import { isIPv4, isMac, isUnicastMac, isHostIn, normalizeMac, parseCidr, parseIPv4, type Subnet } from './net.js';

/** RFC 1123 host name label, lower case (it is also the daemon's node name). */
export const HOSTNAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_DOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
/** dnsmasq lease time: seconds, or a number with m/h/d/w, or 'infinite'. */
const LEASE = /^(infinite|\d+[smhdw]?)$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;

const ipv4 = z.string().refine(isIPv4, 'must be an IPv4 address such as 10.0.0.11');
const lease = z.string().regex(LEASE, "must be a lease time such as 12h, 3600, 7d or 'infinite'");

const TaintSchema = z.object({
  key: z.string().regex(LABEL_KEY, 'must be a label key (name or prefix/name)'),
  value: z.string().regex(LABEL_VALUE, 'must be a label value').optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
}).strict();

export const BoardSchema = z.object({
  /** Host name and node name: an RFC 1123 label in lower case. */
  hostname: z.string().regex(HOSTNAME, 'must be an RFC 1123 host name label: lower-case letters, digits and -, at most 63, not starting or ending with -'),
  /** gateway: static address, runs DHCP and DNS for the others; worker: gets its address from the gateway by MAC. */
  role: z.enum(['gateway', 'worker']).default('worker'),
  address: ipv4,
  /** The board's Ethernet MAC (printed on the box or `ip link` on the board); required for workers. */
  mac: z.string().refine(isMac, 'must be a MAC address such as dc:a6:32:01:02:03').optional(),
  labels: z.record(z.string().regex(LABEL_KEY, 'must be a label key'), z.string().regex(LABEL_VALUE, 'must be a label value: at most 63 letters, digits, -, _ or .')).default({}),
  taints: z.array(TaintSchema).default([]),
}).strict();

export const PlanSchema = z.object({
  /** Cluster name, as in the daemon's config (a DNS-1123 label). */
  cluster: z.string().regex(HOSTNAME, 'must be a DNS-1123 label (lower-case letters, digits, -)'),
  user: z.object({
    name: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Linux user name (lower case, at most 32 characters)').default('pi'),
    sshAuthorizedKeys: z.array(z.string().regex(/^(ssh-|ecdsa-|sk-)[^\s]+ [A-Za-z0-9+/=]+( .*)?$/, 'must be an OpenSSH public key line (ssh-ed25519 AAAA... comment)')).min(1, 'at least one SSH key is needed: password login is switched off'),
  }).strict(),
  network: z.object({
    subnet: z.string(),
    /** The interface the fleet's LAN is on, on every board. */
    interface: z.string().regex(/^[a-z][a-z0-9]{0,14}$/, 'must be an interface name such as eth0').default('eth0'),
    /** The LAN's router to the internet; default the gateway board (which then routes out through its Wi-Fi). */
    router: ipv4.optional(),
    dhcp: z.object({
      rangeStart: ipv4,
      rangeEnd: ipv4,
      leaseTime: lease.default('12h'),
      staticLeaseTime: lease.default('infinite'),
    }).strict(),
    dns: z.object({
      domain: z.string().regex(DNS_DOMAIN, 'must be a DNS domain such as cluster.home').default('cluster.home'),
      upstream: z.array(ipv4).min(1, 'name at least one upstream DNS server').default(['1.1.1.1', '9.9.9.9']),
    }).strict().prefault({}),
    /** Optional Wi-Fi uplink of the gateway board. */
    wifi: z.object({
      country: z.string().regex(/^[A-Z]{2}$/, 'must be a two-letter country code such as GB'),
      ssid: z.string().min(1).max(32, 'an SSID has at most 32 bytes'),
      passphrase: z.string().min(8, 'a WPA passphrase has 8 to 63 characters').max(63, 'a WPA passphrase has 8 to 63 characters'),
    }).strict().optional(),
  }).strict(),
  boards: z.array(BoardSchema).min(1, 'list at least one board'),
  /**
   * Where the boards' Node.js (>= 20) comes from: 'apt' installs Debian's nodejs package on first
   * boot (Raspberry Pi OS trixie has 20.x; bookworm's 18 is too old), 'bundle' uses the Node binary
   * packed into the daemon bundle with `npm run bundle -- --node PATH` (no download on the board).
   */
  nodeRuntime: z.enum(['apt', 'bundle']).default('apt'),
}).strict();

export type PlanInput = z.input<typeof PlanSchema>;
export type Plan = z.output<typeof PlanSchema>;
export type Board = z.output<typeof BoardSchema>;

/** A validated plan with what later steps need precomputed. */
export interface FleetPlan {
  file: string;
  plan: Plan;
  subnet: Subnet;
  gateway: Board;
  /** The router handed out by DHCP: network.router or the gateway board. */
  router: string;
}

export class PlanError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid fleet plan:\n  ${problems.join('\n  ')}`);
    this.name = 'PlanError';
  }
}

type Path = (string | number)[];

/** Load and validate a plan file. Throws PlanError listing every problem as FILE:LINE:COL field: reason. */
export function loadPlan(file: string): FleetPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PlanError([`${file}: cannot read the fleet plan: ${(err as Error).message}`]);
  }
  return parsePlan(text, file);
}

/** Validate plan text; `file` is used in the messages only. */
export function parsePlan(text: string, file: string): FleetPlan {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const problems: string[] = [];
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    problems.push(`${file}:${p.line}:${p.col} (yaml): ${e.message.split('\n')[0]}`);
  }
  if (problems.length) throw new PlanError(problems);
  const js = doc.toJS() as unknown;
  if (js === null || typeof js !== 'object' || Array.isArray(js)) {
    throw new PlanError([`${file}:1:1 (top level): the fleet plan must be a YAML mapping (see config/fleet.example.yaml)`]);
  }
  const at = positionFinder(doc, lc, file);
  const report = (path: Path, reason: string, atKey = false): void => {
    problems.push(`${at(path, atKey)} ${path.length ? path.join('.') : '(top level)'}: ${reason}`);
  };
  const parsed = PlanSchema.safeParse(js);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) report([...path, key], 'unknown field (check the spelling against config/fleet.example.yaml)', true);
      } else {
        report(path, issue.message);
      }
    }
    throw new PlanError(problems);
  }
  const plan = parsed.data;
  const result = checkRules(plan, report);
  if (problems.length || !result) throw new PlanError(problems);
  return { file, ...result, plan };
}

/** The cross-field rules. Reports every problem; returns the derived values when there were none. */
function checkRules(plan: Plan, report: (path: Path, reason: string) => void): Omit<FleetPlan, 'file' | 'plan'> | undefined {
  const net = plan.network;
  let ok = true;
  const fail = (path: Path, reason: string): void => { ok = false; report(path, reason); };
  const subnet = parseCidr(net.subnet);
  if (typeof subnet === 'string') {
    fail(['network', 'subnet'], subnet);
    return undefined;
  }
  const start = parseIPv4(net.dhcp.rangeStart) as number;
  const end = parseIPv4(net.dhcp.rangeEnd) as number;
  const cidr = net.subnet;
  if (!isHostIn(subnet, start)) fail(['network', 'dhcp', 'rangeStart'], `${net.dhcp.rangeStart} is outside the subnet ${cidr}`);
  if (!isHostIn(subnet, end)) fail(['network', 'dhcp', 'rangeEnd'], `${net.dhcp.rangeEnd} is outside the subnet ${cidr}`);
  if (start > end) fail(['network', 'dhcp', 'rangeEnd'], `the range ends (${net.dhcp.rangeEnd}) before it starts (${net.dhcp.rangeStart})`);
  const inRange = (a: number): boolean => a >= start && a <= end;
  if (net.router !== undefined) {
    const r = parseIPv4(net.router) as number;
    if (!isHostIn(subnet, r)) fail(['network', 'router'], `${net.router} is outside the subnet ${cidr}`);
    else if (inRange(r)) fail(['network', 'router'], `${net.router} is inside the DHCP range ${net.dhcp.rangeStart}-${net.dhcp.rangeEnd}`);
  }

  const hostnames = new Map<string, number>();
  const addresses = new Map<string, number>();
  const macs = new Map<string, number>();
  const gateways: number[] = [];
  plan.boards.forEach((b, i) => {
    const where = (f: string): Path => ['boards', i, f];
    const dupe = (seen: Map<string, number>, key: string, field: string, what: string): void => {
      const first = seen.get(key);
      if (first !== undefined) fail(where(field), `duplicate ${what} ${key}: board ${first + 1} (${plan.boards[first]?.hostname}) has it too`);
      else seen.set(key, i);
    };
    dupe(hostnames, b.hostname, 'hostname', 'hostname');
    dupe(addresses, b.address, 'address', 'address');
    if (b.mac !== undefined) {
      dupe(macs, normalizeMac(b.mac), 'mac', 'MAC');
      if (!isUnicastMac(b.mac)) fail(where('mac'), `${b.mac} is a multicast MAC address (lowest bit of the first octet set); a network card's MAC is unicast`);
    }
    const a = parseIPv4(b.address) as number;
    if (!isHostIn(subnet, a)) fail(where('address'), `${b.address} is outside the subnet ${cidr}`);
    else if (inRange(a)) fail(where('address'), `${b.address} is inside the DHCP range ${net.dhcp.rangeStart}-${net.dhcp.rangeEnd}: pick an address outside it, or shrink the range`);
    if (net.router !== undefined && b.address === net.router) fail(where('address'), `${b.address} is network.router's address`);
    if (b.role === 'gateway') gateways.push(i);
    else if (b.mac === undefined) fail(['boards', i], `board ${b.hostname} needs a mac: workers get their address by a static DHCP lease keyed on the MAC`);
  });
  if (gateways.length === 0) {
    fail(['boards'], 'no gateway: give exactly one board role: gateway (it has the static address and serves DHCP and DNS)');
  } else if (gateways.length > 1) {
    for (const i of gateways.slice(1)) fail(['boards', i, 'role'], `a second gateway: board ${(gateways[0] as number) + 1} (${plan.boards[gateways[0] as number]?.hostname}) is already the gateway; exactly one board has role gateway`);
  }
  if (!ok) return undefined;
  const gateway = plan.boards[gateways[0] as number] as Board;
  return { subnet, gateway, router: net.router ?? gateway.address };
}

/**
 * Position of the value at the path as FILE:LINE:COL, or of the deepest existing node on it
 * (the key of a missing field's parent). With atKey, the key of the pair itself (unknown fields).
 */
function positionFinder(doc: Document, lc: LineCounter, file: string): (path: Path, atKey: boolean) => string {
  return (path, atKey) => {
    if (!atKey) {
      const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
      if (isNode(node) && node.range) {
        const p = lc.linePos(node.range[0]);
        return `${file}:${p.line}:${p.col}`;
      }
    }
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      if (n > 0) {
        const parent = n === 1 ? doc.contents : doc.getIn(sub.slice(0, -1), true);
        const key = sub[n - 1];
        if (parent && typeof parent === 'object' && 'items' in parent && typeof key === 'string') {
          const pair = (parent.items as unknown[]).find((it) => {
            const k = (it as { key?: unknown }).key;
            return isNode(k) && (k as { value?: unknown }).value === key;
          }) as { key?: unknown } | undefined;
          if (pair && isNode(pair.key) && pair.key.range) {
            const p = lc.linePos(pair.key.range[0]);
            return `${file}:${p.line}:${p.col}`;
          }
        }
      }
      const node = n === 0 ? doc.contents : doc.getIn(sub, true);
      if (isNode(node) && node.range) {
        const p = lc.linePos(node.range[0]);
        return `${file}:${p.line}:${p.col}`;
      }
    }
    return `${file}:1:1`;
  };
}

/** Find a board by host name; undefined when the plan has none of that name. */
export function findBoard(fleet: FleetPlan, hostname: string): Board | undefined {
  return fleet.plan.boards.find((b) => b.hostname === hostname);
}
