/**
 * Requests on a connection of their own (a joiner asking a member by address; the CLI asking
 * for status), and what peer.ts and this file share: limits, validation, request errors.
 */
import { createSystemClock, type Clock } from '../lib/clock.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { ConnectError, HandshakeError, dial, type Conn, type HandshakeAuth } from './peer-conn.js';
import { FrameType, encodeFrame, isClusterName, isNodeName, logSafe, parseJson, parseRes, type ResFrame } from './peer-protocol.js';

export interface PeerAddress { host: string; port: number }

export type PeerErrorCode =
  | 'ETIMEDOUT' // no answer within the request's timeout
  | 'ECONNECT' // could not connect (refused, unreachable, connect timeout)
  | 'EREFUSED' // handshake refused: wrong token or cluster, or a different node answered
  | 'EPROTO' // the other end broke the protocol
  | 'ECONNCLOSED' // the connection closed before the answer came
  | 'EREMOTE' // the remote request handler failed: message is its error
  | 'EUNKNOWNPEER' // not in the address book (or removed meanwhile)
  | 'EQUEUEFULL' // the peer's queue is at maxQueueBytes
  | 'EINVAL' // not JSON-serializable, too large, or a bad address
  | 'EBUSY' // too many requests pending
  | 'ECLOSED'; // the transport is closed

export class PeerRequestError extends Error {
  constructor(readonly code: PeerErrorCode, message: string) {
    super(message);
    this.name = 'PeerRequestError';
  }
}

const MIN_TOKEN = 16;

export interface Limits { connectTimeoutMs: number; handshakeTimeoutMs: number; idleTimeoutMs: number; maxMessageBytes: number; maxQueueBytes: number }

export function limitsOf(o: Partial<Limits>): Limits {
  const pos = (v: number | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    if (!Number.isFinite(v) || v <= 0) throw new TypeError(`${name} must be a positive number`);
    return v;
  };
  return {
    connectTimeoutMs: pos(o.connectTimeoutMs, 1000, 'connectTimeoutMs'),
    handshakeTimeoutMs: pos(o.handshakeTimeoutMs, 2000, 'handshakeTimeoutMs'),
    idleTimeoutMs: pos(o.idleTimeoutMs, 3000, 'idleTimeoutMs'),
    maxMessageBytes: pos(o.maxMessageBytes, 64 * 1024 * 1024, 'maxMessageBytes'),
    maxQueueBytes: pos(o.maxQueueBytes, 16 * 1024 * 1024, 'maxQueueBytes'),
  };
}

export function checkAuth(a: HandshakeAuth): void {
  if (!isClusterName(a.cluster)) throw new TypeError('cluster must be a DNS-1123 label');
  if (!isNodeName(a.self)) throw new TypeError(`invalid node name '${logSafe(a.self)}'`);
  if (typeof a.token !== 'string' || a.token.length < MIN_TOKEN) throw new TypeError(`the token must have at least ${MIN_TOKEN} characters`);
}

export function isAddress(a: unknown): a is PeerAddress {
  const v = a as PeerAddress;
  return typeof v === 'object' && v !== null && typeof v.host === 'string' && v.host.length > 0 && v.host.length <= 253
    && Number.isInteger(v.port) && v.port > 0 && v.port <= 65535;
}

export function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 1024);
}

/** What a failed dial means to a requester. */
export function dialError(err: unknown): PeerRequestError {
  if (err instanceof ConnectError) return new PeerRequestError('ECONNECT', err.message);
  if (err instanceof HandshakeError) {
    if (err.kind === 'closed') return new PeerRequestError('ECONNCLOSED', err.message);
    if (err.kind === 'protocol') return new PeerRequestError('EPROTO', err.message);
    return new PeerRequestError('EREFUSED', err.message);
  }
  return new PeerRequestError('EPROTO', errorText(err));
}

/** The response frame as a settled value. */
export function settle(r: ResFrame, resolve: (v: unknown) => void, reject: (e: Error) => void): void {
  if (r.ok) resolve(r.res);
  else reject(new PeerRequestError('EREMOTE', r.error));
}

/** One request on a connection of its own, closed afterwards (a joiner asking a member by address; the CLI). */
export function oneShot(
  addr: PeerAddress, auth: HandshakeAuth, req: unknown, timeoutMs: number,
  d: { clock: Clock; log: Logger; limits: Limits; track?: Set<Conn> },
): Promise<unknown> {
  if (!isAddress(addr)) return Promise.reject(new PeerRequestError('EINVAL', 'invalid address'));
  let json: string;
  try {
    json = JSON.stringify({ id: 1, req });
  } catch (err) {
    return Promise.reject(new PeerRequestError('EINVAL', `request not serializable: ${errorText(err)}`));
  }
  if (Buffer.byteLength(json) + 1 > d.limits.maxMessageBytes) return Promise.reject(new PeerRequestError('EINVAL', 'request above maxMessageBytes'));
  return new Promise((resolve, reject) => {
    let done = false;
    let authenticated = false;
    const finish = (err: Error | undefined, value?: unknown): void => {
      if (done) return;
      done = true;
      timer.cancel();
      conn.close('request done');
      if (err) reject(err);
      else resolve(value);
    };
    const { conn, ready } = dial(addr, {
      clock: d.clock, auth, ...d.limits,
      onFrame: (c, type, payload) => {
        if (type === FrameType.Ping) return;
        if (type !== FrameType.Res) { finish(new PeerRequestError('EPROTO', `unexpected frame type ${type}`)); return; }
        try {
          const r = parseRes(parseJson(payload));
          if (r.id === 1) settle(r, (v) => finish(undefined, v), (e) => finish(e));
        } catch (err) {
          c.close('protocol error');
          finish(new PeerRequestError('EPROTO', errorText(err)));
        }
      },
      onClose: (c, reason) => {
        d.track?.delete(c);
        if (authenticated) finish(new PeerRequestError('ECONNCLOSED', `connection closed before the answer: ${reason}`));
      },
    });
    d.track?.add(conn);
    const timer = d.clock.setTimeout(() => finish(new PeerRequestError('ETIMEDOUT', `no answer from ${logSafe(addr.host)}:${addr.port} within ${timeoutMs} ms`)), timeoutMs);
    ready.then(
      (node) => {
        authenticated = true;
        if (conn.state !== 'ready') { finish(new PeerRequestError('ECONNCLOSED', `connection closed: ${conn.closeReason ?? ''}`)); return; }
        d.log.debug({ peer: node, host: addr.host, port: addr.port }, 'request connection authenticated');
        conn.write(encodeFrame(FrameType.Req, json));
      },
      (err: unknown) => {
        const e = dialError(err);
        if (e.code === 'EREFUSED') d.log.warn({ address: `${logSafe(addr.host)}:${addr.port}`, reason: e.message }, 'request refused');
        finish(e);
      },
    );
  });
}

/** A one-shot authenticated request without listening (the CLI asking a member for status). */
export function peerRequest(
  addr: PeerAddress, auth: { cluster: string; token: string; self: string }, req: unknown, timeoutMs: number, logger?: Logger,
): Promise<unknown> {
  try {
    checkAuth(auth);
  } catch (err) {
    return Promise.reject(new PeerRequestError('EINVAL', errorText(err)));
  }
  const log = (logger ?? silentLogger()).child({ component: 'peer', self: auth.self });
  return oneShot(addr, { cluster: auth.cluster, token: auth.token, self: auth.self }, req, timeoutMs, {
    clock: createSystemClock(), log, limits: limitsOf({}),
  });
}
