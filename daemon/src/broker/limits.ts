/**
 * Limits of the embedded broker that apply before aedes buffers anything.
 *
 * aedes 1.2.0 and mqtt-packet 9 have no maximum packet size: the parser appends every byte it
 * is given until the Remaining Length of the fixed header is reached (up to 256 MB), before
 * CONNECT is even parsed. So a stage sits between the socket (or the WebSocket stream) and
 * `aedes.handle`: it reads each packet's fixed header as the bytes go by (type byte plus the
 * Remaining Length varint, at most 4 bytes, possibly split across chunks), passes the chunks on
 * unchanged without copying or holding them, and destroys the connection as soon as a header
 * announces a packet larger than the current limit (small until the client has logged in).
 */
import { Duplex } from 'node:stream';

export interface BrokerLimits {
  /** Largest packet (fixed header included) of a logged-in client. */
  maxPacketBytes: number;
  /** Largest packet before the client has logged in (the CONNECT). */
  maxConnectPacketBytes: number;
  /** From TCP accept until the CONNECT has been accepted. */
  connectTimeoutSeconds: number;
  /** Connections per remote address that have not logged in yet; more are closed at once. */
  maxPendingConnectionsPerAddress: number;
}

/** Keep in step with the `mqtt:` defaults in config.ts (a test checks). */
export const DEFAULT_BROKER_LIMITS: Readonly<BrokerLimits> = Object.freeze({
  maxPacketBytes: 8 * 1024 * 1024,
  maxConnectPacketBytes: 16 * 1024,
  connectTimeoutSeconds: 5,
  maxPendingConnectionsPerAddress: 16,
});

/** The largest packet MQTT can express: type byte + 4-byte Remaining Length + 268 435 455. */
export const MQTT_MAX_PACKET_BYTES = 1 + 4 + 268_435_455;

const PACKET_TYPES = ['reserved', 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth'] as const;

/** The MQTT control packet name of a fixed header's type (its upper 4 bits). */
export function packetTypeName(type: number): string {
  return PACKET_TYPES[type & 0x0f] ?? 'reserved';
}

export type HeaderViolation =
  | { kind: 'too-large'; type: string; packetBytes: number; limit: number }
  | { kind: 'malformed-length'; type: string };

/**
 * Follows the packet boundaries of an MQTT byte stream by reading only fixed headers and
 * skipping bodies. `scan` returns a violation for the first header over `limit` (total packet
 * bytes, fixed header included) or with a Remaining Length of more than 4 bytes; after that the
 * scanner stays failed. Changing `limit` applies to headers not completed yet.
 */
export class FixedHeaderScanner {
  /** Headers completed so far. */
  packets = 0;
  /** Body bytes of the current packet still to skip. */
  private skip = 0;
  /** -1: the next byte is a type byte; 0..3: Remaining Length bytes read so far. */
  private lengthBytes = -1;
  private type = 0;
  private value = 0;
  private multiplier = 1;
  private failed: HeaderViolation | undefined;

  constructor(public limit: number) {}

  get violation(): HeaderViolation | undefined {
    return this.failed;
  }

  /** True between packets (no header or body in progress). */
  get atBoundary(): boolean {
    return this.skip === 0 && this.lengthBytes === -1;
  }

  scan(chunk: Uint8Array): HeaderViolation | undefined {
    if (this.failed) return this.failed;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, n - i);
        this.skip -= step;
        i += step;
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.lengthBytes < 0) {
        this.type = byte >> 4;
        this.lengthBytes = 0;
        this.value = 0;
        this.multiplier = 1;
        continue;
      }
      this.value += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes >= 4) {
          this.failed = { kind: 'malformed-length', type: packetTypeName(this.type) };
          return this.failed;
        }
        continue;
      }
      const packetBytes = 1 + this.lengthBytes + this.value;
      this.lengthBytes = -1;
      this.packets++;
      if (packetBytes > this.limit) {
        this.failed = { kind: 'too-large', type: packetTypeName(this.type), packetBytes, limit: this.limit };
        return this.failed;
      }
      this.skip = this.value;
    }
    return undefined;
  }
}

export class PacketLimitError extends Error {
  readonly code = 'PIFLEET_MQTT_PACKET_LIMIT';
  constructor(readonly violation: HeaderViolation) {
    super(violation.kind === 'too-large'
      ? `${violation.type} packet of ${violation.packetBytes} bytes over the limit of ${violation.limit}`
      : `${violation.type} packet with a malformed Remaining Length`);
    this.name = 'PacketLimitError';
  }
}

/**
 * A Duplex in front of `inner` (a net.Socket or a WebSocket stream) for aedes: incoming chunks
 * go through a FixedHeaderScanner and are pushed on as they are (same Buffer objects), outgoing
 * writes go straight to `inner`. Backpressure is kept both ways. On a violation `onViolation`
 * runs once, then both streams are destroyed before the chunk reaches aedes.
 */
export class PacketLimitStream extends Duplex {
  readonly scanner: FixedHeaderScanner;
  private waitingDrain: ((err?: Error | null) => void) | undefined;
  private innerEnded = false;

  constructor(
    readonly inner: Duplex,
    limit: number,
    private readonly onViolation: (v: HeaderViolation) => void = () => undefined,
  ) {
    super({ allowHalfOpen: false });
    this.scanner = new FixedHeaderScanner(limit);
    inner.on('data', this.onData);
    inner.on('end', () => {
      this.innerEnded = true;
      this.push(null);
    });
    inner.on('error', (err: Error) => this.destroy(err));
    // After a clean end, what was pushed (a last DISCONNECT) is still read by aedes before this
    // stream ends and destroys itself; an abrupt close ends it at once.
    inner.on('close', () => {
      this.releaseWrite(); // nothing more will drain
      if (!this.destroyed && !this.innerEnded) this.destroy();
    });
    inner.on('drain', () => this.releaseWrite());
  }

  private releaseWrite(): void {
    const cb = this.waitingDrain;
    this.waitingDrain = undefined;
    cb?.();
  }

  get limit(): number {
    return this.scanner.limit;
  }

  set limit(bytes: number) {
    this.scanner.limit = bytes;
  }

  private readonly onData = (data: Buffer | string): void => {
    if (this.destroyed) return;
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    const violation = this.scanner.scan(chunk);
    if (violation) {
      this.inner.off('data', this.onData);
      this.onViolation(violation);
      this.destroy(new PacketLimitError(violation));
      return;
    }
    if (!this.push(chunk)) this.inner.pause();
  };

  override _read(): void {
    if (this.inner.isPaused()) this.inner.resume();
  }

  private get innerGone(): boolean {
    return this.inner.destroyed || this.inner.writableEnded;
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.innerGone) { cb(); return; } // the peer is gone: nothing to deliver to
    if (this.inner.write(chunk, encoding)) cb();
    else this.waitingDrain = cb;
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void {
    if (this.innerGone) { cb(); return; }
    this.inner.cork();
    let ok = true;
    for (const { chunk, encoding } of chunks) ok = this.inner.write(chunk, encoding);
    this.inner.uncork();
    if (ok) cb();
    else this.waitingDrain = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.innerGone) this.inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner.off('data', this.onData);
    this.waitingDrain = undefined;
    if (!this.inner.destroyed) this.inner.destroy();
    cb(err);
  }
}

/**
 * Counts connections per remote address that have not logged in yet. `acquire` gives a release
 * function (idempotent), or undefined when the address already holds `max` places.
 */
export class PendingConnections {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  acquire(address: string): (() => void) | undefined {
    const n = this.counts.get(address) ?? 0;
    if (n >= this.max) return undefined;
    this.counts.set(address, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(address) ?? 1) - 1;
      if (left <= 0) this.counts.delete(address);
      else this.counts.set(address, left);
    };
  }

  count(address: string): number {
    return this.counts.get(address) ?? 0;
  }

  /** Addresses with pending connections (for tests and diagnostics). */
  get addresses(): number {
    return this.counts.size;
  }
}

export interface RateLimiterOptions {
  /** Lines per key and window. */
  burst: number;
  windowMs: number;
  /** Keys tracked at most; beyond that, new keys share one bucket. */
  maxKeys: number;
  now?: () => number;
}

/**
 * At most `burst` log lines per key (remote address) and window. `take` returns undefined for a
 * line to drop, else how many were dropped for that key since its last line.
 */
export class PerKeyRateLimiter {
  private readonly buckets = new Map<string, { start: number; used: number; dropped: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: RateLimiterOptions) {
    this.now = opts.now ?? Date.now;
  }

  take(key: string): { dropped: number } | undefined {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.opts.maxKeys) this.prune(now);
      const k = this.buckets.size >= this.opts.maxKeys ? '*' : key;
      bucket = this.buckets.get(k);
      if (!bucket) {
        bucket = { start: now, used: 0, dropped: 0 };
        this.buckets.set(k, bucket);
      }
    }
    if (now - bucket.start >= this.opts.windowMs) {
      bucket.start = now;
      bucket.used = 0;
    }
    if (bucket.used >= this.opts.burst) {
      bucket.dropped++;
      return undefined;
    }
    bucket.used++;
    const dropped = bucket.dropped;
    bucket.dropped = 0;
    return { dropped };
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      if (now - b.start >= this.opts.windowMs && b.dropped === 0) this.buckets.delete(k);
    }
  }
}

/** `::ffff:10.0.0.5` and `10.0.0.5` are one address; unknown addresses share one key. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
