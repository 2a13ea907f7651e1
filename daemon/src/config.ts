/**
 * Daemon configuration: defaults <- config file (YAML) <- PIFLEET_* environment <- flags,
 * validated into one typed Config. config/pifleet.yaml documents every key.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';
import { DEFAULT_LIMITS } from './api/validation/limits.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const port = z.number().int().min(0).max(65535);
const seconds = z.number().positive();
/** A ceiling on a count in a manifest: Kubernetes' counts are int32. */
const ceiling = z.number().int().min(1).max(2147483647);

const TaintSchema = z.object({
  key: z.string().min(1),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});

export const ConfigSchema = z.object({
  /** Fleet name: MQTT topics are pifleet/<cluster>/..., containers carry it as a label. */
  cluster: z.string().regex(DNS1123_LABEL, 'must be a DNS-1123 label (lower-case letters, digits, -)').default('pifleet'),
  /** This node's name; defaults to the host name. */
  nodeName: z.string().regex(DNS1123_SUBDOMAIN, 'must be a DNS-1123 subdomain').optional(),
  /** Desired-state log, snapshots, token and client config live here. */
  stateDir: z.string().min(1).default('/var/lib/pifleet'),
  /** A tmpfs directory for Secret and ConfigMap volumes; default /run/pifleet (root) or /dev/shm/pifleet-<uid>. */
  runtimeDir: z.string().min(1).optional(),
  /** The cluster join token; when absent it is read from tokenFile or generated into <stateDir>/token. */
  token: z.string().min(16, 'must be at least 16 characters').optional(),
  tokenFile: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  mqtt: z.object({
    host: z.string().default('0.0.0.0'),
    port: port.default(1883),
    /** MQTT over WebSocket; 0 turns it off. */
    wsPort: port.default(8083),
    keepaliveSeconds: z.number().int().min(1).max(600).default(10),
    /** Largest MQTT packet (bytes, fixed header included) of a logged-in client; bigger closes the connection. */
    maxPacketBytes: z.number().int().min(1024).max(268_435_460).default(8 * 1024 * 1024),
    /** Largest packet before login (the CONNECT: client id, user name, token, last will). */
    maxConnectPacketBytes: z.number().int().min(256).max(1024 * 1024).default(16 * 1024),
    /** A connection that has not logged in this long after its TCP accept is closed. */
    connectTimeoutSeconds: z.number().positive().max(300).default(5),
    /** Connections per remote address that have not logged in yet; more are closed at once. */
    maxPendingConnectionsPerAddress: z.number().int().min(1).max(100_000).default(16),
  }).refine((m) => m.maxConnectPacketBytes <= m.maxPacketBytes, { message: 'maxConnectPacketBytes must not exceed maxPacketBytes', path: ['maxConnectPacketBytes'] }).prefault({}),
  docker: z.object({
    /** Docker engine address (unix:///var/run/docker.sock, tcp://...); default DOCKER_HOST or the local socket. */
    host: z.string().optional(),
  }).prefault({}),
  node: z.object({
    labels: z.record(z.string(), z.string()).default({}),
    taints: z.array(TaintSchema).default([]),
    /** The address other nodes use to reach this one; default the first non-virtual IPv4 address. */
    address: z.string().optional(),
  }).prefault({}),
  /** The fleet: peer channel, discovery, election timers (docs/fleet.md). */
  fleet: z.object({
    /** The peer channel (TCP, authenticated with the token): votes, heartbeats, the replicated log. */
    peerHost: z.string().default('0.0.0.0'),
    peerPort: port.default(7438),
    /** Find the other boards with mDNS (_pifleet._tcp). */
    discovery: z.boolean().default(true),
    /** host:port of boards to ask where multicast does not work. */
    peers: z.array(z.string().min(1)).default([]),
    /** Leader heartbeats on the peer channel. */
    heartbeatMs: z.number().int().min(10).max(10_000).default(100),
    /** A follower that hears no leader for a random time in [T, 2T) starts an election; must exceed the disk's fsync p99 by far. */
    electionTimeoutMs: z.number().int().min(100).max(60_000).default(800),
  }).refine((f) => f.electionTimeoutMs >= 3 * f.heartbeatMs, { message: 'electionTimeoutMs must be at least 3 x heartbeatMs', path: ['electionTimeoutMs'] }).prefault({}),
  /** Node status is republished at least this often (it is also published on every change). */
  heartbeatSeconds: seconds.default(10),
  /** A node the leader has not heard from this long is NotReady (Kubernetes: 40 s). */
  nodeMonitorGraceSeconds: seconds.default(2),
  /** Pods on a node that stays NotReady/unreachable this long are deleted and replaced elsewhere unless they tolerate it (Kubernetes: 300 s). */
  podEvictionSeconds: z.number().min(0).default(2),
  agent: z.object({
    crashLoopBackoffBaseSeconds: seconds.default(10),
    crashLoopBackoffMaxSeconds: seconds.default(300),
    /** A container that ran this long resets its crash-loop backoff. */
    crashLoopResetSeconds: seconds.default(600),
    /** Full re-list of Docker containers, as a safety net beside the event stream. */
    resyncSeconds: seconds.default(60),
  }).prefault({}),
  jobs: z.object({
    backoffBaseSeconds: seconds.default(10),
    backoffMaxSeconds: seconds.default(360),
  }).prefault({}),
  store: z.object({
    /** Write a snapshot and start a new log after this many revisions. */
    snapshotEvery: z.number().int().min(10).default(1000),
  }).prefault({}),
  /** Ceilings on what one object may ask for, enforced by the API server (docs/kubernetes-compatibility.md, Limits). */
  limits: z.object({
    maxReplicas: ceiling.default(DEFAULT_LIMITS.maxReplicas),
    maxParallelism: ceiling.default(DEFAULT_LIMITS.maxParallelism),
    maxCompletions: ceiling.default(DEFAULT_LIMITS.maxCompletions),
  }).strict().prefault({}),
}).strict();

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema> & { nodeName: string; configFile?: string };

/** PIFLEET_* environment variables and the config path they set. */
export const ENV_KEYS: Record<string, { path: string[]; type: 'string' | 'number' | 'json' }> = {
  PIFLEET_CLUSTER: { path: ['cluster'], type: 'string' },
  PIFLEET_NODE_NAME: { path: ['nodeName'], type: 'string' },
  PIFLEET_STATE_DIR: { path: ['stateDir'], type: 'string' },
  PIFLEET_RUNTIME_DIR: { path: ['runtimeDir'], type: 'string' },
  PIFLEET_TOKEN: { path: ['token'], type: 'string' },
  PIFLEET_TOKEN_FILE: { path: ['tokenFile'], type: 'string' },
  PIFLEET_LOG_LEVEL: { path: ['logLevel'], type: 'string' },
  PIFLEET_MQTT_HOST: { path: ['mqtt', 'host'], type: 'string' },
  PIFLEET_MQTT_PORT: { path: ['mqtt', 'port'], type: 'number' },
  PIFLEET_MQTT_WS_PORT: { path: ['mqtt', 'wsPort'], type: 'number' },
  PIFLEET_DOCKER_HOST: { path: ['docker', 'host'], type: 'string' },
  PIFLEET_NODE_ADDRESS: { path: ['node', 'address'], type: 'string' },
  PIFLEET_PEER_PORT: { path: ['fleet', 'peerPort'], type: 'number' },
  PIFLEET_DISCOVERY: { path: ['fleet', 'discovery'], type: 'json' },
  PIFLEET_PEERS: { path: ['fleet', 'peers'], type: 'json' },
  PIFLEET_ELECTION_TIMEOUT_MS: { path: ['fleet', 'electionTimeoutMs'], type: 'number' },
  PIFLEET_NODE_MONITOR_GRACE_SECONDS: { path: ['nodeMonitorGraceSeconds'], type: 'number' },
  PIFLEET_POD_EVICTION_SECONDS: { path: ['podEvictionSeconds'], type: 'number' },
  PIFLEET_NODE_LABELS: { path: ['node', 'labels'], type: 'json' },
  PIFLEET_HEARTBEAT_SECONDS: { path: ['heartbeatSeconds'], type: 'number' },
  PIFLEET_CRASHLOOP_BACKOFF_BASE_SECONDS: { path: ['agent', 'crashLoopBackoffBaseSeconds'], type: 'number' },
  PIFLEET_CRASHLOOP_BACKOFF_MAX_SECONDS: { path: ['agent', 'crashLoopBackoffMaxSeconds'], type: 'number' },
  PIFLEET_JOBS_BACKOFF_BASE_SECONDS: { path: ['jobs', 'backoffBaseSeconds'], type: 'number' },
  PIFLEET_JOBS_BACKOFF_MAX_SECONDS: { path: ['jobs', 'backoffMaxSeconds'], type: 'number' },
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Path of a YAML config file (--config). */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Values from command-line flags, already shaped like the config. */
  flags?: ConfigInput;
  /** Defaults for fields derived from the machine. */
  hostname?: string;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = target;
  for (const k of path.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined || v === null) continue; // `key:` with only comments below it means "defaults"
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
      ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}

/** Load, merge and validate. Throws ConfigError listing every problem with where it came from. */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  let fromFile: Record<string, unknown> = {};
  let positionOf: ((path: PropertyKey[]) => string) | undefined;
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${opts.file}: cannot read config file: ${(err as Error).message}`]);
    }
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
    for (const e of doc.errors) {
      const p = lc.linePos(e.pos[0]);
      problems.push(`${opts.file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`);
    }
    if (problems.length) throw new ConfigError(problems);
    const js = doc.toJS() as unknown;
    if (js !== null && js !== undefined && (typeof js !== 'object' || Array.isArray(js))) {
      throw new ConfigError([`${opts.file}:1:1: the config file must be a YAML mapping`]);
    }
    fromFile = stripNulls((js ?? {}) as Record<string, unknown>);
    positionOf = (path) => {
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n) as unknown[], true);
        if (isNode(node) && node.range) {
          const p = lc.linePos(node.range[0]);
          return `${opts.file}:${p.line}:${p.col}`;
        }
      }
      return `${opts.file}`;
    };
  }
  const fromEnv: Record<string, unknown> = {};
  const envOrigin = new Map<string, string>();
  for (const [name, spec] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (spec.type === 'number') {
      value = Number(raw);
      if (!Number.isFinite(value)) { problems.push(`${name}=${raw}: not a number`); continue; }
    } else if (spec.type === 'json') {
      try { value = JSON.parse(raw); } catch { problems.push(`${name}: not valid JSON`); continue; }
    }
    setPath(fromEnv, spec.path, value);
    envOrigin.set(spec.path.join('.'), name);
  }
  const merged = merge(merge(fromFile, fromEnv), (opts.flags ?? {}) as Record<string, unknown>);
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const dotted = issue.path.join('.');
      const origin = envOrigin.get(dotted)
        ?? (positionOf && getIn(fromFile, issue.path) !== undefined ? positionOf(issue.path) : undefined)
        ?? (issue.code === 'unrecognized_keys' && positionOf ? positionOf(issue.path) : 'flag');
      const field = dotted || '(top level)';
      problems.push(`${origin} ${field}: ${issue.message}`);
    }
  }
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const cfg = parsed.data;
  const nodeName = cfg.nodeName ?? sanitizeHostname(opts.hostname ?? hostname());
  return {
    ...cfg,
    nodeName,
    stateDir: resolve(cfg.stateDir),
    ...(cfg.runtimeDir ? { runtimeDir: resolve(cfg.runtimeDir) } : {}),
    ...(opts.file ? { configFile: resolve(opts.file) } : {}),
  };
}

/** `key:` followed only by comments parses as null: read it as "not set" (defaults apply). */
function stripNulls(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === null) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? stripNulls(v as Record<string, unknown>) : v;
  }
  return out;
}

function getIn(obj: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Host names become valid node names: lower case, invalid characters to '-'. */
export function sanitizeHostname(h: string): string {
  const s = h.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return s || 'node';
}
