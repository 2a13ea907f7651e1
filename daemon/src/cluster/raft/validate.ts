/**
 * Validation of what comes from the network (and of configs handed in by callers).
 * Everything returns a fresh object with only the known fields, or undefined: a malformed
 * message is ignored by the core, it never throws.
 */
import type { ClusterConfig, LogEntry, Member, RaftMessage, Snapshot } from './types.js';

const MAX_ID = 256;
const MAX_MEMBERS = 1000;

type Obj = Record<string, unknown>;

/** A plain object (as JSON.parse makes them): fields inherited from another prototype do not count. */
function isObj(x: unknown): x is Obj {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** A non-negative safe integer. */
export function isIndex(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

export function isId(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_ID;
}

function isPort(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0 && x < 65536;
}

function parseMember(x: unknown): Member | undefined {
  if (!isObj(x) || !isId(x.id) || typeof x.voter !== 'boolean') return undefined;
  const m: Member = { id: x.id, voter: x.voter };
  if (x.address !== undefined) {
    if (typeof x.address !== 'string' || x.address.length > 1024) return undefined;
    m.address = x.address;
  }
  if (x.peerPort !== undefined) {
    if (!isPort(x.peerPort)) return undefined;
    m.peerPort = x.peerPort;
  }
  if (x.mqttPort !== undefined) {
    if (!isPort(x.mqttPort)) return undefined;
    m.mqttPort = x.mqttPort;
  }
  return m;
}

/** A config with unique member ids (it may have no voter: callers that need one check it). */
export function parseConfig(x: unknown): ClusterConfig | undefined {
  if (!isObj(x) || !Array.isArray(x.members) || x.members.length > MAX_MEMBERS) return undefined;
  const members: Member[] = [];
  const seen = new Set<string>();
  for (const raw of x.members) {
    const m = parseMember(raw);
    if (!m || seen.has(m.id)) return undefined;
    seen.add(m.id);
    members.push(m);
  }
  return { members };
}

export function parseEntry(x: unknown): LogEntry | undefined {
  if (!isObj(x) || !isIndex(x.index) || x.index < 1 || !isIndex(x.term) || x.term < 1) return undefined;
  const e: LogEntry = { index: x.index, term: x.term, type: 'ops' };
  if (x.type === 'config') {
    const config = parseConfig(x.data);
    if (!config) return undefined;
    e.type = 'config';
    e.data = config;
  } else if (x.type === 'noop') {
    e.type = 'noop';
  } else if (x.type === 'ops') {
    if (x.data !== undefined) e.data = x.data;
  } else {
    return undefined;
  }
  if (x.time !== undefined) {
    if (typeof x.time !== 'number' || !Number.isFinite(x.time)) return undefined;
    e.time = x.time;
  }
  return e;
}

function parseSnapshot(x: unknown): Snapshot | undefined {
  if (!isObj(x) || !isObj(x.meta)) return undefined;
  const { index, term } = x.meta;
  if (!isIndex(index) || index < 1 || !isIndex(term) || term < 1) return undefined;
  const config = parseConfig(x.meta.config);
  if (!config) return undefined;
  return { meta: { index, term, config }, data: x.data };
}

/** A message addressed to `self`, well formed, or undefined. */
export function parseMessage(x: unknown, self: string): RaftMessage | undefined {
  if (!isObj(x) || !isIndex(x.term) || !isId(x.from) || x.to !== self || x.from === self) return undefined;
  const base = { term: x.term, from: x.from, to: self };
  switch (x.type) {
    case 'preVote':
    case 'vote': {
      if (!isIndex(x.lastIndex) || !isIndex(x.lastTerm) || x.term < 1) return undefined;
      if (x.type === 'preVote') return { type: 'preVote', ...base, lastIndex: x.lastIndex, lastTerm: x.lastTerm };
      if (x.transfer !== undefined && typeof x.transfer !== 'boolean') return undefined;
      return { type: 'vote', ...base, lastIndex: x.lastIndex, lastTerm: x.lastTerm, ...(x.transfer ? { transfer: true } : {}) };
    }
    case 'preVoteResp':
    case 'voteResp':
      if (typeof x.granted !== 'boolean') return undefined;
      return { type: x.type, ...base, granted: x.granted };
    case 'append': {
      if (!isIndex(x.prevIndex) || !isIndex(x.prevTerm) || !isIndex(x.commit) || !Array.isArray(x.entries)) return undefined;
      if (x.prevTerm > x.term || (x.prevIndex === 0) !== (x.prevTerm === 0)) return undefined;
      const entries: LogEntry[] = [];
      let prevTerm = x.prevTerm;
      for (let i = 0; i < x.entries.length; i++) {
        const e = parseEntry(x.entries[i]);
        if (!e || e.index !== x.prevIndex + 1 + i || e.term < prevTerm || e.term > x.term) return undefined;
        prevTerm = e.term;
        entries.push(e);
      }
      return { type: 'append', ...base, prevIndex: x.prevIndex, prevTerm: x.prevTerm, entries, commit: x.commit };
    }
    case 'appendResp': {
      if (typeof x.success !== 'boolean' || !isIndex(x.index)) return undefined;
      const m: RaftMessage = { type: 'appendResp', ...base, success: x.success, index: x.index };
      if (!x.success) {
        if (!isIndex(x.hintIndex) || !isIndex(x.hintTerm)) return undefined;
        m.hintIndex = x.hintIndex;
        m.hintTerm = x.hintTerm;
      }
      return m;
    }
    case 'snapshot': {
      const snapshot = parseSnapshot(x.snapshot);
      if (!snapshot || snapshot.meta.term > x.term) return undefined;
      return { type: 'snapshot', ...base, snapshot };
    }
    case 'snapshotResp':
      if (!isIndex(x.index)) return undefined;
      return { type: 'snapshotResp', ...base, index: x.index };
    case 'timeoutNow':
      return { type: 'timeoutNow', ...base };
    default:
      return undefined;
  }
}
