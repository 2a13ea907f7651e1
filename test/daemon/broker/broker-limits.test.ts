import t, { type Test } from 'tap';
import { createServer } from 'node:net';
import { execFile } from 'node:child_process';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { EmbeddedBroker, WS_FRAMING_ALLOWANCE } from '../../../daemon/src/broker/broker.js';
import { createTokenAuthenticator } from '../../../daemon/src/broker/auth.js';
import type { BrokerLimits } from '../../../daemon/src/broker/limits.js';
import { createLogger } from '../../../daemon/src/lib/logger.js';
import { connectPacket, fixedHeader, openRaw, publishHead, writeUntilClosed, type RawConnection } from './fixtures/raw.js';

const TOKEN = 'broker-limits-token-0123456789';
const MB = 1024 * 1024;

interface LogLine { level: string; msg: string; address?: string; [k: string]: unknown }

async function broker(t: Test, limits: Partial<BrokerLimits> = {}, wsPort = 0): Promise<{ b: EmbeddedBroker; logs: LogLine[]; raw: string[] }> {
  const logs: LogLine[] = [];
  const raw: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write(s: string) { raw.push(s); logs.push(JSON.parse(s) as LogLine); } } });
  const b = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsPort, auth: createTokenAuthenticator(TOKEN), logger, limits });
  t.teardown(() => b.close());
  return { b, logs, raw };
}

const warns = (logs: LogLine[]): LogLine[] => logs.filter((l) => l.level === 'warn');

async function raw(t: Test, port: number, localAddress?: string): Promise<RawConnection> {
  const c = await openRaw(port, localAddress);
  t.teardown(() => { c.socket.destroy(); });
  return c;
}

async function freePort(): Promise<number> {
  return new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => r(p)); }); });
}

/** Can this machine connect from 127.0.0.x (x != 1)? Linux can (all of 127/8 is on lo). */
async function loopbackAliases(): Promise<boolean> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const c = await openRaw((server.address() as { port: number }).port, '127.0.0.2');
    c.socket.destroy();
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}
const ALIASES = await loopbackAliases();

t.test('a wrong or missing token is refused with return code 5 (not authorized)', async (t) => {
  const { b, logs } = await broker(t);
  for (const fields of [{ username: 'u', password: 'wrong-token-xxxxxxxxxx' }, { username: 'u' }, {}]) {
    const c = await raw(t, b.port);
    c.socket.write(connectPacket({ clientId: 'c1', ...fields }));
    t.equal(await c.connack(), 5, `CONNACK 5 for ${JSON.stringify(fields)}`);
    await c.closed;
  }
  const err = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { username: 'u', password: 'nope-nope-nope-nope', reconnectPeriod: 0, connectTimeout: 3000 }).then(() => undefined, (e: Error & { code?: number }) => e);
  t.equal(err?.code, 5, 'mqtt.js sees code 5');
  t.match(err?.message, /Not authorized/);
  t.match(warns(logs).map((l) => l.msg), ['MQTT client refused: wrong token', 'MQTT client refused: no token', 'MQTT client refused: no token', 'MQTT client refused: wrong token']);
  t.match(warns(logs)[0], { address: '127.0.0.1', transport: 'tcp', client: 'c1', user: 'u', returnCode: 5 });
});

t.test('a password without the user-name flag is refused with return code 4 (MQTT 3.1.1 §3.1.2.9)', async (t) => {
  const { b, logs } = await broker(t);
  const c = await raw(t, b.port);
  c.socket.write(connectPacket({ clientId: 'c2', password: TOKEN }));
  t.equal(await c.connack(), 4, 'even with the right token');
  await c.closed;
  t.match(warns(logs), [{ msg: /password without the user-name flag/, returnCode: 4 }]);
  const ok = await raw(t, b.port);
  ok.socket.write(connectPacket({ clientId: 'c3', username: '', password: TOKEN }));
  t.equal(await ok.connack(), 0, 'an empty user name with the flag set and the token logs in');
});

t.test('a CONNECT announcing 128 MB is closed at its fixed header and logged once', async (t) => {
  const { b, logs } = await broker(t);
  const c = await raw(t, b.port);
  const sent = Date.now();
  c.socket.write(fixedHeader(0x10, 128 * MB));
  const written = await writeUntilClosed(c.socket, Buffer.alloc(64 * 1024), 128 * MB);
  const closedAfter = (await c.closed) - sent;
  t.ok(closedAfter < 1000, `closed ${closedAfter} ms after the fixed header`);
  t.ok(written < 128 * MB, `the client got ${(written / MB).toFixed(1)} MB out before the close (mostly into kernel buffers)`);
  t.equal(c.received().length, 0, 'no CONNACK');
  for (let i = 0; i < 20 && warns(logs).length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  t.match(warns(logs), [{ msg: 'MQTT connection closed: connect packet over the size limit', address: '127.0.0.1', packet: 'connect', packetBytes: 1 + 4 + 128 * MB, limit: 16 * 1024, loggedIn: false }], 'exactly one line');
  t.comment(`128 MB CONNECT: closed ${closedAfter} ms after its fixed header`);
});

t.test('a CONNECT of exactly maxConnectPacketBytes logs in and one byte more is closed', async (t) => {
  const limit = 4096;
  const { b } = await broker(t, { maxConnectPacketBytes: limit });
  const sized = (total: number): Buffer => {
    const base = connectPacket({ clientId: '', username: 'u', password: TOKEN }).length;
    // the Remaining Length takes 2 bytes at these sizes, as in `base` (which is < 128: 1 byte)
    return connectPacket({ clientId: 'x'.repeat(total - base - 1), username: 'u', password: TOKEN });
  };
  t.equal(sized(limit).length, limit);
  const ok = await raw(t, b.port);
  ok.socket.write(sized(limit));
  t.equal(await ok.connack(), 0, `${limit} bytes: logged in`);
  const over = await raw(t, b.port);
  over.socket.write(sized(limit + 1));
  t.equal(await over.connack(), undefined, `${limit + 1} bytes: closed without CONNACK`);
});

t.test('packets are held to the small limit before login and to maxPacketBytes after it', async (t) => {
  const { b, logs } = await broker(t, { maxPacketBytes: MB, maxConnectPacketBytes: 16 * 1024 });
  const early = await raw(t, b.port);
  early.socket.write(publishHead('a/b', 64 * 1024));
  t.equal(await early.connack(), undefined, 'a 64 KiB PUBLISH before any CONNECT is closed');

  const url = `mqtt://127.0.0.1:${b.port}`;
  const sub = await mqtt.connectAsync(url, { username: 's', password: TOKEN, reconnectPeriod: 0, clientId: 'sub' });
  t.teardown(() => sub.endAsync(true));
  await sub.subscribeAsync('big/#');
  const got: number[] = [];
  sub.on('message', (_t, p) => got.push(p.length));
  const pub = await mqtt.connectAsync(url, { username: 'p', password: TOKEN, reconnectPeriod: 0, clientId: 'publisher-1' });
  t.teardown(() => pub.endAsync(true));
  await pub.publishAsync('big/ok', Buffer.alloc(MB - 100));
  for (let i = 0; i < 100 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(got, [MB - 100], 'after login a packet just under 1 MiB passes (far over the 16 KiB pre-login limit)');

  const closed = new Promise<void>((r) => pub.once('close', () => r()));
  pub.publish('big/no', Buffer.alloc(2 * MB));
  await closed;
  t.pass('a 2 MiB publish closes the connection');
  await new Promise((r) => setTimeout(r, 50));
  t.same(got, [MB - 100], 'and is not delivered');
  t.match(warns(logs).at(-1), { msg: 'MQTT connection closed: publish packet over the size limit', client: 'publisher-1', user: 'p', packetBytes: 1 + 4 + 2 + 'big/no'.length + 2 * MB, limit: MB });
  t.notOk('loggedIn' in warns(logs).at(-1)!, 'a logged-in client');
});

t.test('connections not logged in are capped per address; other addresses and logged-in clients are unaffected', { skip: !ALIASES && 'cannot connect from 127.0.0.2 here' }, async (t) => {
  const { b, logs } = await broker(t, { maxPendingConnectionsPerAddress: 4 });
  await new Promise((r) => setTimeout(r, 50));
  const held = await Promise.all([1, 2, 3, 4].map(() => raw(t, b.port, '127.0.0.2')));
  const fifth = await raw(t, b.port, '127.0.0.2');
  const opened = Date.now();
  const closedAt = await Promise.race([fifth.closed, new Promise<number>((r) => setTimeout(() => r(-1), 2000))]);
  t.ok(closedAt > 0 && closedAt - opened < 500, `the fifth is closed at once (${closedAt - opened} ms)`);
  const other = await raw(t, b.port, '127.0.0.3');
  other.socket.write(connectPacket({ clientId: 'other', username: 'o', password: TOKEN }));
  t.equal(await other.connack(), 0, 'another address still logs in');
  held[0]!.socket.write(connectPacket({ clientId: 'h0', username: 'h', password: TOKEN }));
  t.equal(await held[0]!.connack(), 0, 'one of the four logs in: its place is freed');
  const again = await raw(t, b.port, '127.0.0.2');
  again.socket.write(connectPacket({ clientId: 'again', username: 'a', password: TOKEN }));
  t.equal(await again.connack(), 0, 'so a new connection from that address is accepted');
  t.match(warns(logs).filter((l) => /too many/.test(l.msg)), [{ address: '127.0.0.2', limit: 4, transport: 'tcp' }]);
  for (const h of held.slice(1)) t.notOk(h.socket.destroyed, 'the pending ones are still open');
});

t.test('a connection that does not log in within connectTimeoutSeconds is dropped', async (t) => {
  const { b, logs } = await broker(t, { connectTimeoutSeconds: 0.5 });
  const idle = await raw(t, b.port);
  const partial = await raw(t, b.port);
  const start = Date.now();
  const connect = connectPacket({ clientId: 'slow', username: 'u', password: TOKEN });
  partial.socket.write(connect.subarray(0, 10)); // the header and a little: the rest never comes
  const [a, p] = await Promise.all([idle.closed, partial.closed]);
  t.ok(a - start >= 400 && a - start < 1500, `silent connection dropped after ${a - start} ms`);
  t.ok(p - start >= 400 && p - start < 1500, `half a CONNECT dropped after ${p - start} ms`);
  t.equal(warns(logs).filter((l) => l.msg === 'MQTT connection closed: not logged in in time').length, 2, 'one line each');
  const ok = await raw(t, b.port);
  ok.socket.write(connect);
  t.equal(await ok.connack(), 0);
  await new Promise((r) => setTimeout(r, 800));
  t.notOk(ok.socket.destroyed, 'a logged-in client is not affected by the timeout');
});

t.test('refusals are logged at most a few times per address and minute, with user-controlled strings cut', async (t) => {
  const { b, logs, raw: lines } = await broker(t);
  const longId = 'i'.repeat(10_000);
  const longUser = 'u'.repeat(5_000);
  for (let i = 0; i < 20; i++) {
    const c = await raw(t, b.port);
    c.socket.write(connectPacket({ clientId: longId, username: longUser, password: 'wrong-wrong-wrong-wrong' }));
    t.equal(await c.connack(), 5);
  }
  const refused = warns(logs).filter((l) => /refused/.test(l.msg));
  t.equal(refused.length, 5, '20 refusals from one address: 5 lines this minute');
  for (const l of refused) {
    t.ok((l.client as string).length < 100 && (l.user as string).length < 100, 'client id and user name are cut');
  }
  const longest = Math.max(...lines.map((l) => l.length));
  t.ok(longest < 1024, `longest log line ${longest} bytes for a 10 000-character client id`);
});

t.test('over WebSocket the same limits apply', async (t) => {
  const port = await freePort();
  const { b, logs } = await broker(t, { maxPacketBytes: MB, connectTimeoutSeconds: 1 }, port);
  t.equal(b.wsPort, port);
  const url = `ws://127.0.0.1:${port}`;
  const open = async (): Promise<{ ws: WebSocket; closed: Promise<number> }> => {
    const ws = new WebSocket(url, 'mqtt');
    ws.on('error', () => undefined);
    t.teardown(() => ws.terminate());
    const closed = new Promise<number>((r) => ws.once('close', () => r(Date.now())));
    await new Promise((r) => ws.once('open', r));
    return { ws, closed };
  };

  const big = await open();
  const sent = Date.now();
  big.ws.send(fixedHeader(0x10, 128 * MB));
  const closedAfter = (await big.closed) - sent;
  t.ok(closedAfter < 1000, `a CONNECT announcing 128 MB is closed ${closedAfter} ms after its fixed header`);

  const flood = await open();
  flood.ws.send(Buffer.alloc(MB)); // one WebSocket message of 1 MiB before login
  await flood.closed;
  t.pass('1 MiB sent before login in one WebSocket message closes the connection');

  const idle = await open();
  const opened = Date.now();
  const idleAfter = (await idle.closed) - opened;
  t.ok(idleAfter >= 800 && idleAfter < 2500, `a WebSocket that never logs in is dropped after ${idleAfter} ms`);

  const c = await mqtt.connectAsync(url, { username: 'w', password: TOKEN, reconnectPeriod: 0 });
  t.teardown(() => c.endAsync(true));
  await c.subscribeAsync('w/#');
  const got = new Promise<number>((r) => c.once('message', (_t, p) => r(p.length)));
  await c.publishAsync('w/x', Buffer.alloc(MB / 2));
  t.equal(await got, MB / 2, 'after login a 512 KiB publish over WebSocket passes');

  const msgs = warns(logs).map((l) => l.msg);
  t.ok(msgs.includes('MQTT connection closed: connect packet over the size limit'));
  t.ok(msgs.includes('MQTT connection closed: too much data before login'));
  t.ok(msgs.includes('MQTT connection closed: not logged in in time'));
  t.match(warns(logs).find((l) => /too much data/.test(l.msg)), { transport: 'ws', limit: 16 * 1024 + WS_FRAMING_ALLOWANCE });
});

t.test('closing the broker ends connections that are still logging in', async (t) => {
  const logger = createLogger({ level: 'silent' });
  const b = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, wsPort: 0, auth: createTokenAuthenticator(TOKEN), logger, limits: { connectTimeoutSeconds: 30 } });
  const c = await openRaw(b.port);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(b.openConnections, 1);
  const start = Date.now();
  await b.close();
  await c.closed;
  t.ok(Date.now() - start < 1000, `closed in ${Date.now() - start} ms, not after the 30 s connect timeout`);
});

const MOSQUITTO = await new Promise<boolean>((r) => { execFile('mosquitto_pub', ['--help'], (err) => r(!(err && (err as NodeJS.ErrnoException).code === 'ENOENT'))); });

t.test('mosquitto_pub without the token is told "not authorised", and a too-long client id loses the connection', { skip: !MOSQUITTO && 'mosquitto_pub is not installed' }, async (t) => {
  const { b } = await broker(t);
  const pub = (args: string[]): Promise<{ code: number | null; stderr: string }> => new Promise((res) => {
    execFile('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(b.port), '-t', 'a/b', '-m', 'x', ...args], { timeout: 10_000 }, (err, _o, stderr) => {
      res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr: String(stderr) });
    });
  });
  const anon = await pub([]);
  t.match(anon.stderr, /Connection Refused: not authorised/, 'as docs/mqtt-api.md says');
  t.not(anon.code, 0);
  t.match((await pub(['-u', 'u', '-P', 'wrong-token-wrong-token'])).stderr, /not authorised/);
  t.equal((await pub(['-u', 'u', '-P', TOKEN])).code, 0, 'with the token it publishes');
  const long = await pub(['-u', 'u', '-P', TOKEN, '-i', 'c'.repeat(30_000)]);
  t.not(long.code, 0, 'a 30 000-character client id makes a CONNECT over 16 KiB: closed');
  t.match(long.stderr, /connection was lost/i);
});

t.test('through the packet stage a DISCONNECT right before the close still counts: no last will', async (t) => {
  const { b } = await broker(t);
  const url = `mqtt://127.0.0.1:${b.port}`;
  const watcher = await mqtt.connectAsync(url, { username: 'w', password: TOKEN, reconnectPeriod: 0 });
  t.teardown(() => watcher.endAsync(true));
  const wills: string[] = [];
  watcher.on('message', (topic) => wills.push(topic));
  await watcher.subscribeAsync('will/#');
  for (let i = 0; i < 10; i++) {
    const c = await mqtt.connectAsync(url, { username: 'n', password: TOKEN, reconnectPeriod: 0, clientId: `clean-${i}`, will: { topic: `will/clean-${i}`, payload: Buffer.from('gone'), qos: 0, retain: false } });
    await c.endAsync(); // DISCONNECT, then the socket ends
  }
  const lost = await mqtt.connectAsync(url, { username: 'n', password: TOKEN, reconnectPeriod: 0, clientId: 'lost', will: { topic: 'will/lost', payload: Buffer.from('gone'), qos: 0, retain: false } });
  lost.stream.destroy(); // no DISCONNECT
  for (let i = 0; i < 100 && !wills.includes('will/lost'); i++) await new Promise((r) => setTimeout(r, 20));
  t.same(wills, ['will/lost'], 'only the connection lost without DISCONNECT fires its will');
});
