import t from 'tap';
import { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Socket } from 'node:net';
import {
  DEFAULT_BROKER_LIMITS, FixedHeaderScanner, MQTT_MAX_PACKET_BYTES, PacketLimitError, PacketLimitStream,
  PendingConnections, PerKeyRateLimiter, normalizeAddress, packetTypeName, type HeaderViolation,
} from '../../../daemon/src/broker/limits.js';
import { resolveLimits } from '../../../daemon/src/broker/broker.js';
import { loadConfig } from '../../../daemon/src/config.js';
import { fixedHeader, varint } from './fixtures/raw.js';

/** Remaining Lengths that need 1, 2, 3 and 4 bytes, at the edges of each size. */
const LENGTHS = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000, 2_097_151, 2_097_152];

function packets(lengths: number[]): { bytes: Buffer; headerEnds: number[] } {
  const parts: Buffer[] = [];
  const headerEnds: number[] = [];
  let at = 0;
  lengths.forEach((len, i) => {
    const h = fixedHeader(((i % 14) + 1) << 4, len);
    parts.push(h, Buffer.alloc(len, i));
    headerEnds.push(at + h.length);
    at += h.length + len;
  });
  return { bytes: Buffer.concat(parts), headerEnds };
}

t.test('the Remaining Length varint encodes like the MQTT spec examples', async (t) => {
  t.same([...varint(0)], [0x00]);
  t.same([...varint(127)], [0x7f]);
  t.same([...varint(128)], [0x80, 0x01]);
  t.same([...varint(16_383)], [0xff, 0x7f]);
  t.same([...varint(16_384)], [0x80, 0x80, 0x01]);
  t.same([...varint(268_435_455)], [0xff, 0xff, 0xff, 0x7f]);
  t.equal(MQTT_MAX_PACKET_BYTES, 268_435_460);
});

t.test('the scanner follows packet boundaries when the stream is split at every byte of every fixed header', async (t) => {
  const { bytes, headerEnds } = packets(LENGTHS);
  // every split position inside and right around each fixed header (type byte + up to 4 length bytes)
  const cuts = new Set<number>();
  let start = 0;
  for (let i = 0; i < LENGTHS.length; i++) {
    for (let c = start; c <= headerEnds[i]! + 1; c++) cuts.add(c);
    start = headerEnds[i]! + LENGTHS[i]!;
  }
  let checked = 0;
  for (const cut of cuts) {
    const s = new FixedHeaderScanner(MQTT_MAX_PACKET_BYTES);
    t.equal(s.scan(bytes.subarray(0, cut)), undefined);
    t.equal(s.scan(bytes.subarray(cut)), undefined);
    if (s.packets !== LENGTHS.length || !s.atBoundary) t.fail(`split at ${cut}: ${s.packets} packets, boundary ${s.atBoundary}`);
    checked++;
  }
  t.ok(checked > 40, `${checked} two-chunk splits, all ${LENGTHS.length} packets found`);

  const small = Buffer.concat([packets([0, 127, 128, 16_384]).bytes, fixedHeader(0x50, 2_097_152)]);
  const bytewise = new FixedHeaderScanner(MQTT_MAX_PACKET_BYTES);
  for (let i = 0; i < small.length; i++) if (bytewise.scan(small.subarray(i, i + 1))) t.fail(`byte ${i}`);
  t.equal(bytewise.packets, 5, 'fed one byte at a time, every header is read (the last one up to its 4-byte length)');
  t.notOk(bytewise.atBoundary, 'inside the body of the last packet');
});

t.test('a header over the limit is refused at its last length byte, before any of its body, however it is split', async (t) => {
  const before = packets([10, 200]).bytes;
  const big = fixedHeader(0x10, 128 * 1024 * 1024); // a CONNECT announcing 128 MB
  const stream = Buffer.concat([before, big, Buffer.alloc(1000)]);
  const lastLengthByte = before.length + big.length - 1;
  for (let cut = before.length; cut <= lastLengthByte + 1; cut++) {
    const s = new FixedHeaderScanner(16 * 1024);
    const first = s.scan(stream.subarray(0, cut));
    if (cut <= lastLengthByte) {
      t.equal(first, undefined, `cut at ${cut}: the header is not complete yet`);
      // the rest of the header only: no byte of the body is needed
      t.match(s.scan(stream.subarray(cut, lastLengthByte + 1)), { kind: 'too-large', type: 'connect', packetBytes: 1 + 4 + 128 * 1024 * 1024, limit: 16 * 1024 });
    } else {
      t.match(first, { kind: 'too-large', type: 'connect', packetBytes: 1 + 4 + 128 * 1024 * 1024 }, 'header in one chunk');
    }
  }
  const s = new FixedHeaderScanner(16 * 1024);
  const v = s.scan(stream);
  t.match(v, { kind: 'too-large', type: 'connect' });
  t.equal(s.scan(Buffer.from([0x30, 0x00])), v, 'the scanner stays failed');
  t.equal(s.violation, v);
});

t.test('the limit counts the whole packet, fixed header included', async (t) => {
  const scan = (limit: number, remaining: number): HeaderViolation | undefined => new FixedHeaderScanner(limit).scan(fixedHeader(0x30, remaining));
  t.equal(scan(129, 127), undefined, '1 + 1 + 127 = 129 bytes fit 129');
  t.match(scan(128, 127), { kind: 'too-large', packetBytes: 129, limit: 128, type: 'publish' });
  t.equal(scan(131, 128), undefined, '1 + 2 + 128 = 131 bytes fit 131');
  t.match(scan(130, 128), { packetBytes: 131 });
  t.equal(scan(2, 0), undefined, 'a PINGREQ is 2 bytes');
});

t.test('a Remaining Length of more than four bytes is malformed', async (t) => {
  const s = new FixedHeaderScanner(MQTT_MAX_PACKET_BYTES);
  t.equal(s.scan(Buffer.from([0x30, 0xff, 0xff, 0xff])), undefined, 'three continuation bytes: still reading');
  t.same(s.scan(Buffer.from([0xff, 0x01])), { kind: 'malformed-length', type: 'publish' });
  t.equal(packetTypeName(0xc), 'pingreq');
  t.equal(packetTypeName(0), 'reserved');
});

t.test('a new limit applies from the next header on', async (t) => {
  const s = new FixedHeaderScanner(100);
  t.equal(s.scan(Buffer.concat([fixedHeader(0x10, 50), Buffer.alloc(50)])), undefined);
  t.match(new FixedHeaderScanner(100).scan(fixedHeader(0x30, 500)), { kind: 'too-large' }, '500 is over 100');
  s.limit = 1000;
  t.equal(s.scan(Buffer.concat([fixedHeader(0x30, 500), Buffer.alloc(500)])), undefined, 'after raising the limit 500 passes');
  s.limit = 10;
  t.match(s.scan(fixedHeader(0x30, 500)), { kind: 'too-large', limit: 10 });
});

/** An inner stream the test drives: push() what "the network" delivers, see what was written. */
function fakeInner(): { inner: Duplex; written: Buffer[] } {
  const written: Buffer[] = [];
  const inner = new Duplex({
    read() { /* data is pushed by the test */ },
    write(chunk: Buffer, _enc, cb) { written.push(chunk); cb(); },
  });
  return { inner, written };
}

t.test('the stage passes the very same chunk objects on, in order, without copying', async (t) => {
  const { inner, written } = fakeInner();
  const stage = new PacketLimitStream(inner, 1024);
  const got: Buffer[] = [];
  stage.on('data', (c: Buffer) => got.push(c));
  const { bytes } = packets([0, 5, 127, 128, 300]);
  const sent = [bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3, 200), bytes.subarray(200)];
  for (const c of sent) inner.push(c);
  await new Promise((r) => setImmediate(r));
  t.equal(got.length, sent.length);
  sent.forEach((c, i) => t.equal(got[i], c, `chunk ${i} is the same Buffer object`));
  stage.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
  await new Promise((r) => setImmediate(r));
  t.same(written.map((b) => [...b]), [[0x20, 0x02, 0x00, 0x00]], 'writes go to the inner stream as they are');
  stage.destroy();
  t.ok(inner.destroyed, 'destroying the stage destroys the inner stream');
});

t.test('the stage destroys both streams on a header over the limit, before that chunk is passed on', async (t) => {
  const { inner } = fakeInner();
  const violations: HeaderViolation[] = [];
  const stage = new PacketLimitStream(inner, 16 * 1024, (v) => violations.push(v));
  const got: Buffer[] = [];
  stage.on('data', (c: Buffer) => got.push(c));
  const errored = new Promise<Error>((r) => stage.once('error', r));
  const ok = Buffer.concat([fixedHeader(0x10, 20), Buffer.alloc(20)]);
  inner.push(ok);
  inner.push(Buffer.concat([fixedHeader(0x30, 100 * 1024 * 1024), Buffer.alloc(100)]));
  inner.push(Buffer.alloc(1000)); // ignored: the stage is gone
  const err = await errored;
  t.type(err, PacketLimitError);
  t.match(err.message, /publish packet of 104857605 bytes over the limit of 16384/);
  t.equal(got.length, 1, 'only the chunk before the oversized header reached the reader');
  t.equal(got[0], ok);
  t.equal(violations.length, 1, 'reported once');
  t.ok(stage.destroyed && inner.destroyed);
});

t.test('the stage keeps backpressure: a reader that stops pauses the inner stream', async (t) => {
  const { inner } = fakeInner();
  const stage = new PacketLimitStream(inner, MQTT_MAX_PACKET_BYTES);
  inner.push(Buffer.concat([fixedHeader(0x30, 1_000_000)]));
  for (let i = 0; i < 20; i++) inner.push(Buffer.alloc(50_000));
  await new Promise((r) => setImmediate(r));
  t.ok(inner.isPaused(), 'nobody reads the stage: the inner stream is paused');
  t.ok(stage.readableLength <= 64 * 1024, `the stage holds ${stage.readableLength} bytes, not the whole packet`);
  let read = 0;
  stage.on('data', (c: Buffer) => { read += c.length; });
  for (let i = 0; i < 50 && read < 1_000_004; i++) await new Promise((r) => setImmediate(r));
  t.equal(read, 1_000_004, 'reading again resumes the inner stream');
  stage.destroy();
});

t.test('over a real TCP connection bytes pass through the stage unchanged both ways', async (t) => {
  const staged = new Promise<PacketLimitStream>((resolve) => {
    const server = createServer((sock) => resolve(new PacketLimitStream(sock, MQTT_MAX_PACKET_BYTES)));
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = connect(port, '127.0.0.1');
      t.teardown(() => { c.destroy(); server.close(); });
      client = c;
    });
  });
  let client: Socket | undefined;
  const stage = await staged;
  const lengths = Array.from({ length: 200 }, (_, i) => (i * 7919) % 20_000);
  const body = Buffer.concat(lengths.map((len, i) => Buffer.concat([fixedHeader(((i % 14) + 1) << 4, len), randomBytes(len)])));
  // write in odd-sized pieces so that headers land across TCP reads
  for (let at = 0, i = 0; at < body.length; i++) {
    const n = [1, 2, 3, 5, 777, 4096, 65_537][i % 7]!;
    client!.write(body.subarray(at, at + n));
    at += n;
  }
  const got: Buffer[] = [];
  let total = 0;
  stage.on('readable', () => { for (let c; (c = stage.read() as Buffer | null);) { got.push(c); total += c.length; } });
  for (let i = 0; i < 500 && total < body.length; i++) await new Promise((r) => setTimeout(r, 5));
  t.ok(Buffer.concat(got).equals(body), `${body.length} bytes in ${lengths.length} packets arrive byte-exact`);
  t.equal(stage.scanner.packets, lengths.length);
  const back = randomBytes(300_000);
  const echoed: Buffer[] = [];
  let echoedBytes = 0;
  client!.on('data', (c: Buffer) => { echoed.push(c); echoedBytes += c.length; });
  stage.cork();
  stage.write(back.subarray(0, 10));
  stage.write(back.subarray(10));
  stage.uncork();
  for (let i = 0; i < 500 && echoedBytes < back.length; i++) await new Promise((r) => setTimeout(r, 5));
  t.ok(Buffer.concat(echoed).equals(back), 'what is written to the stage reaches the peer byte-exact');
  stage.destroy();
});

t.test('pending places are counted per address and each is released once', async (t) => {
  const p = new PendingConnections(2);
  const a1 = p.acquire('10.0.0.1');
  const a2 = p.acquire('10.0.0.1');
  t.ok(a1 && a2);
  t.equal(p.acquire('10.0.0.1'), undefined, 'a third from the same address is refused');
  t.ok(p.acquire('10.0.0.2'), 'another address has its own places');
  a1!();
  a1!();
  t.equal(p.count('10.0.0.1'), 1, 'releasing twice frees one place');
  t.ok(p.acquire('10.0.0.1'));
  t.equal(normalizeAddress('::ffff:10.0.0.1'), '10.0.0.1');
  t.equal(normalizeAddress('::1'), '::1');
  t.equal(normalizeAddress(undefined), 'unknown');
});

t.test('warn lines are limited per address and the next line says how many were dropped', async (t) => {
  let now = 0;
  const r = new PerKeyRateLimiter({ burst: 2, windowMs: 1000, maxKeys: 2, now: () => now });
  t.same(r.take('a'), { dropped: 0 });
  t.same(r.take('a'), { dropped: 0 });
  t.equal(r.take('a'), undefined);
  t.equal(r.take('a'), undefined);
  t.same(r.take('b'), { dropped: 0 }, 'another address is not affected');
  now = 1000;
  t.same(r.take('a'), { dropped: 2 }, 'a new window: the first line reports the 2 dropped');
  t.same(r.take('c'), { dropped: 0 }, 'the quiet, expired bucket of b made room for c');
  t.same(r.take('d'), { dropped: 0 }, 'beyond maxKeys, new addresses share one bucket');
  t.same(r.take('e'), { dropped: 0 });
  t.equal(r.take('f'), undefined, 'the shared bucket is limited too');
});

t.test('the broker defaults are the documented config defaults and bad limits are refused', async (t) => {
  const m = loadConfig({ env: {}, hostname: 'x' }).mqtt;
  t.same({
    maxPacketBytes: m.maxPacketBytes,
    maxConnectPacketBytes: m.maxConnectPacketBytes,
    connectTimeoutSeconds: m.connectTimeoutSeconds,
    maxPendingConnectionsPerAddress: m.maxPendingConnectionsPerAddress,
  }, DEFAULT_BROKER_LIMITS);
  t.same(resolveLimits({}), DEFAULT_BROKER_LIMITS);
  t.same(resolveLimits(m), DEFAULT_BROKER_LIMITS, 'the whole mqtt config section can be passed');
  t.throws(() => resolveLimits({ maxConnectPacketBytes: 1024, maxPacketBytes: 512 }), /maxConnectPacketBytes/);
  t.throws(() => resolveLimits({ maxPacketBytes: MQTT_MAX_PACKET_BYTES + 1 }), /maxPacketBytes/);
  t.throws(() => resolveLimits({ connectTimeoutSeconds: 0 }), /connectTimeoutSeconds/);
  t.throws(() => resolveLimits({ maxPendingConnectionsPerAddress: 0 }), /maxPendingConnectionsPerAddress/);
  t.throws(() => loadConfig({ env: {}, flags: { mqtt: { maxPacketBytes: 4096, maxConnectPacketBytes: 8192 } } }), /maxConnectPacketBytes/);
});
