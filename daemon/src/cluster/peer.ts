/**
 * The peer channel: the TCP Transport between fleet members (votes, leader heartbeats, log
 * replication), plus request/response for joins and status. Authenticated with the cluster
 * token by a mutual HMAC challenge-response (peer-protocol.ts); the token is never sent.
 *
 * One outbound connection per peer carries our messages and requests to it; messages from a
 * peer arrive on its outbound connection to us (our inbound one), and replies to its requests go
 * back on that same connection, so nothing needs correlating across connections.
 *
 * Failure model (see test/lab/README.md): a pulled cable is invisible to TCP for minutes and a
 * connect() to a cut node hangs for ~2 min, so every connect and handshake has its own timeout,
 * both ends send heartbeats when quiet, and a connection that received nothing for
 * idleTimeoutMs is closed and redialled with jittered exponential backoff (100 ms .. 5 s).
 * send() never blocks or throws. A peer's queue exists while its link is up or a connection
 * attempt is under way, bounded by maxQueueBytes (beyond it new messages are dropped and
 * counted). When an attempt fails or the link is lost, what is queued is dropped (counted) and
 * so is whatever is sent until the next attempt starts: the transport never redelivers, and a
 * peer that is down for hours must not hold 16 MiB of stale messages (per peer, on a Pi) to
 * flush at its return. Requests to it fail at once (ECONNECT) instead of waiting out their
 * timeout. Received frames are bounded by maxMessageBytes, checked on the header.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { backoffDelay, jittered } from '../lib/backoff.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Random } from '../lib/random.js';
import type { Transport } from './transport.js';
import { Conn, HandshakeError, LogLimiter, dial, serverHandshake, type HandshakeAuth } from './peer-conn.js';
import { FrameType, encodeFrame, frameBodyBytes, isNodeName, logSafe, parseJson, parseReq, parseRes, type ResFrame } from './peer-protocol.js';
import {
  PeerRequestError, checkAuth, errorText, isAddress, limitsOf, oneShot, settle, type Limits, type PeerAddress,
} from './peer-request.js';

export { PeerRequestError, peerRequest, type PeerAddress, type PeerErrorCode } from './peer-request.js';

export interface PeerOptions {
  self: string;
  cluster: string;
  /** The cluster secret (>= 16 characters). */
  token: string;
  /** Listen address; port 0 = ephemeral. */
  host: string;
  port: number;
  logger: Logger;
  clock: Clock;
  random: Random;
  /** Default 1000 (a connect() to a cut node hangs ~2 min otherwise). */
  connectTimeoutMs?: number;
  /** Default 2000. */
  handshakeTimeoutMs?: number;
  /** Default 3000: a connection that received nothing for this long is closed. Heartbeats go out after a third of it. */
  idleTimeoutMs?: number;
  /** Default 64 MiB; a frame header announcing more closes the connection before buffering. */
  maxMessageBytes?: number;
  /** Default 16 MiB per peer: beyond it, new messages are dropped (counted). */
  maxQueueBytes?: number;
}

export type RequestHandler = (from: { node: string; address: string }, req: unknown) => Promise<unknown>;

export interface PeerStats {
  /** Our outbound link to it is up (authenticated). */
  connected: boolean;
  /** Bytes waiting for it: our queue plus the socket's own buffer. */
  queuedBytes: number;
  /** Messages dropped for it: queue full, unreachable, not serializable or too large. */
  dropped: number;
  /** clock.now() of the last frame received from it (heartbeats included), on either connection. */
  lastReceivedMs?: number;
}

const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5000;
const MAX_INBOUND = 256;
const MAX_HANDSHAKING = 32;
const MAX_INFLIGHT_PER_CONN = 64;
const MAX_PENDING_REQUESTS = 4096;

/** A FIFO of encoded frames with a byte count; O(1) shift. */
class FrameQueue {
  #items: Array<{ frame: Buffer; reqId?: number } | undefined> = [];
  #head = 0;
  bytes = 0;
  get length(): number { return this.#items.length - this.#head; }
  push(item: { frame: Buffer; reqId?: number }): void { this.#items.push(item); this.bytes += item.frame.length; }
  shift(): { frame: Buffer; reqId?: number } | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) { this.#items = this.#items.slice(this.#head); this.#head = 0; }
    if (item) this.bytes -= item.frame.length;
    return item;
  }
  clear(): void { this.#items = []; this.#head = 0; this.bytes = 0; }
}

interface Peer {
  node: string;
  addr: PeerAddress;
  conn: Conn | undefined;
  ready: boolean;
  queue: FrameQueue;
  dropped: number;
  attempt: number;
  retry: TimerHandle | undefined;
  lastRxWall: number | undefined;
  corked: boolean;
  /** Why the last connection attempt or link ended. */
  lastError: string | undefined;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: TimerHandle;
  peer: string;
  /** The connection the request went out on (responses come back on it only). */
  conn: Conn | undefined;
}

export class PeerTransport implements Transport<unknown> {
  readonly self: string;
  readonly port: number;
  readonly #o: PeerOptions;
  readonly #l: Limits;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #limiter: LogLimiter;
  readonly #peers = new Map<string, Peer>();
  readonly #inbound = new Set<Conn>();
  readonly #temp = new Set<Conn>();
  readonly #pending = new Map<number, Pending>();
  #handshaking = 0;
  #nextId = 1;
  #closed = false;
  #onMessage: ((from: string, msg: unknown) => void) | undefined;
  #onRequest: RequestHandler | undefined;

  private constructor(o: PeerOptions, l: Limits, server: Server, port: number) {
    this.#o = o;
    this.#l = l;
    this.self = o.self;
    this.port = port;
    this.#server = server;
    this.#log = o.logger.child({ component: 'peer', self: o.self });
    this.#limiter = new LogLimiter(o.clock);
    server.on('connection', (s: Socket) => this.#accept(s));
  }

  static async listen(opts: PeerOptions): Promise<PeerTransport> {
    checkAuth(opts);
    const l = limitsOf(opts);
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.host, port: opts.port }, () => { server.off('error', reject); resolve(); });
    });
    server.on('error', (err) => opts.logger.error({ component: 'peer', err: errorText(err) }, 'peer listener error'));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : opts.port;
    return new PeerTransport(opts, l, server, port);
  }

  #auth(): HandshakeAuth {
    return { cluster: this.#o.cluster, token: this.#o.token, self: this.#o.self };
  }

  // ---- address book and outbound connections ----

  setPeer(node: string, addr: PeerAddress): void {
    if (!isNodeName(node)) throw new TypeError(`invalid node name '${logSafe(node)}'`);
    if (!isAddress(addr)) throw new TypeError(`invalid address for node '${node}'`);
    if (this.#closed) return;
    const p = this.#peers.get(node);
    if (p) {
      if (p.addr.host === addr.host && p.addr.port === addr.port) return;
      this.#log.info({ peer: node, host: addr.host, port: addr.port }, 'peer address changed: reconnecting');
      p.addr = { host: addr.host, port: addr.port };
      this.#drop(p, 'address changed');
      p.attempt = 0;
      this.#connect(p);
      return;
    }
    const np: Peer = {
      node, addr: { host: addr.host, port: addr.port }, conn: undefined, ready: false, queue: new FrameQueue(),
      dropped: 0, attempt: 0, retry: undefined, lastRxWall: undefined, corked: false, lastError: undefined,
    };
    this.#peers.set(node, np);
    this.#connect(np);
  }

  removePeer(node: string): void {
    const p = this.#peers.get(node);
    if (!p) return;
    this.#peers.delete(node);
    this.#drop(p, 'peer removed');
    p.queue.clear();
    for (const [id, r] of this.#pending) {
      if (r.peer !== node) continue;
      this.#pending.delete(id);
      r.timer.cancel();
      r.reject(new PeerRequestError('EUNKNOWNPEER', `peer '${node}' was removed`));
    }
  }

  /** Closes p's current connection (if any) without scheduling a retry. */
  #drop(p: Peer, reason: string): void {
    p.retry?.cancel();
    p.retry = undefined;
    const c = p.conn;
    p.conn = undefined;
    p.ready = false;
    if (c) {
      c.close(reason);
      this.#failPendingOn(c, reason);
    }
  }

  #connect(p: Peer): void {
    if (this.#closed || this.#peers.get(p.node) !== p) return;
    p.retry?.cancel();
    p.retry = undefined;
    const addr = p.addr;
    const { conn, ready } = dial(addr, {
      clock: this.#o.clock, auth: this.#auth(), expectNode: p.node, ...this.#l,
      onFrame: (c, type, payload) => this.#onOutboundFrame(p, c, type, payload),
      onClose: (c, reason) => this.#onOutboundClose(p, c, reason),
    });
    p.conn = conn;
    ready.then(
      () => {
        if (p.conn !== conn || conn.state !== 'ready') return;
        p.ready = true;
        p.attempt = 0;
        this.#log.info({ peer: p.node, host: addr.host, port: addr.port }, 'peer link up');
        conn.socket.on('drain', () => this.#flush(p));
        this.#flush(p);
      },
      (err: unknown) => {
        if (!p.conn) p.lastError = errorText(err); // more precise than the close reason (a refusal ends with the peer's FIN)
        const where = `${logSafe(addr.host)}:${addr.port}`;
        if (err instanceof HandshakeError && err.kind !== 'closed' && err.kind !== 'protocol') {
          if (this.#limiter.allow(`out:${where}`)) {
            this.#log.warn({ peer: p.node, address: where, reason: err.message }, 'handshake with peer failed (logged once a minute per address)');
          }
        } else if (this.#limiter.allow(`unreach:${p.node}`)) {
          this.#log.warn({ peer: p.node, address: where, reason: errorText(err) }, 'peer unreachable (retrying with backoff; logged once a minute)');
        } else {
          this.#log.debug({ peer: p.node, address: where, reason: errorText(err) }, 'peer connect failed');
        }
      },
    );
  }

  #onOutboundClose(p: Peer, conn: Conn, reason: string): void {
    this.#failPendingOn(conn, reason);
    if (p.conn !== conn) return;
    if (p.ready) this.#log.info({ peer: p.node, reason }, 'peer link down');
    p.conn = undefined;
    p.ready = false;
    p.lastError = reason;
    this.#dropQueue(p, `peer '${p.node}' unreachable: ${reason}`);
    if (this.#closed || this.#peers.get(p.node) !== p) return;
    p.attempt++;
    const d = jittered(backoffDelay(p.attempt, BACKOFF_BASE_MS, BACKOFF_CAP_MS), 0.2, () => this.#o.random.float());
    const delay = Math.min(BACKOFF_CAP_MS, Math.max(BACKOFF_BASE_MS, d));
    p.retry = this.#o.clock.setTimeout(() => { p.retry = undefined; this.#connect(p); }, delay);
  }

  #onOutboundFrame(p: Peer, conn: Conn, type: number, payload: Buffer): void {
    p.lastRxWall = this.#o.clock.now();
    if (type === FrameType.Ping) return;
    if (type !== FrameType.Res) {
      conn.close(`protocol error: frame type ${type} on an outbound connection`);
      return;
    }
    let r: ResFrame;
    try {
      r = parseRes(parseJson(payload));
    } catch (err) {
      conn.close(`protocol error: ${errorText(err)}`);
      return;
    }
    const pend = this.#pending.get(r.id);
    if (!pend || pend.conn !== conn) return; // timed out meanwhile, or not ours
    this.#pending.delete(r.id);
    pend.timer.cancel();
    settle(r, pend.resolve, pend.reject);
  }

  #failPendingOn(conn: Conn, reason: string): void {
    for (const [id, r] of this.#pending) {
      if (r.conn !== conn) continue;
      this.#pending.delete(id);
      r.timer.cancel();
      r.reject(new PeerRequestError('ECONNCLOSED', `connection to '${r.peer}' closed before the answer: ${reason}`));
    }
  }

  /** Drops what is queued for p (counted); its requests fail with ECONNECT. */
  #dropQueue(p: Peer, reason: string): void {
    for (let item = p.queue.shift(); item; item = p.queue.shift()) {
      if (item.reqId === undefined) { p.dropped++; continue; }
      const pend = this.#pending.get(item.reqId);
      if (!pend) continue;
      this.#pending.delete(item.reqId);
      pend.timer.cancel();
      pend.reject(new PeerRequestError('ECONNECT', reason));
    }
  }

  /**
   * Queues a frame for p while its link is up or being set up, unless that would exceed
   * maxQueueBytes (counting the socket's own buffer); otherwise drops it (messages are counted).
   */
  #enqueue(p: Peer, item: { frame: Buffer; reqId?: number }): 'queued' | 'full' | 'down' {
    const isMsg = item.reqId === undefined; // a refused request is reported to its caller, not counted
    if (!p.conn) {
      if (isMsg) p.dropped++;
      return 'down';
    }
    const inSocket = p.ready ? p.conn.socket.writableLength : 0;
    if (p.queue.bytes + inSocket + item.frame.length > this.#l.maxQueueBytes) {
      if (isMsg) p.dropped++;
      if (this.#limiter.allow(`full:${p.node}`)) {
        this.#log.warn({ peer: p.node, queuedBytes: p.queue.bytes + inSocket, dropped: p.dropped }, 'peer queue full: dropping messages (logged once a minute)');
      }
      return 'full';
    }
    p.queue.push(item);
    if (p.ready) this.#flush(p);
    return 'queued';
  }

  /** Moves queued frames into the socket while it is below its high-water mark; writes of one tick are corked together. */
  #flush(p: Peer): void {
    const conn = p.conn;
    if (!p.ready || !conn || conn.state !== 'ready') return;
    const s = conn.socket;
    if (!p.corked && p.queue.length > 0) {
      p.corked = true;
      s.cork();
      process.nextTick(() => { p.corked = false; s.uncork(); });
    }
    while (p.queue.length > 0 && !s.writableNeedDrain) {
      const item = p.queue.shift()!;
      if (item.reqId !== undefined) {
        const pend = this.#pending.get(item.reqId);
        if (!pend) continue; // timed out while queued: not worth sending
        pend.conn = conn;
      }
      conn.write(item.frame);
    }
  }

  // ---- inbound connections ----

  #accept(socket: Socket): void {
    if (this.#closed || this.#inbound.size >= MAX_INBOUND || this.#handshaking >= MAX_HANDSHAKING) {
      socket.destroy();
      if (!this.#closed && this.#limiter.allow('inbound-full')) this.#log.warn({ inbound: this.#inbound.size, handshaking: this.#handshaking }, 'too many peer connections: refusing new ones');
      return;
    }
    let handshaking = true;
    const endHandshake = (): void => { if (handshaking) { handshaking = false; this.#handshaking--; } };
    const conn = new Conn({
      socket, role: 'server', clock: this.#o.clock, idleTimeoutMs: this.#l.idleTimeoutMs, maxMessageBytes: this.#l.maxMessageBytes,
      onFrame: (c, type, payload) => this.#onInboundFrame(c, type, payload),
      onClose: (c, reason) => {
        endHandshake();
        this.#inbound.delete(c);
        if (c.remoteNode !== undefined) this.#log.debug({ peer: c.remoteNode, reason }, 'inbound peer connection closed');
      },
    });
    this.#inbound.add(conn);
    this.#handshaking++;
    const timer = this.#o.clock.setTimeout(() => conn.close(`handshake timeout after ${this.#l.handshakeTimeoutMs} ms`), this.#l.handshakeTimeoutMs);
    serverHandshake(conn, this.#auth()).then(
      (node) => {
        timer.cancel();
        endHandshake();
        this.#log.debug({ peer: node, address: conn.remoteAddress }, 'inbound peer connection authenticated');
        // The peer reached us: the link works, so stop waiting out our backoff towards it.
        const p = this.#peers.get(node);
        if (p && !p.conn && p.retry) {
          p.attempt = 0;
          this.#connect(p);
        }
      },
      (err: unknown) => {
        timer.cancel();
        endHandshake();
        const e = err instanceof HandshakeError ? err : new HandshakeError('protocol', errorText(err));
        const address = conn.remoteAddress;
        if (e.kind === 'closed') {
          this.#log.debug({ address, reason: e.message }, 'peer connection closed during the handshake');
        } else if (this.#limiter.allow(`in:${address}`)) {
          this.#log.warn({ address, reason: e.message }, e.kind === 'protocol' ? 'peer protocol error (logged once a minute per address)' : 'refused peer (logged once a minute per address)');
        }
      },
    );
  }

  #onInboundFrame(conn: Conn, type: number, payload: Buffer): void {
    const node = conn.remoteNode!;
    const p = this.#peers.get(node);
    if (p) p.lastRxWall = this.#o.clock.now();
    switch (type) {
      case FrameType.Ping:
        return;
      case FrameType.Msg: {
        let msg: unknown;
        try {
          msg = parseJson(payload);
        } catch {
          conn.close('protocol error: malformed JSON message');
          return;
        }
        try {
          this.#onMessage?.(node, msg);
        } catch (err) {
          if (this.#limiter.allow('handler:msg')) this.#log.error({ peer: node, err: errorText(err) }, 'message handler threw (logged once a minute)');
        }
        return;
      }
      case FrameType.Req:
        this.#serveRequest(conn, node, payload);
        return;
      default:
        conn.close(`protocol error: frame type ${type} on an inbound connection`);
    }
  }

  #serveRequest(conn: Conn, node: string, payload: Buffer): void {
    let id: number;
    let req: unknown;
    try {
      ({ id, req } = parseReq(parseJson(payload)));
    } catch (err) {
      conn.close(`protocol error: ${errorText(err)}`);
      return;
    }
    const handler = this.#onRequest;
    if (!handler) { this.#reply(conn, id, { ok: false, error: 'no request handler' }); return; }
    if (conn.inflight >= MAX_INFLIGHT_PER_CONN) { this.#reply(conn, id, { ok: false, error: 'busy: too many requests in flight' }); return; }
    conn.inflight++;
    let answer: Promise<unknown>;
    try {
      answer = Promise.resolve(handler({ node, address: conn.remoteAddress }, req));
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (res) => { conn.inflight--; this.#reply(conn, id, { ok: true, res }); },
      (err: unknown) => { conn.inflight--; this.#reply(conn, id, { ok: false, error: errorText(err) }); },
    );
  }

  #reply(conn: Conn, id: number, body: { ok: true; res: unknown } | { ok: false; error: string }): void {
    if (conn.state !== 'ready') return;
    let json: string;
    try {
      json = JSON.stringify({ id, ...body });
    } catch (err) {
      json = JSON.stringify({ id, ok: false, error: `response not serializable: ${errorText(err)}` });
    }
    if (Buffer.byteLength(json) + 1 > this.#l.maxMessageBytes) json = JSON.stringify({ id, ok: false, error: 'response too large' });
    if (conn.socket.writableLength > this.#l.maxQueueBytes) {
      conn.close('the requester does not read its responses (backlog above maxQueueBytes)');
      return;
    }
    conn.write(encodeFrame(FrameType.Res, json));
  }

  // ---- the Transport API ----

  send(to: string, msg: unknown): void {
    try {
      if (this.#closed) return;
      const p = this.#peers.get(to);
      if (!p) return; // unknown: dropped, as the Transport contract says
      let json: string | undefined;
      try {
        json = JSON.stringify(msg);
      } catch {
        json = undefined;
      }
      if (json === undefined || Buffer.byteLength(json) + 1 > this.#l.maxMessageBytes) {
        p.dropped++;
        if (this.#limiter.allow(`bad:${to}`)) this.#log.error({ peer: to }, 'message not JSON-serializable or above maxMessageBytes: dropped (logged once a minute)');
        return;
      }
      this.#enqueue(p, { frame: encodeFrame(FrameType.Msg, json) });
    } catch (err) {
      this.#log.error({ peer: logSafe(to), err: errorText(err) }, 'send failed');
    }
  }

  onMessage(handler: (from: string, msg: unknown) => void): void {
    this.#onMessage = handler;
  }

  onRequest(handler: RequestHandler): void {
    this.#onRequest = handler;
  }

  request(to: string | PeerAddress, req: unknown, timeoutMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new PeerRequestError('ECLOSED', 'transport closed'));
    if (typeof to !== 'string') {
      return oneShot(to, this.#auth(), req, timeoutMs, { clock: this.#o.clock, log: this.#log, limits: this.#l, track: this.#temp });
    }
    const p = this.#peers.get(to);
    if (!p) return Promise.reject(new PeerRequestError('EUNKNOWNPEER', `unknown peer '${logSafe(to)}'`));
    if (this.#pending.size >= MAX_PENDING_REQUESTS) return Promise.reject(new PeerRequestError('EBUSY', 'too many requests pending'));
    const id = this.#nextId++;
    let frame: Buffer;
    try {
      frame = encodeFrame(FrameType.Req, JSON.stringify({ id, req }));
    } catch (err) {
      return Promise.reject(new PeerRequestError('EINVAL', `request not serializable: ${errorText(err)}`));
    }
    if (frameBodyBytes(frame) > this.#l.maxMessageBytes) return Promise.reject(new PeerRequestError('EINVAL', 'request above maxMessageBytes'));
    return new Promise((resolve, reject) => {
      const timer = this.#o.clock.setTimeout(() => {
        this.#pending.delete(id);
        reject(new PeerRequestError('ETIMEDOUT', `no answer from '${to}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer, peer: to, conn: undefined });
      const q = this.#enqueue(p, { frame, reqId: id });
      if (q !== 'queued') {
        this.#pending.delete(id);
        timer.cancel();
        reject(q === 'full'
          ? new PeerRequestError('EQUEUEFULL', `queue to '${to}' is full`)
          : new PeerRequestError('ECONNECT', `peer '${to}' is unreachable (${p.lastError ?? 'not connected'}; redialling with backoff)`));
      }
    });
  }

  stats(): Record<string, PeerStats> {
    const out: Record<string, PeerStats> = {};
    for (const [node, p] of this.#peers) {
      const inSocket = p.ready && p.conn ? p.conn.socket.writableLength : 0;
      out[node] = {
        connected: p.ready, queuedBytes: p.queue.bytes + inSocket, dropped: p.dropped,
        ...(p.lastRxWall !== undefined ? { lastReceivedMs: p.lastRxWall } : {}),
      };
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#peers.values()) { this.#drop(p, 'transport closed'); p.queue.clear(); }
    for (const c of [...this.#inbound, ...this.#temp]) c.close('transport closed');
    for (const [id, r] of this.#pending) {
      this.#pending.delete(id);
      r.timer.cancel();
      r.reject(new PeerRequestError('ECLOSED', 'transport closed'));
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

