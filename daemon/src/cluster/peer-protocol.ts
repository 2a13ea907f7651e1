/**
 * Wire format of the peer channel (peer.ts): frames, handshake proofs and the validation of
 * everything a remote end sends.
 *
 * A frame is a 4-byte big-endian length, then a type byte, then the payload (UTF-8 JSON, or
 * nothing for PING). The length counts the type byte and the payload and is checked against the
 * connection's limit before a single byte of the body is kept: 4 KiB until the handshake is
 * done, maxMessageBytes afterwards.
 *
 * Handshake (client C connects to server S; token = the cluster secret, never sent):
 *   C -> S  HELLO     { v: 1, cluster, node: C, nonce: Nc }
 *   S -> C  CHALLENGE { v: 1, cluster, node: S, nonce: Ns }                 (or REFUSE 'cluster')
 *   C -> S  AUTH      { proof: HMAC(token, [proto, 'client', cluster, C, S, Nc, Ns]) }
 *   S -> C  WELCOME   { proof: HMAC(token, [proto, 'server', cluster, C, S, Nc, Ns]) }  (or REFUSE 'auth')
 * S proves itself only after C did, so a stranger gets nothing but a nonce; the role label keeps
 * one side's proof from being replayed as the other's; fresh 32-byte nonces on both sides keep
 * recorded proofs useless. After the handshake: C sends MSG, REQ and PING; S sends RES and PING.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const PROTOCOL = 'pifleet-peer/1';
export const HEADER_BYTES = 4;
/** Frame body limit before authentication: handshake frames are a few hundred bytes. */
export const HANDSHAKE_MAX_BODY = 4096;

export const FrameType = {
  Hello: 0x01,
  Challenge: 0x02,
  Auth: 0x03,
  Welcome: 0x04,
  Refuse: 0x05,
  Msg: 0x10,
  Req: 0x11,
  Res: 0x12,
  Ping: 0x13,
} as const;
export type FrameTypeId = (typeof FrameType)[keyof typeof FrameType];

export type RefuseReason = 'cluster' | 'auth' | 'version' | 'busy';

export class FrameError extends Error {
  constructor(readonly reason: 'oversize' | 'empty' | 'json' | 'shape' | 'type', message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

const EMPTY = Buffer.alloc(0);

/** One frame; a string payload is encoded as UTF-8 straight into the frame buffer. */
export function encodeFrame(type: number, payload: string | Buffer = EMPTY): Buffer {
  const n = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + 1 + n);
  buf.writeUInt32BE(1 + n, 0);
  buf[HEADER_BYTES] = type;
  if (typeof payload === 'string') buf.write(payload, HEADER_BYTES + 1, 'utf8');
  else payload.copy(buf, HEADER_BYTES + 1);
  return buf;
}

/** The body size (type byte + payload) of an encoded frame. */
export function frameBodyBytes(frame: Buffer): number {
  return frame.length - HEADER_BYTES;
}

/**
 * Splits a byte stream into frames. Keeps at most one frame's bytes (plus one socket read);
 * a header announcing more than maxBody throws at once, before the body is buffered.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #bodyLen = -1;

  constructor(public maxBody: number) {}

  /** Bytes held right now (for tests and stats). */
  get buffered(): number {
    return this.#buffered;
  }

  /** onFrame returns false to stop decoding (the connection was closed). */
  push(chunk: Buffer, onFrame: (type: number, payload: Buffer) => boolean): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#bodyLen < 0) {
        if (this.#buffered < HEADER_BYTES) return;
        let first = this.#chunks[0]!;
        if (first.length < HEADER_BYTES) {
          first = Buffer.concat(this.#chunks, this.#buffered);
          this.#chunks = [first];
        }
        const len = first.readUInt32BE(0);
        if (len === 0) throw new FrameError('empty', 'empty frame');
        if (len > this.maxBody) throw new FrameError('oversize', `frame of ${len} bytes announced, limit ${this.maxBody}`);
        this.#bodyLen = len;
      }
      const total = HEADER_BYTES + this.#bodyLen;
      if (this.#buffered < total) return;
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
      const type = all[HEADER_BYTES]!;
      const payload = all.subarray(HEADER_BYTES + 1, total);
      const rest = all.subarray(total);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
      this.#bodyLen = -1;
      if (!onFrame(type, payload)) return;
    }
  }

  clear(): void {
    this.#chunks = [];
    this.#buffered = 0;
    this.#bodyLen = -1;
  }
}

export function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new FrameError('json', 'malformed JSON');
  }
}

/** A plain JSON object (not an array, not null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const NODE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;
const CLUSTER_NAME = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const NONCE = /^[A-Za-z0-9+/]{43}=$/;

/** Member names: DNS-1123-like, at most 253 characters (what the daemon's config allows, plus '_' and upper case). */
export function isNodeName(v: unknown): v is string {
  return typeof v === 'string' && NODE_NAME.test(v);
}

/** Cluster names: DNS-1123 labels, as the daemon's config requires. */
export function isClusterName(v: unknown): v is string {
  return typeof v === 'string' && CLUSTER_NAME.test(v);
}

export function newNonce(): string {
  // Nonces come from the CSPRNG, not from the injected Random (which only has to be uniform).
  return randomBytes(32).toString('base64');
}

export function isNonce(v: unknown): v is string {
  return typeof v === 'string' && NONCE.test(v);
}

export interface HandshakeParams {
  token: string;
  cluster: string;
  clientNode: string;
  serverNode: string;
  clientNonce: string;
  serverNonce: string;
}

export function handshakeProof(role: 'client' | 'server', p: HandshakeParams): Buffer {
  return createHmac('sha256', p.token)
    .update(JSON.stringify([PROTOCOL, role, p.cluster, p.clientNode, p.serverNode, p.clientNonce, p.serverNonce]))
    .digest();
}

/** Constant-time comparison of a received base64 proof with the expected HMAC. */
export function proofMatches(expected: Buffer, got: unknown): boolean {
  if (!isNonce(got)) return false; // a 32-byte value in base64 has the nonce's shape
  const b = Buffer.from(got, 'base64');
  return b.length === expected.length && timingSafeEqual(b, expected);
}

export interface Hello { v: 1; cluster: string; node: string; nonce: string }

/** HELLO and CHALLENGE share a shape. The cluster is only checked to be a string of sane length here: a wrong one is refused by name. */
export function parseHello(v: unknown): Hello {
  if (!isRecord(v) || v.v !== 1) throw new FrameError('shape', 'bad hello (version)');
  if (typeof v.cluster !== 'string' || v.cluster.length > 253) throw new FrameError('shape', 'bad hello (cluster)');
  if (!isNodeName(v.node)) throw new FrameError('shape', 'bad hello (node)');
  if (!isNonce(v.nonce)) throw new FrameError('shape', 'bad hello (nonce)');
  return { v: 1, cluster: v.cluster, node: v.node, nonce: v.nonce };
}

export function parseProof(v: unknown): string {
  if (!isRecord(v) || typeof v.proof !== 'string') throw new FrameError('shape', 'bad proof frame');
  return v.proof;
}

export function parseRefuse(v: unknown): string {
  if (!isRecord(v) || typeof v.reason !== 'string') throw new FrameError('shape', 'bad refuse frame');
  return logSafe(v.reason, 32);
}

export interface ReqFrame { id: number; req: unknown }
export type ResFrame = { id: number; ok: true; res: unknown } | { id: number; ok: false; error: string };

function isRequestId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

export function parseReq(v: unknown): ReqFrame {
  if (!isRecord(v) || !isRequestId(v.id) || !('req' in v)) throw new FrameError('shape', 'bad request frame');
  return { id: v.id, req: v.req };
}

export function parseRes(v: unknown): ResFrame {
  if (!isRecord(v) || !isRequestId(v.id) || typeof v.ok !== 'boolean') throw new FrameError('shape', 'bad response frame');
  if (v.ok) return { id: v.id, ok: true, res: v.res };
  if (typeof v.error !== 'string') throw new FrameError('shape', 'bad error response frame');
  return { id: v.id, ok: false, error: v.error.slice(0, 1024) };
}

/** A remote-controlled string made fit for a log line: cut to max characters, control characters replaced. */
export function logSafe(v: unknown, max = 64): string {
  const s = typeof v === 'string' ? v : String(v);
  const cut = s.slice(0, max).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return s.length > max ? `${cut}...` : cut;
}

/** IPv4-mapped IPv6 addresses ("::ffff:10.0.0.2") as plain IPv4. */
export function plainAddress(a: string | undefined): string {
  if (!a) return '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
