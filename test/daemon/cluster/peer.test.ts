import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { PeerTransport, PeerRequestError, peerRequest, type PeerOptions } from '../../../daemon/src/cluster/peer.js';
import {
  FrameDecoder, FrameError, FrameType, encodeFrame, handshakeProof, newNonce, parseJson,
} from '../../../daemon/src/cluster/peer-protocol.js';
import { createSystemClock } from '../../../daemon/src/lib/clock.js';
import { createLogger, type Logger } from '../../../daemon/src/lib/logger.js';
import { createSeededRandom } from '../../../daemon/src/lib/random.js';

const TOKEN = 'peer-test-token-0123456789';
const CLUSTER = 'c1';
const LO = '127.0.0.1';

interface LogLine { level: string; msg: string; [k: string]: unknown }

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => { lines.push(JSON.parse(s) as LogLine); } } });
  return { logger, lines };
}

async function transport(t: Test, self: string, extra: Partial<PeerOptions> = {}): Promise<PeerTransport & { lines: LogLine[] }> {
  const { logger, lines } = capture();
  const p = await PeerTransport.listen({
    self, cluster: CLUSTER, token: TOKEN, host: LO, port: 0, logger, clock: createSystemClock(), random: createSeededRandom(7), ...extra,
  });
  t.teardown(() => p.close());
  return Object.assign(p, { lines });
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rejectsWith(t: Test, p: Promise<unknown>, codes: string[], what?: string): Promise<void> {
  try {
    await p;
    t.fail(`${what ?? 'request'}: expected a rejection`);
  } catch (e) {
    t.ok(e instanceof PeerRequestError && codes.includes(e.code), `${what ?? 'request'}: rejected with ${(e as PeerRequestError).code} (${(e as Error).message})`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A socket and a frame reader, for speaking the wire protocol by hand. */
function raw(port: number): { sock: Socket; frames: Array<{ type: number; body: unknown }>; closed: Promise<number>; connected: Promise<void> } {
  const sock = connect({ host: LO, port, noDelay: true });
  const frames: Array<{ type: number; body: unknown }> = [];
  const dec = new FrameDecoder(1 << 20);
  sock.on('data', (c: Buffer) => dec.push(c, (type, payload) => { frames.push({ type, body: payload.length ? parseJson(payload) : undefined }); return true; }));
  sock.on('error', () => {});
  const t0 = performance.now();
  const closed = new Promise<number>((resolve) => sock.once('close', () => resolve(performance.now() - t0)));
  const connected = new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  return { sock, frames, closed, connected };
}

/** Does the client side of the handshake by hand; resolves with the socket ready for MSG/REQ frames. */
async function rawAuthenticated(port: number, self = 'rawclient'): Promise<ReturnType<typeof raw>> {
  const r = raw(port);
  await r.connected;
  const clientNonce = newNonce();
  r.sock.write(encodeFrame(FrameType.Hello, JSON.stringify({ v: 1, cluster: CLUSTER, node: self, nonce: clientNonce })));
  await waitFor(() => r.frames.length >= 1, 2000, 'challenge');
  const ch = r.frames[0]!.body as { node: string; nonce: string };
  const p = { token: TOKEN, cluster: CLUSTER, clientNode: self, serverNode: ch.node, clientNonce, serverNonce: ch.nonce };
  r.sock.write(encodeFrame(FrameType.Auth, JSON.stringify({ proof: handshakeProof('client', p).toString('base64') })));
  await waitFor(() => r.frames.length >= 2, 2000, 'welcome');
  if (r.frames[1]!.type !== FrameType.Welcome) throw new Error(`expected welcome, got ${r.frames[1]!.type}`);
  return r;
}

t.test('two transports exchange messages both ways, on loopback, with sub-millisecond latency', async (t) => {
  const a = await transport(t, 'a');
  const b = await transport(t, 'b');
  const atA: Array<[string, unknown]> = [];
  const atB: Array<[string, unknown]> = [];
  a.onMessage((from, m) => atA.push([from, m]));
  b.onMessage((from, m) => atB.push([from, m]));
  const t0 = performance.now();
  a.setPeer('b', { host: LO, port: b.port });
  b.setPeer('a', { host: LO, port: a.port });
  await waitFor(() => a.stats().b!.connected && b.stats().a!.connected, 2000, 'both links');
  t.comment(`connect + handshake, both directions: ${(performance.now() - t0).toFixed(1)} ms`);
  a.send('b', { n: 1, text: 'héllo' });
  b.send('a', [1, 2, 3]);
  a.send('b', null);
  await waitFor(() => atB.length === 2 && atA.length === 1, 1000, 'messages');
  t.same(atB, [['a', { n: 1, text: 'héllo' }], ['a', null]]);
  t.same(atA, [['b', [1, 2, 3]]]);

  // round trips a -> b -> a, one at a time
  const rtts: number[] = [];
  b.onMessage((from, m) => b.send(from, m));
  let echoed: (() => void) | undefined;
  a.onMessage(() => echoed?.());
  for (let i = 0; i < 500; i++) {
    const s = performance.now();
    await new Promise<void>((resolve) => { echoed = resolve; a.send('b', { ping: i }); });
    rtts.push(performance.now() - s);
  }
  const sorted = [...rtts].sort((x, y) => x - y);
  t.comment(`message round trip a -> b -> a on loopback: median ${median(rtts).toFixed(3)} ms, p99 ${sorted[494]!.toFixed(3)} ms (500 runs)`);
  t.ok(a.stats().b!.lastReceivedMs! > Date.now() - 5000, 'lastReceivedMs is a recent wall-clock time');
});

t.test('three transports exchange messages both ways, each attributed to its sender', async (t) => {
  const names = ['n1', 'n2', 'n3'];
  const ts = await Promise.all(names.map((n) => transport(t, n)));
  const got = new Map<string, string[]>(names.map((n) => [n, []]));
  ts.forEach((tr, i) => tr.onMessage((from, m) => got.get(names[i]!)!.push(`${from}:${(m as { to: string }).to}`)));
  for (const [i, tr] of ts.entries()) for (const [j, o] of ts.entries()) if (i !== j) tr.setPeer(names[j]!, { host: LO, port: o.port });
  for (const [i, tr] of ts.entries()) for (let k = 0; k < 3; k++) for (const [j] of ts.entries()) if (i !== j) tr.send(names[j]!, { to: names[j]!, k });
  await waitFor(() => [...got.values()].every((v) => v.length === 6), 3000, 'all messages');
  for (const n of names) {
    const others = names.filter((x) => x !== n);
    t.same([...got.get(n)!].sort(), others.flatMap((o) => [`${o}:${n}`, `${o}:${n}`, `${o}:${n}`]).sort(), `${n} got 3 from each other node`);
  }
});

t.test('a wrong token is refused: no message is delivered and the refusal is logged once', async (t) => {
  const a = await transport(t, 'a');
  const bad = await transport(t, 'intruder', { token: 'not-the-cluster-token-!!' });
  const got: unknown[] = [];
  a.onMessage((_f, m) => got.push(m));
  a.onRequest(async () => 'answered');
  bad.setPeer('a', { host: LO, port: a.port });
  for (let i = 0; i < 20; i++) { bad.send('a', { i }); await sleep(100); } // 2 s: several reconnect attempts
  t.same(got, [], 'nothing delivered');
  t.equal(bad.stats().a!.connected, false);
  await t.rejects(bad.request('a', {}, 300), { code: 'ECONNECT', message: /refused/ });
  await t.rejects(bad.request({ host: LO, port: a.port }, {}, 1000), { code: 'EREFUSED' });
  const refusals = a.lines.filter((l) => l.msg.startsWith('refused peer'));
  t.equal(refusals.length, 1, 'one log line for many attempts from one address');
  t.match(refusals[0]!.reason, /wrong token from node 'intruder'/);
  t.notMatch(JSON.stringify(a.lines) + JSON.stringify(bad.lines), /not-the-cluster-token|peer-test-token/, 'no token in any log line');
  const mine = bad.lines.filter((l) => l.msg.startsWith('handshake with peer failed'));
  t.equal(mine.length, 1, 'the refused side logs once too');
  t.match(mine[0]!.reason, /refused: auth/);
});

t.test('a wrong cluster is refused: no message is delivered and the refusal is logged once', async (t) => {
  const a = await transport(t, 'a');
  const other = await transport(t, 'b', { cluster: 'c2' });
  const got: unknown[] = [];
  a.onMessage((_f, m) => got.push(m));
  other.setPeer('a', { host: LO, port: a.port });
  a.setPeer('b', { host: LO, port: other.port });
  for (let i = 0; i < 15; i++) { other.send('a', { i }); a.send('b', { i }); await sleep(100); }
  t.same(got, []);
  t.equal(a.stats().b!.connected, false, 'nor does a connect to the other cluster');
  const refusals = a.lines.filter((l) => l.msg.startsWith('refused peer'));
  t.equal(refusals.length, 1);
  t.match(refusals[0]!.reason, /wrong cluster 'c2'/);
});

t.test('long user-controlled names are cut in log lines', async (t) => {
  const a = await transport(t, 'a');
  const r = raw(a.port);
  await r.connected;
  r.sock.write(encodeFrame(FrameType.Hello, JSON.stringify({ v: 1, cluster: `x${'y'.repeat(200)}\n`, node: `n${'z'.repeat(250)}`, nonce: newNonce() })));
  await r.closed;
  await waitFor(() => a.lines.some((l) => l.msg.startsWith('refused peer')), 1000, 'log line');
  const line = a.lines.find((l) => l.msg.startsWith('refused peer'))!;
  t.ok((line.reason as string).length < 200, `reason cut to ${(line.reason as string).length} characters`);
  t.notMatch(line.reason as string, /\n/);
});

t.test('a frame header announcing more than the limit closes the connection before the body arrives', async (t) => {
  const a = await transport(t, 'a', { maxMessageBytes: 8 * 1024 * 1024 });
  const body = Buffer.alloc(4 * 1024 * 1024, 0x61);
  const header = (n: number, type: number): Buffer => { const h = Buffer.alloc(5); h.writeUInt32BE(n, 0); h[4] = type; return h; };

  await t.test('before authentication (limit 4 KiB): a 1 GiB HELLO header alone gets the connection closed', async (t) => {
    const r = raw(a.port);
    await r.connected;
    const t0 = performance.now();
    r.sock.write(header(1 << 30, FrameType.Hello));
    await r.closed;
    const ms = performance.now() - t0;
    t.ok(ms < 500, `closed ${ms.toFixed(1)} ms after the header, no body sent`);
  });

  await t.test('after authentication: within the limit the body is awaited (buffered), above it the connection closes at once', async (t) => {
    // control: 8 MiB - 1 announced, 4 MiB sent -> the server holds the 4 MiB and waits for the rest
    const ok = await rawAuthenticated(a.port);
    const before = process.memoryUsage().arrayBuffers;
    ok.sock.write(header(8 * 1024 * 1024 - 1, FrameType.Msg));
    ok.sock.write(body);
    await waitFor(() => process.memoryUsage().arrayBuffers - before > 3.5 * 1024 * 1024 && ok.sock.writableLength === 0, 3000, 'control buffered');
    await sleep(100);
    const held = process.memoryUsage().arrayBuffers - before;
    t.equal(ok.sock.destroyed, false, 'a frame within the limit keeps the connection open');
    t.ok(held > 3.5 * 1024 * 1024, `control: ${(held / 1048576).toFixed(1)} MiB held while waiting for the body (the measure sees buffering)`);
    ok.sock.destroy();
    await ok.closed;

    const big = await rawAuthenticated(a.port);
    const base = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    big.sock.write(header(8 * 1024 * 1024 + 1, FrameType.Msg));
    const ms = await big.closed;
    const closedAfter = performance.now() - t0;
    let writeFailed = false;
    big.sock.write(body, () => { writeFailed = true; });
    await sleep(100);
    const grew = process.memoryUsage().arrayBuffers - base;
    t.ok(closedAfter < 500, `closed ${closedAfter.toFixed(1)} ms after a header announcing limit + 1 (connection age ${ms.toFixed(0)} ms)`);
    t.ok(grew < 1024 * 1024, `arrayBuffers grew by ${(grew / 1024).toFixed(0)} KiB (< 1 MiB): the body was never buffered`);
    t.ok(writeFailed || big.sock.destroyed, 'the body could not even be sent');
  });

  await t.test('the decoder refuses the header at once, holding only the bytes it was given', async (t) => {
    const d = new FrameDecoder(1000);
    const frame = Buffer.concat([header(1001, FrameType.Msg), Buffer.alloc(10)]);
    t.throws(() => d.push(frame, () => true), FrameError);
    t.ok(d.buffered <= frame.length);
    const d2 = new FrameDecoder(1000);
    let reason = '';
    try { d2.push(Buffer.alloc(4), () => true); } catch (e) { reason = (e as FrameError).reason; }
    t.equal(reason, 'empty', 'a zero length is refused too');
  });
});

t.test('send to an unknown or down peer never throws or blocks, and the queue stays bounded (dropped count)', async (t) => {
  const a = await transport(t, 'a', { maxQueueBytes: 64 * 1024 });
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, LO, () => r()));
  const deadPort = (dead.address() as { port: number }).port;
  await new Promise<void>((r) => dead.close(() => r())); // nothing listens there now
  a.setPeer('down', { host: LO, port: deadPort });
  const msg = { pad: 'x'.repeat(1000) };
  const t0 = performance.now();
  for (let i = 0; i < 1000; i++) a.send('down', msg); // while the first connect is under way: queued up to the cap
  for (let i = 0; i < 100; i++) a.send('nobody', msg);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  a.send('down', cyclic);
  a.send('down', 10n);
  a.send('down', undefined);
  const ms = performance.now() - t0;
  const s = a.stats().down!;
  t.ok(ms < 200, `1,203 sends took ${ms.toFixed(1)} ms`);
  t.ok(s.queuedBytes > 0 && s.queuedBytes <= 64 * 1024, `queued ${s.queuedBytes} bytes <= maxQueueBytes while connecting`);
  t.ok(s.dropped >= 930, `dropped ${s.dropped} beyond the cap`);
  t.equal(s.connected, false);
  t.same(Object.keys(a.stats()), ['down'], 'unknown names get no entry');
  t.equal(a.lines.filter((l) => l.msg.startsWith('peer queue full')).length, 1, 'the full queue is logged once');
  await t.rejects(a.request('down', { pad: 'y'.repeat(2000) }, 100), { code: 'EQUEUEFULL' });
  await t.rejects(a.request('nobody', {}, 100), { code: 'EUNKNOWNPEER' });
  // the connect was refused: what was queued is dropped, and so is what is sent until the next attempt
  await waitFor(() => a.stats().down!.queuedBytes === 0, 1000, 'queue dropped');
  t.equal(a.stats().down!.dropped, 1003, 'every message counted as dropped');
  a.send('down', msg);
  t.equal(a.stats().down!.queuedBytes, 0, 'nothing is kept for an unreachable peer');
  const r0 = performance.now();
  await t.rejects(a.request('down', {}, 5000), { code: 'ECONNECT' });
  t.ok(performance.now() - r0 < 500, 'a request to an unreachable peer fails at once, not at its timeout');
});

t.test('reconnects with exponential backoff, not in a busy loop', async (t) => {
  let accepted = 0;
  const srv: Server = createServer((s) => { accepted++; s.destroy(); });
  await new Promise<void>((r) => srv.listen(0, LO, () => r()));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const a = await transport(t, 'a');
  a.setPeer('flaky', { host: LO, port: (srv.address() as { port: number }).port });
  await sleep(2000);
  // delays 100, 200, 400, 800 (+-20 %): 4 or 5 connections in 2 s
  t.ok(accepted >= 3 && accepted <= 6, `${accepted} connection attempts in 2 s`);
});

t.test('a restarted peer (new port, setPeer) gets messages again within a second', async (t) => {
  const a = await transport(t, 'a');
  const b1 = await PeerTransport.listen({ self: 'b', cluster: CLUSTER, token: TOKEN, host: LO, port: 0, logger: capture().logger, clock: createSystemClock(), random: createSeededRandom(2) });
  a.setPeer('b', { host: LO, port: b1.port });
  const got1: unknown[] = [];
  b1.onMessage((_f, m) => got1.push(m));
  a.send('b', 'first');
  await waitFor(() => got1.length === 1, 2000, 'first message');
  await b1.close();
  const b2 = await transport(t, 'b');
  const got2: unknown[] = [];
  b2.onMessage((_f, m) => got2.push(m));
  const t0 = performance.now();
  a.setPeer('b', { host: LO, port: b2.port });
  a.send('b', 'second');
  const ms = await waitFor(() => got2.length >= 1, 1000, 'message to the restarted peer');
  t.same(got2, ['second']);
  t.comment(`restarted peer reached ${ms.toFixed(1)} ms after setPeer`);
  t.ok(performance.now() - t0 < 1000);
});

t.test('requests get answers, time out, and carry error replies; requests by address come from the joiner', async (t) => {
  const a = await transport(t, 'a');
  const b = await transport(t, 'b');
  a.setPeer('b', { host: LO, port: b.port });
  await t.rejects(a.request('b', { q: 1 }, 2000), { code: 'EREMOTE', message: 'no request handler' });
  b.onRequest(async (from, req) => {
    const r = req as { op: string };
    if (r.op === 'echo') return { from, req };
    if (r.op === 'throw') throw new Error('handler failed on purpose');
    if (r.op === 'sync-throw') { (null as unknown as { x: number }).x = 1; }
    if (r.op === 'bigint') return 10n;
    return new Promise(() => {}); // never answers
  });
  t.same(await a.request('b', { op: 'echo' }, 2000), { from: { node: 'a', address: LO }, req: { op: 'echo' } });
  await t.rejects(a.request('b', { op: 'throw' }, 2000), { code: 'EREMOTE', message: 'handler failed on purpose' });
  await t.rejects(a.request('b', { op: 'sync-throw' }, 2000), { code: 'EREMOTE' });
  await t.rejects(a.request('b', { op: 'bigint' }, 2000), { code: 'EREMOTE', message: /not serializable/ });
  const t0 = performance.now();
  await t.rejects(a.request('b', { op: 'hang' }, 300), { code: 'ETIMEDOUT' });
  const waited = performance.now() - t0;
  t.ok(waited >= 290 && waited < 600, `timed out after ${waited.toFixed(0)} ms (timeout 300)`);
  await t.rejects(a.request('b', 10n, 300), { code: 'EINVAL' });

  const rtts: number[] = [];
  for (let i = 0; i < 100; i++) { const s = performance.now(); await a.request('b', { op: 'echo' }, 2000); rtts.push(performance.now() - s); }
  t.comment(`request/response on loopback: median ${median(rtts).toFixed(3)} ms (100 runs)`);

  // a joiner, not in b's address book, asks by address
  const joiner = await transport(t, 'joiner');
  const hs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = performance.now();
    t.same(await joiner.request({ host: LO, port: b.port }, { op: 'echo' }, 2000), { from: { node: 'joiner', address: LO }, req: { op: 'echo' } });
    hs.push(performance.now() - s);
  }
  t.comment(`request by address (connect + handshake + request + reply): median ${median(hs).toFixed(2)} ms (20 runs)`);
  await t.rejects(joiner.request({ host: LO, port: b.port }, { op: 'hang' }, 200), { code: 'ETIMEDOUT' });
  await t.rejects(joiner.request({ host: '', port: 0 }, {}, 200), { code: 'EINVAL' });
  await a.close();
  await t.rejects(a.request('b', {}, 100), { code: 'ECLOSED' });
});

t.test('a request in flight when its connection dies fails at once instead of waiting for its timeout', async (t) => {
  const a = await transport(t, 'a');
  const b = await transport(t, 'b');
  b.onRequest(() => new Promise(() => {}));
  a.setPeer('b', { host: LO, port: b.port });
  await waitFor(() => a.stats().b!.connected, 2000, 'link');
  const p = a.request('b', {}, 10_000);
  await sleep(50);
  const t0 = performance.now();
  await b.close();
  await t.rejects(p, { code: 'ECONNCLOSED' });
  t.ok(performance.now() - t0 < 500);
});

t.test('garbage bytes, malformed JSON and wrong shapes are refused without crashing', async (t) => {
  const a = await transport(t, 'a');
  const got: unknown[] = [];
  a.onMessage((f, m) => got.push([f, m]));
  const cases: Array<[string, Buffer[]]> = [
    ['random bytes', [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]],
    ['an empty frame', [Buffer.from([0, 0, 0, 0])]],
    ['malformed JSON', [encodeFrame(FrameType.Hello, '{"v":1,')]],
    ['a JSON array', [encodeFrame(FrameType.Hello, '[1,2]')]],
    ['a hello without a nonce', [encodeFrame(FrameType.Hello, JSON.stringify({ v: 1, cluster: CLUSTER, node: 'x' }))]],
    ['a node name with spaces', [encodeFrame(FrameType.Hello, JSON.stringify({ v: 1, cluster: CLUSTER, node: 'a b', nonce: newNonce() }))]],
    ['a message before the handshake', [encodeFrame(FrameType.Msg, '{"x":1}')]],
    ['protocol version 2', [encodeFrame(FrameType.Hello, JSON.stringify({ v: 2, cluster: CLUSTER, node: 'x', nonce: newNonce() }))]],
    ['an auth with a junk proof', [
      encodeFrame(FrameType.Hello, JSON.stringify({ v: 1, cluster: CLUSTER, node: 'x', nonce: newNonce() })),
      encodeFrame(FrameType.Auth, JSON.stringify({ proof: 'AAAA' })),
    ]],
  ];
  for (const [what, frames] of cases) {
    const r = raw(a.port);
    await r.connected;
    for (const f of frames) r.sock.write(f);
    const ms = await Promise.race([r.closed, sleep(3000).then(() => -1)]);
    t.ok(ms >= 0, `${what}: connection closed`);
    if (what === 'protocol version 2') t.same(r.frames.at(-1), { type: FrameType.Refuse, body: { reason: 'version' } });
  }
  const after: Array<[string, Buffer]> = [
    ['malformed JSON message', encodeFrame(FrameType.Msg, '{oops')],
    ['a request without an id', encodeFrame(FrameType.Req, JSON.stringify({ req: 1 }))],
    ['a request with id -1', encodeFrame(FrameType.Req, JSON.stringify({ id: -1, req: 1 }))],
    ['a response sent to the server', encodeFrame(FrameType.Res, JSON.stringify({ id: 1, ok: true }))],
    ['an unknown frame type', encodeFrame(0x7f, '{}')],
    ['a second hello', encodeFrame(FrameType.Hello, '{}')],
  ];
  for (const [what, frame] of after) {
    const r = await rawAuthenticated(a.port);
    r.sock.write(encodeFrame(FrameType.Msg, JSON.stringify({ fine: what })));
    r.sock.write(frame);
    const ms = await Promise.race([r.closed, sleep(3000).then(() => -1)]);
    t.ok(ms >= 0, `after the handshake, ${what}: connection closed`);
  }
  t.equal(got.length, after.length, 'only the well-formed messages were delivered');
  // still serving
  const b = await transport(t, 'b');
  b.setPeer('a', { host: LO, port: a.port });
  b.send('a', 'still alive');
  await waitFor(() => got.some((g) => (g as unknown[])[1] === 'still alive'), 2000, 'a normal message');
});

t.test('a server that answers garbage, a wrong proof or another name is never trusted', async (t) => {
  const fakes: Array<[string, (s: Socket, hello: { node: string; nonce: string }) => void]> = [
    ['garbage', (s) => s.write('\u0000\u0000\u0000\u0005\u0002oops')],
    ['a wrong proof', (s, h) => {
      s.write(encodeFrame(FrameType.Challenge, JSON.stringify({ v: 1, cluster: CLUSTER, node: 'b', nonce: newNonce() })));
      s.once('data', () => s.write(encodeFrame(FrameType.Welcome, JSON.stringify({ proof: handshakeProof('server', { token: 'wrong-token-wrong-token', cluster: CLUSTER, clientNode: h.node, serverNode: 'b', clientNonce: h.nonce, serverNonce: h.nonce }).toString('base64') }))));
    }],
    ['another name', (s) => s.write(encodeFrame(FrameType.Challenge, JSON.stringify({ v: 1, cluster: CLUSTER, node: 'mallory', nonce: newNonce() })))],
    ['silence', () => {}],
  ];
  for (const [what, behave] of fakes) {
    const srv = createServer((s) => {
      s.on('error', () => {});
      const d = new FrameDecoder(4096);
      s.once('data', (c: Buffer) => d.push(c, (_type, payload) => { behave(s, parseJson(payload) as { node: string; nonce: string }); return false; }));
    });
    await new Promise<void>((r) => srv.listen(0, LO, () => r()));
    const a = await transport(t, 'a', { handshakeTimeoutMs: 300 });
    const port = (srv.address() as { port: number }).port;
    a.setPeer('b', { host: LO, port });
    a.onRequest(async () => 'x');
    await sleep(700);
    t.equal(a.stats().b!.connected, false, `${what}: not connected`);
    await rejectsWith(t, a.request({ host: LO, port }, {}, 1000), ['EREFUSED', 'EPROTO', 'ECONNCLOSED'], what);
    await a.close();
    srv.close();
  }
});

t.test('a link that goes silent is closed after idleTimeoutMs and redialled', async (t) => {
  // a server that completes the handshake, then never sends anything (no heartbeats)
  let conns = 0;
  const srv = createServer((s) => {
    conns++;
    s.on('error', () => {});
    const d = new FrameDecoder(4096);
    let hello: { node: string; nonce: string } | undefined;
    const serverNonce = newNonce();
    s.on('data', (c: Buffer) => d.push(c, (type, payload) => {
      if (type === FrameType.Ping) return true;
      const body = parseJson(payload) as { node: string; nonce: string };
      if (type === FrameType.Hello) {
        hello = body;
        s.write(encodeFrame(FrameType.Challenge, JSON.stringify({ v: 1, cluster: CLUSTER, node: 'mute', nonce: serverNonce })));
      } else if (type === FrameType.Auth && hello) {
        const p = { token: TOKEN, cluster: CLUSTER, clientNode: hello.node, serverNode: 'mute', clientNonce: hello.nonce, serverNonce };
        s.write(encodeFrame(FrameType.Welcome, JSON.stringify({ proof: handshakeProof('server', p).toString('base64') })));
        d.maxBody = 1 << 20;
      }
      return true;
    }));
  });
  await new Promise<void>((r) => srv.listen(0, LO, () => r()));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const a = await transport(t, 'a', { idleTimeoutMs: 600 });
  a.setPeer('mute', { host: LO, port: (srv.address() as { port: number }).port });
  await waitFor(() => a.stats().mute!.connected, 2000, 'link up');
  const up = performance.now();
  const ms = await waitFor(() => !a.stats().mute!.connected, 2000, 'idle close');
  t.ok(ms >= 550 && ms < 600 + 250, `closed ${ms.toFixed(0)} ms after it went silent (idleTimeoutMs 600)`);
  await waitFor(() => conns >= 2, 2000, 'redial');
  t.ok(performance.now() - up < 2000, 'and redialled');
  t.ok(a.lines.some((l) => l.msg === 'peer link down' && /idle/.test(String(l.reason))));
});

t.test('a connect to a black hole gives up after connectTimeoutMs', async (t) => {
  // A listener with backlog 1 whose event loop is blocked: two connections fill its accept
  // queue, after that the kernel drops SYNs, so connect() hangs as it does towards a cut node.
  const code = `const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n',()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,20000))})`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  await sleep(100);
  const fillers = [connect(port, LO), connect(port, LO)];
  fillers.forEach((f) => f.on('error', () => {}));
  t.teardown(() => fillers.forEach((f) => f.destroy()));
  await sleep(100);
  const a = await transport(t, 'a', { connectTimeoutMs: 400 });
  const t0 = performance.now();
  await t.rejects(a.request({ host: LO, port }, {}, 5000), { code: 'ECONNECT', message: /connect timeout after 400 ms/ });
  const ms = performance.now() - t0;
  t.ok(ms >= 390 && ms < 700, `gave up after ${ms.toFixed(0)} ms (connectTimeoutMs 400)`);
});

t.test('peerRequest from a non-listening client works, and is refused with a wrong token', async (t) => {
  const b = await transport(t, 'b');
  b.onRequest(async (from, req) => ({ status: 'ok', from: from.node, req }));
  const auth = { cluster: CLUSTER, token: TOKEN, self: 'cli' };
  const t0 = performance.now();
  t.same(await peerRequest({ host: LO, port: b.port }, auth, { what: 'status' }, 2000), { status: 'ok', from: 'cli', req: { what: 'status' } });
  t.comment(`peerRequest (connect + handshake + request): ${(performance.now() - t0).toFixed(1)} ms`);
  await t.rejects(peerRequest({ host: LO, port: b.port }, { ...auth, token: 'a-wrong-token-of-length' }, {}, 2000), { code: 'EREFUSED', message: /auth/ });
  await t.rejects(peerRequest({ host: LO, port: b.port }, { ...auth, cluster: 'other' }, {}, 2000), { code: 'EREFUSED', message: /cluster/ });
  await t.rejects(peerRequest({ host: LO, port: b.port }, { ...auth, token: 'short' }, {}, 2000), { code: 'EINVAL' });
  const { logger, lines } = capture();
  await t.rejects(peerRequest({ host: LO, port: 1 }, auth, {}, 2000, logger), { code: 'ECONNECT' });
  t.same(lines.filter((l) => l.level === 'error'), []);
});

t.test('listen refuses a short token and invalid names; setPeer refuses invalid input', async (t) => {
  const base = { cluster: CLUSTER, token: TOKEN, host: LO, port: 0, logger: capture().logger, clock: createSystemClock(), random: createSeededRandom(1) };
  await t.rejects(PeerTransport.listen({ ...base, self: 'a', token: 'short' }), TypeError);
  await t.rejects(PeerTransport.listen({ ...base, self: 'bad name' }), TypeError);
  await t.rejects(PeerTransport.listen({ ...base, self: 'a', cluster: 'UPPER' }), TypeError);
  const a = await transport(t, 'a');
  t.throws(() => a.setPeer('b c', { host: LO, port: 1 }), TypeError);
  t.throws(() => a.setPeer('b', { host: LO, port: 70000 }), TypeError);
  a.removePeer('never-added');
  t.same(a.stats(), {});
});

t.test('removePeer forgets the peer and fails its pending requests', async (t) => {
  const a = await transport(t, 'a');
  const b = await transport(t, 'b');
  b.onRequest(() => new Promise(() => {}));
  a.setPeer('b', { host: LO, port: b.port });
  const p = a.request('b', {}, 5000);
  await sleep(50);
  a.removePeer('b');
  await rejectsWith(t, p, ['EUNKNOWNPEER', 'ECONNCLOSED']);
  t.same(a.stats(), {});
  a.send('b', 'dropped silently');
});
