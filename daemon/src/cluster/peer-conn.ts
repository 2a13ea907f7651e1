/**
 * One TCP connection of the peer channel: framing with size limits, the handshake (both roles),
 * heartbeats and the idle timeout that detects a pulled cable (TCP itself notices only after
 * minutes: see test/lab/README.md). Used by PeerTransport and by peerRequest (peer.ts).
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '../lib/clock.js';
import {
  FrameDecoder, FrameError, FrameType, HANDSHAKE_MAX_BODY, encodeFrame, handshakeProof, isRecord, logSafe,
  newNonce, parseHello, parseJson, parseProof, parseRefuse, plainAddress, proofMatches, type RefuseReason,
} from './peer-protocol.js';

export interface Frame { type: number; payload: Buffer }

export interface ConnOptions {
  socket: Socket;
  role: 'client' | 'server';
  clock: Clock;
  /** A ready connection that received nothing for this long is closed. */
  idleTimeoutMs: number;
  /** Frame body limit once authenticated. */
  maxMessageBytes: number;
  /** Frames after the handshake. */
  onFrame(conn: Conn, type: number, payload: Buffer): void;
  /** Called once, whoever closed the connection. */
  onClose(conn: Conn, reason: string): void;
}

export type HandshakeFailure = 'cluster' | 'auth' | 'refused' | 'name' | 'version' | 'protocol' | 'closed';

export class HandshakeError extends Error {
  constructor(readonly kind: HandshakeFailure, message: string) {
    super(message);
    this.name = 'HandshakeError';
  }
}

const MAX_HANDSHAKE_QUEUE = 2;

export class Conn {
  readonly socket: Socket;
  readonly role: 'client' | 'server';
  readonly remoteAddress: string;
  state: 'handshake' | 'ready' | 'closed' = 'handshake';
  /** The authenticated name of the other end (set when ready). */
  remoteNode: string | undefined;
  closeReason: string | undefined;
  /** Monotonic ms of the last frame received / written. */
  lastRx: number;
  lastTx: number;
  readonly #o: ConnOptions;
  readonly #decoder = new FrameDecoder(HANDSHAKE_MAX_BODY);
  #hsQueue: Frame[] = [];
  #hsWaiter: { resolve(f: Frame): void; reject(e: Error): void } | undefined;
  #tick: TimerHandle | undefined;
  #killTimer: TimerHandle | undefined;
  /** Requests being answered on this (server-side) connection. */
  inflight = 0;

  constructor(o: ConnOptions) {
    this.#o = o;
    this.socket = o.socket;
    this.role = o.role;
    this.remoteAddress = plainAddress(o.socket.remoteAddress);
    this.lastRx = this.lastTx = o.clock.monotonic();
    o.socket.setNoDelay(true);
    o.socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    o.socket.on('error', (err: NodeJS.ErrnoException) => this.close(err.code ?? err.message));
    o.socket.on('end', () => this.close('closed by the other end'));
    o.socket.on('close', () => this.close('closed by the other end'));
  }

  #onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastRx = this.#o.clock.monotonic();
    try {
      this.#decoder.push(chunk, (type, payload) => {
        this.#onFrame(type, payload);
        return this.state !== 'closed';
      });
    } catch (err) {
      this.close(err instanceof FrameError ? `protocol error: ${err.message}` : `error: ${(err as Error).message}`);
    }
  }

  #onFrame(type: number, payload: Buffer): void {
    if (this.state === 'ready') {
      this.#o.onFrame(this, type, payload);
      return;
    }
    const f = { type, payload };
    if (this.#hsWaiter) {
      const w = this.#hsWaiter;
      this.#hsWaiter = undefined;
      w.resolve(f);
    } else if (this.#hsQueue.length < MAX_HANDSHAKE_QUEUE) {
      this.#hsQueue.push(f);
    } else {
      this.close('protocol error: unexpected frames during the handshake');
    }
  }

  /** The next frame while handshaking; rejects when the connection closes. */
  next(): Promise<Frame> {
    const f = this.#hsQueue.shift();
    if (f) return Promise.resolve(f);
    if (this.state === 'closed') return Promise.reject(new HandshakeError('closed', this.closeReason ?? 'closed'));
    return new Promise((resolve, reject) => { this.#hsWaiter = { resolve, reject }; });
  }

  /** Writes one frame; false when the socket's buffer is above its high-water mark (or closed). */
  write(frame: Buffer): boolean {
    if (this.state === 'closed') return false;
    this.lastTx = this.#o.clock.monotonic();
    return this.socket.write(frame);
  }

  send(type: number, body?: unknown): boolean {
    return this.write(encodeFrame(type, body === undefined ? undefined : JSON.stringify(body)));
  }

  /** Handshake done: lift the frame limit, start heartbeats and the idle check. */
  markReady(remoteNode: string): void {
    if (this.state !== 'handshake') return;
    this.state = 'ready';
    this.remoteNode = remoteNode;
    this.#decoder.maxBody = this.#o.maxMessageBytes;
    // Frames that arrived in the same read as the last handshake frame.
    for (let f = this.#hsQueue.shift(); f && this.state === 'ready'; f = this.#hsQueue.shift()) this.#o.onFrame(this, f.type, f.payload);
    const idle = this.#o.idleTimeoutMs;
    const pingEvery = Math.max(10, Math.floor(idle / 3));
    const tickMs = Math.max(10, Math.min(250, Math.floor(idle / 12)));
    const tick = (): void => {
      if (this.state !== 'ready') return;
      const now = this.#o.clock.monotonic();
      if (now - this.lastRx >= idle) {
        this.close(`idle: nothing received for ${Math.round(now - this.lastRx)} ms`);
        return;
      }
      // A heartbeat when we have been quiet; pointless while bytes are still waiting to go out.
      if (now - this.lastTx >= pingEvery && this.socket.writableLength === 0) this.write(encodeFrame(FrameType.Ping));
      this.#tick = this.#o.clock.setTimeout(tick, tickMs);
    };
    this.#tick = this.#o.clock.setTimeout(tick, tickMs);
  }

  /** Sends REFUSE, then closes (the frame is flushed; the socket is destroyed after 1 s at the latest). */
  refuse(reason: RefuseReason, logReason: string): void {
    if (this.state === 'closed') return;
    this.socket.end(encodeFrame(FrameType.Refuse, JSON.stringify({ reason })));
    this.#killTimer = this.#o.clock.setTimeout(() => this.socket.destroy(), 1000);
    this.#finish(logReason);
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    this.socket.destroy();
    this.#finish(reason);
  }

  #finish(reason: string): void {
    this.state = 'closed';
    this.closeReason = reason;
    this.#tick?.cancel();
    this.#decoder.clear();
    this.#hsQueue = [];
    if (this.#hsWaiter) {
      const w = this.#hsWaiter;
      this.#hsWaiter = undefined;
      w.reject(new HandshakeError('closed', reason));
    }
    this.socket.once('close', () => this.#killTimer?.cancel());
    this.#o.onClose(this, reason);
  }
}

export interface HandshakeAuth { cluster: string; token: string; self: string }

function protocolError(err: unknown): HandshakeError {
  if (err instanceof HandshakeError) return err;
  return new HandshakeError('protocol', err instanceof Error ? err.message : String(err));
}

/** Client side; resolves with the server's authenticated name. expectNode: refuse a server answering under another name. */
export async function clientHandshake(conn: Conn, a: HandshakeAuth & { expectNode?: string }): Promise<string> {
  try {
    const clientNonce = newNonce();
    conn.send(FrameType.Hello, { v: 1, cluster: a.cluster, node: a.self, nonce: clientNonce });
    let f = await conn.next();
    if (f.type === FrameType.Refuse) throw new HandshakeError('refused', `refused: ${parseRefuse(parseJson(f.payload))}`);
    if (f.type !== FrameType.Challenge) throw new HandshakeError('protocol', `unexpected frame type ${f.type} instead of a challenge`);
    const ch = parseHello(parseJson(f.payload));
    if (ch.cluster !== a.cluster) throw new HandshakeError('cluster', `the other end is in cluster '${logSafe(ch.cluster)}'`);
    if (a.expectNode !== undefined && ch.node !== a.expectNode) {
      throw new HandshakeError('name', `answered as '${logSafe(ch.node)}' instead of '${logSafe(a.expectNode)}'`);
    }
    const p = { token: a.token, cluster: a.cluster, clientNode: a.self, serverNode: ch.node, clientNonce, serverNonce: ch.nonce };
    conn.send(FrameType.Auth, { proof: handshakeProof('client', p).toString('base64') });
    f = await conn.next();
    if (f.type === FrameType.Refuse) throw new HandshakeError('refused', `refused: ${parseRefuse(parseJson(f.payload))}`);
    if (f.type !== FrameType.Welcome) throw new HandshakeError('protocol', `unexpected frame type ${f.type} instead of welcome`);
    if (!proofMatches(handshakeProof('server', p), parseProof(parseJson(f.payload)))) {
      throw new HandshakeError('auth', 'the other end does not know the cluster token');
    }
    conn.markReady(ch.node);
    return ch.node;
  } catch (err) {
    const e = protocolError(err);
    conn.close(`handshake: ${e.message}`);
    throw e;
  }
}

/** Server side; resolves with the client's authenticated name. Refusals tell the client why (cluster/auth/version), never more. */
export async function serverHandshake(conn: Conn, a: HandshakeAuth): Promise<string> {
  try {
    let f = await conn.next();
    if (f.type !== FrameType.Hello) throw new HandshakeError('protocol', `unexpected frame type ${f.type} instead of hello`);
    const raw = parseJson(f.payload);
    if (isRecord(raw) && typeof raw.v === 'number' && raw.v !== 1) {
      conn.refuse('version', 'refused: protocol version');
      throw new HandshakeError('version', `protocol version ${logSafe(raw.v, 8)}`);
    }
    const hello = parseHello(raw);
    if (hello.cluster !== a.cluster) {
      conn.refuse('cluster', 'refused: wrong cluster');
      throw new HandshakeError('cluster', `wrong cluster '${logSafe(hello.cluster)}' from node '${logSafe(hello.node)}'`);
    }
    const serverNonce = newNonce();
    conn.send(FrameType.Challenge, { v: 1, cluster: a.cluster, node: a.self, nonce: serverNonce });
    f = await conn.next();
    if (f.type !== FrameType.Auth) throw new HandshakeError('protocol', `unexpected frame type ${f.type} instead of auth`);
    const p = { token: a.token, cluster: a.cluster, clientNode: hello.node, serverNode: a.self, clientNonce: hello.nonce, serverNonce };
    if (!proofMatches(handshakeProof('client', p), parseProof(parseJson(f.payload)))) {
      conn.refuse('auth', 'refused: wrong token');
      throw new HandshakeError('auth', `wrong token from node '${logSafe(hello.node)}'`);
    }
    conn.send(FrameType.Welcome, { proof: handshakeProof('server', p).toString('base64') });
    conn.markReady(hello.node);
    return hello.node;
  } catch (err) {
    const e = protocolError(err);
    conn.close(`handshake: ${e.message}`);
    throw e;
  }
}

/** "Once per key per interval" for log lines about remote ends (bounded: forgets the oldest keys). */
export class LogLimiter {
  readonly #last = new Map<string, number>();
  constructor(private readonly clock: Clock, private readonly intervalMs = 60_000, private readonly maxKeys = 1024) {}

  allow(key: string): boolean {
    const now = this.clock.monotonic();
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.#last.delete(key);
    if (this.#last.size >= this.maxKeys) {
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
    this.#last.set(key, now);
    return true;
  }
}

/** connect() gave up (refused, unreachable, or its own timeout): nothing was exchanged. */
export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

export interface DialOptions {
  clock: Clock;
  auth: HandshakeAuth;
  /** The name the server must prove; undefined: any member of the cluster. */
  expectNode?: string;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  maxMessageBytes: number;
  onFrame(conn: Conn, type: number, payload: Buffer): void;
  onClose(conn: Conn, reason: string): void;
}

/**
 * Opens a client connection: connect with its own timeout (a SYN to a cut node is otherwise
 * retried for ~2 min), then the handshake with its own. `ready` resolves with the server's
 * name or rejects with a ConnectError or a HandshakeError; onClose is called in every case.
 */
export function dial(addr: { host: string; port: number }, o: DialOptions): { conn: Conn; ready: Promise<string> } {
  const socket = netConnect({ host: addr.host, port: addr.port, noDelay: true });
  let connected = false;
  let rejectConnect: ((e: Error) => void) | undefined;
  const conn = new Conn({
    socket, role: 'client', clock: o.clock, idleTimeoutMs: o.idleTimeoutMs, maxMessageBytes: o.maxMessageBytes,
    onFrame: o.onFrame,
    onClose: (c, reason) => {
      connectTimer.cancel();
      if (!connected) rejectConnect?.(new ConnectError(reason));
      o.onClose(c, reason);
    },
  });
  const connectTimer = o.clock.setTimeout(() => conn.close(`connect timeout after ${o.connectTimeoutMs} ms`), o.connectTimeoutMs);
  const ready = new Promise<string>((resolve, reject) => {
    rejectConnect = reject;
    socket.once('connect', () => {
      if (conn.state === 'closed') return;
      connected = true;
      connectTimer.cancel();
      const hsTimer = o.clock.setTimeout(() => conn.close(`handshake timeout after ${o.handshakeTimeoutMs} ms`), o.handshakeTimeoutMs);
      clientHandshake(conn, { ...o.auth, ...(o.expectNode !== undefined ? { expectNode: o.expectNode } : {}) }).then(
        (node) => { hsTimer.cancel(); resolve(node); },
        (err: unknown) => { hsTimer.cancel(); reject(err as Error); },
      );
    });
  });
  return { conn, ready };
}
